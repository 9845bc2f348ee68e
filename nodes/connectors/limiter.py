"""Adaptive concurrency of one connection: additive increase while answers stay quick, multiplicative decrease
when the application says it is overloaded (AIMD, as TCP does with its window).

Each request takes a slot; at most :attr:`AdaptiveLimit.current` are in flight. When a request comes back:

- **overloaded** (429, 503, 504, a timeout, a dropped connection): the limit is multiplied by ``decrease`` — once
  per round trip: an answer to a request sent before the last decrease was sent at the old limit and does not count
  again (a timeout comes back long after). A 429 or 503 with ``Retry-After`` lowers it at most once per that period:
  the application judged the requests of that period at once. The refused request itself waits out the period;
- **answered** while answers are quick (their average within ``tolerance`` × the quickest recent one) and every slot
  was in use while it was in flight: the limit grows by ``1 / limit`` — about one more request in flight per round
  trip — up to ``maximum``. Up to the limit that an answer naming a period last pushed down (remembered for
  ``window_s``), it grows back so even while answers are slower than the quickest: that many in flight were already
  found quick, and an application that refuses a share of requests at random, not by the load, would otherwise
  ratchet it down for good;
- answered slowly, or with slots to spare: the limit stays (the application is the bottleneck, or the caller is).

Under mixed faults at random (tests/engine/test_mixed_faults.py: 12 % 429 with Retry-After: 1, 9 % 5xx, 1 %
timeouts, 1 % drops) the Asperion limit averaged 1.8 in flight without the period and grow-back rules (160 decreases
in the first run, about 20 records waiting for a request slot at any time); with them 4.7-6 (about 55 decreases),
where the clean run on the same loaded machine held 8-9.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ("HELD", "AdaptiveLimit", "Room", "Slot", "away")

log = logging.getLogger("koppel.http")

OK, OVERLOADED, NEUTRAL = "ok", "overloaded", "neutral"


class Room:
    """At most ``limit()`` holders at once, let in in the order they came; the limit is asked again whenever
    somebody leaves (a limit that grows lets more in, one that shrinks lets fewer in as holders leave).

    A holder that only waits (a retry's backoff, a Retry-After) can step away (:meth:`stepped_away`): meanwhile its
    place is lent to the next in line, up to ``limit()`` places lent at once, so at most twice the limit are inside.
    Back, it goes on without waiting; the room lets nobody else in until enough holders have left."""

    def __init__(self, limit: Callable[[], int]) -> None:
        self.limit = limit
        self.inside = 0
        self.away = 0
        """Holders inside that are only waiting now (:meth:`stepped_away`)."""
        self._waiters: deque[asyncio.Future[None]] = deque()

    def _capacity(self) -> int:
        limit = self.limit()
        return limit + min(self.away, limit) if self.away else limit

    @contextlib.contextmanager
    def stepped_away(self) -> Iterator[None]:
        """A holder waits without working: its place is lent meanwhile (see the class)."""
        self.away += 1
        self._wake()
        try:
            yield
        finally:
            self.away -= 1

    async def enter(self, on_full: Callable[[], None] | None = None) -> None:
        """Wait for room and take it; ``on_full`` is called each time the room is found full."""
        while self.inside >= self._capacity():
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
        room = self._capacity() - self.inside
        while room > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                room -= 1


HELD: ContextVar[Room | None] = ContextVar("koppel_held_room", default=None)
"""The room whose place the current task holds while it works (a run's records in flight), if any."""


@contextlib.contextmanager
def away() -> Iterator[None]:
    """The current task only waits now (a retry's backoff): the place it holds in :data:`HELD` is lent meanwhile."""
    room = HELD.get()
    if room is None:
        yield
        return
    with room.stepped_away():
        yield


@dataclass
class Slot:
    """One request's place in the limit; the client sets :attr:`outcome` before leaving it."""

    started: float
    outcome: str = NEUTRAL
    judged_for: float = 0.0
    """Seconds an overload answer says the application's verdict holds (its ``Retry-After``): the refusals within
    that period are one verdict, and lower the limit once."""


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
        self._held = 0.0
        """The limit that an answer naming a period (``Retry-After``) last pushed down, remembered for ``window_s``
        seconds from :attr:`_held_at`: up to it the limit grows back without the latency check."""
        self._held_at = -float("inf")
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
            self._back_off(slot)
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
        quick = self.limit < self._held and now - self._held_at < self.window_s
        quick = quick or self.smoothed <= self.tolerance * self.baseline + self.slack_s
        if saturated and quick and self.limit < self.maximum:
            self.limit = min(float(self.maximum), self.limit + 1.0 / self.limit)

    def _back_off(self, slot: Slot) -> None:
        now = self._clock()
        if slot.started <= self._last_decrease or now - self._last_decrease < slot.judged_for:
            # a request sent before the last decrease was sent at the old limit, and an application that said when
            # to come back has judged the requests of that period at once: one decrease per round trip, and per
            # such period
            return
        if slot.judged_for > 0:
            self._held, self._held_at = self.limit, now
        self._last_decrease = now
        before = self.current
        self.limit = max(float(self.minimum), self.limit * self.decrease)
        if self.current < before:
            log.info("%s is overloaded: at most %d requests in flight for now", self._label, self.current)
