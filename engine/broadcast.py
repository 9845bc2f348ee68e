"""Wake-up signals for live log streams: "run X has new log entries".

The log entries themselves are read from the database (so any web server can stream any run); this only tells a
waiting stream to look now instead of at its next poll. In-process: an asyncio condition per run. With Redis: a
pub/sub channel, so a worker on another machine wakes a web server here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from typing import Any

__all__ = ("Broadcaster", "LocalBroadcaster", "RedisBroadcaster", "get_broadcaster", "set_broadcaster")

CHANNEL = "koppel:runs"


class Broadcaster:
    async def notify(self, run_id: str) -> None:
        raise NotImplementedError

    async def wait(self, run_id: str, timeout: float) -> bool:
        """Wait until ``run_id`` is notified or ``timeout`` passes; True when notified."""
        raise NotImplementedError

    async def close(self) -> None:
        pass


class LocalBroadcaster(Broadcaster):
    def __init__(self) -> None:
        self._events: dict[str, set[asyncio.Event]] = defaultdict(set)

    def _wake(self, run_id: str) -> None:
        for event in list(self._events.get(run_id, ())):
            event.set()

    async def notify(self, run_id: str) -> None:
        self._wake(run_id)

    async def wait(self, run_id: str, timeout: float) -> bool:
        event = asyncio.Event()
        self._events[run_id].add(event)
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
            return True
        except TimeoutError:
            return False
        finally:
            self._events[run_id].discard(event)
            if not self._events[run_id]:
                self._events.pop(run_id, None)


class RedisBroadcaster(LocalBroadcaster):
    """Publishes to Redis and relays what any process published to this process' waiters."""

    def __init__(self, redis: Any) -> None:
        super().__init__()
        self._redis = redis
        self._listener: asyncio.Task[None] | None = None

    async def notify(self, run_id: str) -> None:
        with contextlib.suppress(Exception):
            await self._redis.publish(CHANNEL, run_id)

    async def wait(self, run_id: str, timeout: float) -> bool:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen())
        return await super().wait(run_id, timeout)

    async def _listen(self) -> None:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(CHANNEL)
        try:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    data = message["data"]
                    self._wake(data.decode() if isinstance(data, bytes) else str(data))
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(BaseException):
                await self._listener


_current: Broadcaster = LocalBroadcaster()


def get_broadcaster() -> Broadcaster:
    return _current


def set_broadcaster(broadcaster: Broadcaster) -> None:
    global _current
    _current = broadcaster
