"""Adaptive concurrency against a local fake server: a rate-limited application slows the client down instead of
failing requests, a quick one gets more requests in flight, Retry-After is honoured; refusals that one lower limit
would not have avoided lower it once; a record waiting out a retry lends its place to the next."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from nodes.connectors.http import ApiClient, RetryPolicy
from nodes.connectors.limiter import HELD, OK, OVERLOADED, AdaptiveLimit, Room


@dataclass
class FakeServer:
    """A tiny HTTP/1.1 server (keep-alive) whose answer depends on how many requests are in flight.

    ``capacity``: more requests in flight than this get 429 with ``Retry-After: <retry_after>``.
    ``latency``: seconds per answer, given the number in flight.
    """

    capacity: int = 1000
    retry_after: str = "0"
    latency: Callable[[int], float] = lambda _inflight: 0.002
    fail_first: int = 0
    """The first N requests get ``fail_status`` (503: an outage)."""
    fail_status: int = 503
    workers: int | None = None
    """Requests processed at once; more wait in line (their latency grows with the line)."""
    inflight: int = 0
    peak: int = 0
    answered: dict[int, int] = field(default_factory=dict)
    requests: int = 0
    _line: asyncio.Semaphore | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                status, headers = await self._answer()
                self.answered[status] = self.answered.get(status, 0) + 1
                body = b"{}"
                extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                    f"{extra}\r\n".encode()
                    + body
                )
                await writer.drain()
        writer.close()

    async def _answer(self) -> tuple[int, dict[str, str]]:
        self.requests += 1
        if self.requests <= self.fail_first:
            return self.fail_status, {}
        self.inflight += 1
        self.peak = max(self.peak, self.inflight)
        try:
            if self.inflight > self.capacity:
                return 429, {"Retry-After": self.retry_after}
            if self.workers is None:
                await asyncio.sleep(self.latency(self.inflight))
            else:
                if self._line is None:
                    self._line = asyncio.Semaphore(self.workers)
                async with self._line:
                    await asyncio.sleep(self.latency(self.inflight))
            return 200, {}
        finally:
            self.inflight -= 1


@contextlib.asynccontextmanager
async def serve(server: FakeServer) -> AsyncIterator[str]:
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        listener.close()
        await listener.wait_closed()


async def _fire(client: ApiClient, total: int, tasks: int, method: str = "POST") -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for number in range(total):
        queue.put_nowait(number)

    async def worker() -> None:
        while not queue.empty():
            queue.get_nowait()
            await client.request(method, "/things", json={"n": 1} if method == "POST" else None)

    await asyncio.gather(*(worker() for _ in range(tasks)))


async def _rate_limited_run(*, adaptive: bool) -> FakeServer:
    server = FakeServer(capacity=4, retry_after="0", latency=lambda _inflight: 0.02)
    async with serve(server) as url:
        # (the fixed client needs many more attempts: its requests keep meeting a full application; with
        # Retry-After: 0 a refused request goes out again at once, so the attempts follow the speed of a round trip
        # in this process, not the application's time)
        client = ApiClient(url, retry=RetryPolicy(max_attempts=30 if adaptive else 1000, base_delay=0.01))
        if not adaptive:
            client.limiter = AdaptiveLimit(8, minimum=8, maximum=8)  # a fixed 8 in flight, for comparison
        try:
            await _fire(client, 300, tasks=32)  # every request must succeed: a 429 is never the record's end
        finally:
            await client.aclose()
    return server


async def test_a_rate_limited_application_slows_the_client_down_instead_of_failing_requests() -> None:
    fixed = await _rate_limited_run(adaptive=False)
    adaptive = await _rate_limited_run(adaptive=True)
    assert adaptive.answered[200] == fixed.answered[200] == 300
    # the adaptive client asks less often than the application refuses (at most 4 at once are accepted)
    assert adaptive.answered.get(429, 0) < fixed.answered.get(429, 0) / 2, (adaptive.answered, fixed.answered)


async def test_a_quick_application_gets_more_requests_in_flight() -> None:
    server = FakeServer(latency=lambda _inflight: 0.003)
    async with serve(server) as url:
        client = ApiClient(url)
        try:
            await _fire(client, 600, tasks=48)
        finally:
            await client.aclose()
    assert client.concurrency == 8
    assert client.limiter.peak > 8 and server.peak > 8, "grew past the start of 8 while latency held"
    assert client.limiter.current <= 32


async def test_latency_that_grows_with_load_stops_the_growth() -> None:
    # the application works on 4 requests at once, 10 ms each; more wait in line, so their answers take longer
    server = FakeServer(workers=4, latency=lambda _inflight: 0.01)
    async with serve(server) as url:
        client = ApiClient(url)
        try:
            await _fire(client, 400, tasks=48)
        finally:
            await client.aclose()
    # growth stops once answers take about twice as long as the quickest (a line as long as the workers)
    assert client.limiter.current <= 20, f"kept near the knee, not at {client.limiter.current}"


async def test_an_outage_lowers_the_concurrency_for_a_while() -> None:
    server = FakeServer(fail_first=40, latency=lambda _inflight: 0.02)
    async with serve(server) as url:
        client = ApiClient(url, retry=RetryPolicy(max_attempts=8, base_delay=0.005, max_delay=0.02))
        try:
            await _fire(client, 16, tasks=16, method="GET")
            lowered = client.limiter.current
            assert lowered < 8
            await _fire(client, 300, tasks=16, method="GET")  # answers are good again: the limit climbs back
        finally:
            await client.aclose()
    assert server.answered[200] == 316
    assert client.limiter.current > lowered


async def test_plain_server_errors_do_not_lower_the_concurrency() -> None:
    """A 500 is the application's own fault, not its load: the client retries it without asking less of it."""
    server = FakeServer(fail_first=40, fail_status=500, latency=lambda _inflight: 0.02)
    async with serve(server) as url:
        client = ApiClient(url, retry=RetryPolicy(max_attempts=8, base_delay=0.005, max_delay=0.02))
        try:
            await _fire(client, 16, tasks=16, method="GET")
        finally:
            await client.aclose()
    assert server.answered[500] == 40 and server.answered[200] == 16
    assert client.limiter.current >= 8


