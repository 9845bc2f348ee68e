"""Test doubles for node tests: a tiny NodeContext and an in-memory Asperion with the client's helper methods."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from nodes.base import Deliveries, Record
from nodes.connectors.http import ValidationFailed


class FakeCursor:
    def __init__(self) -> None:
        self.value: str | None = None

    async def get(self) -> str | None:
        return self.value

    async def set(self, value: str) -> None:
        self.value = value


class FakeContext:
    """What the engine offers a node, with the clients given by connection name."""

    def __init__(self, clients: Mapping[str, Any], *, dry_run: bool = False) -> None:
        self.flow_key = "test-flow"
        self.run_id = "run-1"
        self.dry_run = dry_run
        self.params: dict[str, Any] = {}
        self.cache: dict[str, Any] = {}
        self._clients = dict(clients)

    def client(self, connection: str) -> Any:
        return self._clients[connection]

    def cursor(self, node_id: str) -> FakeCursor:
        return FakeCursor()

    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)

    async def deliveries(self, source_ids: Sequence[str], *, after: Any) -> Deliveries:
        return Deliveries()  # no flow records: the node asks the application


class FakeAsperion:
    """Debtors in memory, with the AsperionClient's debtor helpers; counts every call."""

    def __init__(self, debtors: list[dict[str, Any]] | None = None, *, latency: float = 0.0) -> None:
        self.debtors = [dict(d) for d in debtors or []]
        self.calls: list[tuple[str, Any]] = []
        self.latency = latency
        self.next_number = 10000

    async def _pause(self) -> None:
        # Yield to the loop so concurrent records really interleave (not a wait for a race).
        await asyncio.sleep(self.latency)

    async def find_debtor_by_email(self, email: str) -> dict[str, Any] | None:
        self.calls.append(("find_email", email))
        await self._pause()
        for debtor in self.debtors:
            if str(debtor.get("emailAddress") or "").strip().casefold() == email.strip().casefold():
                return dict(debtor)
        return None

    async def find_debtor_by_customer_number(self, number: str) -> dict[str, Any] | None:
        self.calls.append(("find_number", number))
        await self._pause()
        return next((dict(d) for d in self.debtors if d.get("customerNumber") == number), None)

    async def create_debtor(self, debtor: Mapping[str, Any]) -> dict[str, Any]:
        self.calls.append(("create", dict(debtor)))
        await self._pause()
        if not debtor.get("name"):
            raise ValidationFailed(400, "Asperion answered 400: invalid — Name: required", field_errors={"Name": ["x"]})
        self.next_number += 1
        created = {**debtor, "id": len(self.debtors) + 1, "customerNumber": str(self.next_number)}
        self.debtors.append(created)
        return dict(created)

    async def update_debtor(self, debtor_id: int | str, debtor: Mapping[str, Any]) -> dict[str, Any]:
        self.calls.append(("update", (debtor_id, dict(debtor))))
        await self._pause()
        for index, existing in enumerate(self.debtors):
            if str(existing["id"]) == str(debtor_id):
                self.debtors[index] = {**existing, **debtor}
                return dict(self.debtors[index])
        raise AssertionError(f"no debtor {debtor_id}")

    def count(self, kind: str) -> int:
        return sum(1 for name, _ in self.calls if name == kind)


def order_record(order: dict[str, Any], data: dict[str, Any] | None = None) -> Record:
    """A record as the map node leaves it: invoice-ish data, the order as source."""
    return Record(
        key=str(order.get("number") or order.get("id")),
        source_id=f"order:{order.get('id')}",
        data=data if data is not None else {"description": f"WooCommerce order {order.get('number')}"},
        source=order,
    )
