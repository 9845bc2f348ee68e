"""Per-run helpers kept in ``ctx.cache``: a bounded memo and locks per key that disappear when nobody holds them.

A run over 100,000 orders must not keep 100,000 debtors in memory, yet two orders of the same customer processed at
the same time must not create two debtors. :class:`KeyedLocks` serialises work per key (e-mail) and forgets a lock
as soon as its last holder or waiter is gone; :class:`BoundedMemo` remembers the most recent answers only.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Generic, TypeVar

__all__ = ("BoundedMemo", "KeyedLocks", "once_per_run", "run_scoped")

T = TypeVar("T")
_MISSING = object()


class KeyedLocks:
    """One :class:`asyncio.Lock` per key, alive only while somebody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def hold(self, key: str) -> _Held:
        """Hold the key's lock for the ``async with`` body."""
        return _Held(self, key)

    def _join(self, key: str) -> asyncio.Lock:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        return lock

    def _leave(self, key: str) -> None:
        lock, users = self._locks[key]
        if users <= 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class _Held:
    """``async with locks.hold(key)``: joins the key's users, holds its lock, leaves (even when cancelled waiting)."""

    __slots__ = ("key", "lock", "locks")

    def __init__(self, locks: KeyedLocks, key: str) -> None:
        self.locks = locks
        self.key = key
        self.lock: asyncio.Lock | None = None

    async def __aenter__(self) -> None:
        lock = self.locks._join(self.key)
        try:
            await lock.acquire()
        except BaseException:
            self.locks._leave(self.key)
            raise
        self.lock = lock

    async def __aexit__(self, *exc: object) -> None:
        assert self.lock is not None
        self.lock.release()
        self.locks._leave(self.key)


class BoundedMemo(Generic[T]):
    """A least-recently-used memo of at most ``size`` entries."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._items: OrderedDict[str, T] = OrderedDict()

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """The remembered value (refreshing its place), or ``default``."""
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        return None if default is _MISSING else default

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def put(self, key: str, value: T) -> None:
        """Remember ``value``, forgetting the oldest entry when full."""
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def run_scoped(cache: MutableMapping[str, Any], key: str, factory: Callable[[], T]) -> T:
    """The object under ``key`` in the run's cache, made by ``factory()`` the first time."""
    value = cache.get(key)
    if value is None:
        value = factory()
        cache[key] = value
    return value


async def once_per_run(cache: MutableMapping[str, Any], key: str, build: Callable[[], Awaitable[T]]) -> T:
    """``await build()``, once per run and shared by the records: concurrent ones wait for the first; a failure is
    not kept, so the next record asks again."""
    if key not in cache:
        async with run_scoped(cache, f"{key}:lock", asyncio.Lock):
            if key not in cache:
                cache[key] = await build()
    value: T = cache[key]
    return value