async def test_retry_after_is_honoured_on_a_real_connection() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    server = FakeServer(capacity=0, retry_after="7")
    async with serve(server) as url:
        client = ApiClient(url, sleep=sleep, retry=RetryPolicy(max_attempts=3, max_total_wait=60))
        try:
            with pytest.raises(Exception, match="429"):
                await client.request("GET", "/things")
        finally:
            await client.aclose()
    assert waits == [7.0, 7.0]


def test_the_limit_decreases_once_per_round_trip_and_grows_by_one_per_round_trip() -> None:
    now = [0.0]
    limit = AdaptiveLimit(8, clock=lambda: now[0])

    async def one(outcome: str, latency: float) -> None:
        async with limit.slot() as slot:
            now[0] += latency
            slot.outcome = outcome

    async def scenario() -> None:
        # 8 answers in one round trip, saturated: about +1
        async def round_trip(outcome: str) -> None:
            slots = [limit.slot() for _ in range(limit.current)]
            entered = [await s.__aenter__() for s in slots]
            now[0] += 0.1
            for slot, ctx in zip(entered, slots, strict=True):
                slot.outcome = outcome
                await ctx.__aexit__(None, None, None)

        await round_trip(OK)
        assert 8.9 < limit.limit < 9.1
        await round_trip(OVERLOADED)  # nine overloaded answers in one round trip: one decrease
        assert limit.current == 6
        now[0] += 1.0
        await one(OVERLOADED, 0.1)
        assert limit.current == 5
        for _ in range(200):
            await one(OVERLOADED, 0.2)
        assert limit.current == 1, "never below the minimum"

    asyncio.run(scenario())


def _clocked(initial: int = 8) -> tuple[AdaptiveLimit, list[float]]:
    now = [0.0]
    return AdaptiveLimit(initial, clock=lambda: now[0]), now


async def _answer(
    limit: AdaptiveLimit, now: list[float], outcome: str, latency: float, judged_for: float = 0.0
) -> None:
    async with limit.slot() as slot:
        now[0] += latency
        slot.outcome = outcome
        slot.judged_for = judged_for


def test_the_refusals_of_one_retry_after_period_lower_the_limit_once() -> None:
    """An application that answers 429 with Retry-After: 1 judged the requests of that second at once."""
    limit, now = _clocked()

    async def scenario() -> None:
        await _answer(limit, now, OVERLOADED, 0.01, judged_for=1.0)
        assert limit.current == 6
        for _ in range(20):  # each sent after the decrease, within the second the application named
            await _answer(limit, now, OVERLOADED, 0.01, judged_for=1.0)
        assert limit.current == 6
        now[0] += 1.0
        await _answer(limit, now, OVERLOADED, 0.01, judged_for=1.0)
        assert limit.current == 4

    asyncio.run(scenario())


