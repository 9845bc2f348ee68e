"""Adaptive concurrency of one connection: additive increase while answers stay quick, multiplicative decrease
when the application says it is overloaded (AIMD, as TCP does with its window).

Each request takes a slot; at most :attr:`AdaptiveLimit.current` are in flight. When a request comes back:

- **overloaded** (429, any 5xx, a timeout, a dropped connection): the limit is multiplied by ``decrease`` — at most
  once per round trip, because the requests already in flight were sent at the old limit and would otherwise all
  count against the new one. The limit then stays low until answers come back well, so a rate-limited application
  is asked less often for a while instead of failing records;
- **answered** while answers are quick (their average within ``tolerance`` × the quickest recent one) and every slot
  was in use
  while it was in flight:
  the limit grows by ``1 / limit`` — about one more request in flight per round trip — up to ``maximum``;
- answered slowly, or with slots to spare: the limit stays (the application is the bottleneck, or the caller is).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

__all__ = ("AdaptiveLimit", "Room", "Slot")

log = logging.getLogger("koppel.http")

OK, OVERLOADED, NEUTRAL = "ok", "overloaded", "neutral"


class Room:
    """At most ``limit()`` holders at once, let in in the order they came; the limit is asked again whenever
    somebody leaves (a limit that grows lets more in, one that shrinks lets fewer in as holders leave)."""

    def __init__(self, limit: Callable[[], int]) -> None:
        self.limit = limit
        self.inside = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def enter(self, on_full: Callable[[], None] | None = None) -> None:
        """Wait for room and take it; ``on_full`` is called each time the room is found full."""
        while self.inside >= self.limit():
            if on_full is not None:
                on_full()
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # it was this one's turn: pass it on
                else:
                    # Still queued (a woken waiter was taken off already). Only here: a failed remove() formats
                    # the future's repr, which cost more than the rest of the room's bookkeeping together.
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(waiter)
                raise
        self.inside += 1

    def leave(self) -> None:
        self.inside -= 1
        self._wake()

    def _wake(self) -> None:
        room = self.limit() - self.inside
        while room > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                room -= 1


@dataclass
class Slot:
    """One request's place in the limit; the client sets :attr:`outcome` before leaving it."""

    started: float
    outcome: str = NEUTRAL


class AdaptiveLimit:
    """An AIMD limit on requests in flight.

    Args:
        initial: the limit to start with.
        minimum: never below this many in flight.
        maximum: never above.
        decrease: the factor applied on overload.
        tolerance: while the average latency is above this multiple of the baseline (the quickest answer of the
            last ``window_s`` seconds), the limit does not grow.
        window_s: how long the quickest answer is remembered (a lasting change of the application is learnt).
        slack_s: seconds of latency added to the tolerance: jitter of a few milliseconds is not overload.
        clock: monotonic seconds (tests pass their own).
        label: the application's name, for the log.
    """

    def __init__(
        self,
        initial: int = 8,
        *,
        minimum: int = 1,
        maximum: int = 32,
        decrease: float = 0.75,
        tolerance: float = 2.0,
        window_s: float = 30.0,
        slack_s: float = 0.01,
        clock: Callable[[], float] = time.monotonic,
        label: str = "the application",
    ) -> None:
        if not 1 <= minimum <= initial <= maximum:
            raise ValueError("the limits must satisfy 1 <= minimum <= initial <= maximum")
        if not 0 < decrease < 1:
            raise ValueError("decrease must be between 0 and 1")
        self.limit = float(initial)
        self.minimum = minimum
        self.maximum = maximum
        self.decrease = decrease
        self.tolerance = tolerance
        self.window_s = window_s
        self.slack_s = slack_s
        self._quickest: deque[tuple[float, float]] = deque()
        """(time, latency), latencies increasing: the front is the quickest answer within the window."""
        self._room = Room(lambda: self.current)
        self.peak = 0
        """The most requests ever in flight at once (for tests and benchmarks)."""
        self.baseline: float | None = None
        """The quickest latency of the last ``window_s`` seconds."""
        self.smoothed: float | None = None
        """A moving average of the latency: the length of a round trip."""
        self._clock = clock
        self._label = label
        self._last_decrease = -float("inf")
        self._full_at = -float("inf")
        """When every slot was last in use (a request in flight then may make the limit grow)."""

    @property
    def inflight(self) -> int:
        """Requests in flight now."""
        return self._room.inside

    @property
    def current(self) -> int:
        """Requests allowed in flight now."""
        return max(self.minimum, min(self.maximum, int(self.limit)))

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        """Wait for room, hold it during the request, learn from its outcome and latency."""
        await self._room.enter(on_full=self._note_full)
        self.peak = max(self.peak, self.inflight)
        if self.inflight >= self.current:
            self._note_full()
        slot = Slot(self._clock())
        try:
            yield slot
        finally:
            saturated = self._full_at >= slot.started
            self._learn(slot, self._clock() - slot.started, saturated)
            self._room.leave()  # room at the limit just learnt

    def _note_full(self) -> None:
        self._full_at = self._clock()

    def _learn(self, slot: Slot, latency: float, saturated: bool) -> None:
        if slot.outcome == OVERLOADED:
            self._back_off()
            return
        if slot.outcome != OK:
            return
        self.smoothed = latency if self.smoothed is None else self.smoothed * 0.9 + latency * 0.1
        now = self._clock()
        while self._quickest and self._quickest[-1][1] >= latency:
            self._quickest.pop()
        self._quickest.append((now, latency))
        while self._quickest[0][0] < now - self.window_s:
            self._quickest.popleft()
        self.baseline = self._quickest[0][1]
        quick = self.smoothed <= self.tolerance * self.baseline + self.slack_s
        if saturated and quick and self.limit < self.maximum:
            self.limit = min(float(self.maximum), self.limit + 1.0 / self.limit)

    def _back_off(self) -> None:
        now = self._clock()
        if now - self._last_decrease < max(self.smoothed or 0.0, 0.001):
            return  # this round trip's requests were sent at the old limit: one decrease per round trip
        self._last_decrease = now
        before = self.current
        self.limit = max(float(self.minimum), self.limit * self.decrease)
        if self.current < before:
            log.info("%s is overloaded: at most %d requests in flight for now", self._label, self.current)
