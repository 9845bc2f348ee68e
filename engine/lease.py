"""A worker's lease on a run, fenced by a token: the run's attempt number, raised by every claim.

Every write a worker makes for a run — heartbeat, log batch with its idempotency rows and counts, cursor, the run's
end — runs in a transaction that first updates the run row *where the attempt is still this worker's*
(:meth:`Lease.fence`). When another worker has claimed the run meanwhile, that update touches no row, the
transaction is rolled back and the worker learns it lost the lease (:class:`LeaseLost`). Delivery intents only add
doubt, so their write checks the same condition without locking the row (:meth:`Lease.confirm`).

A worker also must not *send* anything once its lease may have passed to another worker, even before a write tells
it so (a worker frozen by SIGSTOP wakes up mid-delivery). Its heartbeat is what keeps others away: nobody claims the
run before ``heartbeat_at + stale_after_s``, and ``heartbeat_at`` is written after the worker read its monotonic
clock. So the lease is certainly still ours until that reading plus ``stale_after_s`` (less a margin) — once that
heartbeat is *committed*: until then another worker sees the one before it, and may claim the run by it (after
ending the sessions of a worker whose open transaction holds the run row). :meth:`Lease.ensure` is that cheap check,
and renews the lease through the database when the time is up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Integer, Table, bindparam, select, update

from engine.models import Run, RunStatus, utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from engine.db import Database

__all__ = ("Lease", "LeaseLost")

log = logging.getLogger("koppel.lease")
_RUN = cast(Table, Run.__table__)


class LeaseLost(Exception):
    """Another worker holds the run now (or the lease could not be confirmed): stop, write and send nothing more."""


class Lease:
    """The lease of one claimed run.

    Args:
        db: the database.
        run_id: the run.
        token: the run's ``attempt`` as this worker's claim set it.
        stale_after_s: how long after the last heartbeat others may claim the run.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        db: Database,
        run_id: str,
        token: int,
        *,
        stale_after_s: float,
        clock: Callable[[], float] = time.monotonic,
        claimed_at: float | None = None,
    ) -> None:
        self.db = db
        self.run_id = run_id
        self.token = token
        self.clock = clock
        # A margin for the clocks of two machines, and for the application to have handled the last request this
        # worker sent before another worker may claim the run and ask the application what is there.
        self.valid_for = stale_after_s * 2 / 3
        self.valid_until = (claimed_at if claimed_at is not None else clock()) + self.valid_for
        self.lost = False
        self._renewing = asyncio.Lock()
        self._fences: dict[tuple[str, ...], Any] = {}
        """The fences :meth:`hold` built, by the names of their values."""

    def fence(self, **values: Any) -> Any:
        """The run-row update that every write of this worker for the run starts its transaction with."""
        return (
            update(_RUN)
            .where(_RUN.c.id == self.run_id, _RUN.c.attempt == self.token, _RUN.c.status == RunStatus.RUNNING)
            .values(**values)
        )

    async def hold(self, conn: AsyncConnection, *, added: Mapping[str, int] | None = None, **values: Any) -> float:
        """Execute the fence (with ``values`` for the run row, and ``added`` to its counters) in ``conn``'s
        transaction.

        Returns:
            the clock reading before the heartbeat was stamped: pass it to :meth:`held` once the transaction has
            committed (the lease is not extended before: an uncommitted heartbeat keeps nobody away).

        Raises:
            LeaseLost: the run is no longer this worker's; the caller's transaction must be rolled back.
        """
        started = self.clock()
        if added is None:
            statement = self.fence(heartbeat_at=utcnow(), **values)
            result = await conn.execute(statement)
        else:
            # A log batch's fence, once per batch: built once, with the numbers bound (building it took longer than
            # executing it).
            names = (*values, *(f"add_{name}" for name in added))
            statement = self._fences.get(names)
            if statement is None:
                bound: dict[str, Any] = {name: bindparam(f"set_{name}", type_=_RUN.c[name].type) for name in values}
                bound.update({name: _RUN.c[name] + bindparam(f"add_{name}", type_=Integer) for name in added})
                beat = bindparam("set_heartbeat_at", type_=_RUN.c.heartbeat_at.type)
                statement = self._fences[names] = self.fence(heartbeat_at=beat, **bound)
            params = {f"set_{name}": value for name, value in values.items()}
            params.update({f"add_{name}": n for name, n in added.items()}, set_heartbeat_at=utcnow())
            result = await conn.execute(statement, params)
        if result.rowcount != 1:
            self.lose()
            raise LeaseLost(f"run {self.run_id}: attempt {self.token} no longer holds the run")
        return started

    def held(self, started: float) -> None:
        """The transaction of a :meth:`hold` begun at ``started`` committed: heartbeat_at was stamped after
        ``started``, so nobody claims the run before ``started + stale_after_s``."""
        self.valid_until = max(self.valid_until, started + self.valid_for)

    async def confirm(self, conn: AsyncConnection) -> None:
        """Check in ``conn``'s transaction that the run is still this worker's, without locking the run row.

        For writes that only add doubt — delivery intents: one noted by a worker that has just lost the run makes
        the next attempt ask the application about that record, nothing worse. They need not wait for the row lock
        of a log batch being written (on PostgreSQL that wait held up every page behind the log writer), and they do
        not extend the time the lease is certain (the heartbeat and the fenced writes do).

        Raises:
            LeaseLost: the run is no longer this worker's.
        """
        held = (
            await conn.execute(
                select(_RUN.c.id).where(
                    _RUN.c.id == self.run_id, _RUN.c.attempt == self.token, _RUN.c.status == RunStatus.RUNNING
                )
            )
        ).first()
        if held is None:
            self.lose()
            raise LeaseLost(f"run {self.run_id}: attempt {self.token} no longer holds the run")

    def lose(self) -> None:
        if not self.lost:
            log.warning("run %s: attempt %s lost its lease; stopping", self.run_id, self.token)
        self.lost = True

    def expired(self) -> bool:
        """Whether the time this worker may be sure of its lease is over (it may still hold it: renew to know)."""
        return self.clock() >= self.valid_until

    def check(self) -> None:
        """Raise :class:`LeaseLost` when the lease is known lost or its time is over (no database access)."""
        if self.lost:
            raise LeaseLost(f"run {self.run_id}: attempt {self.token} lost its lease")
        if self.expired():
            raise LeaseLost(f"run {self.run_id}: attempt {self.token} could not confirm its lease in time")

    def check_at_wire(self) -> None:
        """The last check, as a request's bytes go out: past its time the lease counts as lost (no renewal can
        happen here, and a worker that stalled this long must not send: another one may hold the run)."""
        if not self.lost and self.expired():
            self.lose()
        self.check()

    async def ensure(self) -> None:
        """Return only while the lease is certainly this worker's: the clock says so, or a renewal just did."""
        if self.lost:
            self.check()
        if not self.expired():
            return
        await self.renew()
        self.check()

    async def renew(self, *, force: bool = False) -> None:
        """Touch the heartbeat, fenced; extends the time the lease is certain (one renewal at a time).

        Args:
            force: write even when the lease is not expired (the periodic heartbeat).

        Raises:
            LeaseLost: another worker holds the run.
        """
        async with self._renewing:
            if self.lost:
                self.check()
            if not force and not self.expired():
                return  # a concurrent caller renewed it meanwhile
            async with self.db.writing() as conn:
                started = await self.hold(conn)
            self.held(started)