def test_an_overload_answer_to_a_request_sent_before_the_last_decrease_does_not_lower_the_limit_again() -> None:
    """A timeout comes back long after its request left: it was sent at the limit that has already been lowered."""
    limit, now = _clocked()

    async def scenario() -> None:
        slow = limit.slot()
        slow_slot = await slow.__aenter__()  # a request that will time out
        now[0] += 0.1
        await _answer(limit, now, OVERLOADED, 0.01)
        assert limit.current == 6
        now[0] += 1.0
        slow_slot.outcome = OVERLOADED
        await slow.__aexit__(None, None, None)
        assert limit.current == 6
        await _answer(limit, now, OVERLOADED, 0.01)  # sent after the decrease: it counts
        assert limit.current == 4

    asyncio.run(scenario())


def test_after_a_retry_after_period_the_limit_grows_back_to_where_it_was_while_answers_stay_as_slow() -> None:
    """Answers slower than the quickest one keep the limit from growing, but not from coming back to where a 429
    with Retry-After found it (a busy machine, an application that refuses a share of requests at random)."""
    limit, now = _clocked()

    async def round_trip(latency: float) -> None:
        slots = [limit.slot() for _ in range(limit.current)]
        entered = [await s.__aenter__() for s in slots]
        now[0] += latency
        for slot, ctx in zip(entered, slots, strict=True):
            slot.outcome = OK
            await ctx.__aexit__(None, None, None)

    async def scenario() -> None:
        await _answer(limit, now, OK, 0.002)  # the quickest answer: the baseline
        for _ in range(5):
            await round_trip(0.05)
        assert limit.current == 8, "answers 25 times the quickest: no growth"
        await _answer(limit, now, OVERLOADED, 0.05, judged_for=1.0)
        assert limit.current == 6
        for _ in range(10):
            await round_trip(0.05)
        assert limit.current == 8, "back where it was, and no further while answers are slow"
        now[0] += limit.window_s
        await _answer(limit, now, OK, 0.002)  # still as quick at best
        await _answer(limit, now, OVERLOADED, 0.05, judged_for=1.0)
        assert limit.current == 6
        for _ in range(10):
            await round_trip(0.05)
        assert limit.current == 8, "the level it was pushed down from is remembered anew"

    asyncio.run(scenario())


def test_a_holder_that_only_waits_lends_its_place() -> None:
    async def scenario() -> None:
        room = Room(lambda: 2)
        await room.enter()
        await room.enter()
        third = asyncio.ensure_future(room.enter())
        await asyncio.sleep(0)
        assert not third.done()
        with room.stepped_away():
            await asyncio.sleep(0)
            assert third.done(), "the waiting holder's place went to the next in line"
            fourth = asyncio.ensure_future(room.enter())
            await asyncio.sleep(0)
            assert not fourth.done(), "one place lent for one holder away"
        assert room.inside == 3, "back, the holder goes on without waiting"
        room.leave()
        await asyncio.sleep(0)
        assert not fourth.done(), "nobody enters while more are inside than the limit"
        room.leave()
        await asyncio.sleep(0)
        assert fourth.done()

    asyncio.run(scenario())


def test_a_room_lends_at_most_its_limit() -> None:
    async def scenario() -> None:
        room = Room(lambda: 1)
        await room.enter()
        with room.stepped_away():
            await room.enter()
            with room.stepped_away():
                third = asyncio.ensure_future(room.enter())
                await asyncio.sleep(0)
                assert not third.done(), "at most twice the limit inside"
                third.cancel()

    asyncio.run(scenario())


async def test_a_record_waiting_out_retry_after_lends_its_place_among_the_records_in_flight() -> None:
    records = Room(lambda: 1)
    seen: list[tuple[int, int]] = []
    both_waiting = asyncio.Event()

    async def sleep(seconds: float) -> None:
        seen.append((records.inside, records.away))
        if records.away == 2:
            both_waiting.set()
        await asyncio.wait_for(both_waiting.wait(), 5)

    async def record() -> None:
        await records.enter()
        HELD.set(records)
        try:
            with contextlib.suppress(Exception):
                await client.request("GET", "/things")
        finally:
            records.leave()

    server = FakeServer(capacity=0, retry_after="1")
    async with serve(server) as url:
        client = ApiClient(url, sleep=sleep, retry=RetryPolicy(max_attempts=2))
        try:
            await asyncio.gather(record(), record())
        finally:
            await client.aclose()
    assert seen == [(1, 1), (2, 2)], "the first record waited, lending its place: the second started meanwhile"
