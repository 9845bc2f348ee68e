"""The asperion.lookup_debtor node around its decisions: calls made, context and data set, dry run, concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from nodes.base import RecordFailed
from nodes.lookups.asperion_debtor import NEW_DEBTOR, LookupDebtor, LookupDebtorConfig
from nodes.registry import get_node_type
from tests.lookups.test_debtor_rules import FOUND, order
from tests.targets.fakes import FakeAsperion, FakeContext, order_record

DEFAULT = {"id": 1, "customerNumber": "9999", "name": "WooCommerce consumenten", "emailAddress": ""}


def node(asperion: FakeAsperion, *, dry_run: bool = False, **config: Any) -> LookupDebtor:
    return LookupDebtor("debtor", LookupDebtorConfig(**config), FakeContext({"asperion": asperion}, dry_run=dry_run))


def test_registered_as_a_lookup() -> None:
    assert get_node_type("asperion.lookup_debtor") is LookupDebtor
    schema = LookupDebtor.describe()["config_schema"]
    assert schema["properties"]["default_debtor"]["default"] == "9999"


async def test_guest_gets_the_default_debtor_checked_once_per_run() -> None:
    asperion = FakeAsperion([DEFAULT])
    lookup = node(asperion)
    first = await lookup.process(order_record(order(customer_id=0)))
    second = await lookup.process(order_record(order(customer_id=0, id=102)))
    assert first.data["debtorCustomerNumber"] == "9999"
    assert second.data["debtorCustomerNumber"] == "9999"
    assert first.context["debtor"]["kind"] == "default"
    assert first.context["debtor"]["name"] == "WooCommerce consumenten"
    assert asperion.count("find_number") == 1
    assert asperion.count("find_email") == 0


async def test_concurrent_guests_share_one_default_debtor_lookup() -> None:
    asperion = FakeAsperion([DEFAULT])
    lookup = node(asperion)
    records = [order_record(order(customer_id=0, id=200 + i)) for i in range(8)]
    results = await asyncio.gather(*(lookup.process(record) for record in records))
    assert {r.data["debtorCustomerNumber"] for r in results} == {"9999"}
    assert asperion.count("find_number") == 1


async def test_a_default_debtor_missing_in_asperion_fails_clearly() -> None:
    with pytest.raises(RecordFailed, match="default debtor 9999 does not exist"):
        await node(FakeAsperion([])).process(order_record(order(customer_id=0)))


async def test_found_debtor_is_used_and_the_record_keeps_its_data() -> None:
    asperion = FakeAsperion([FOUND])
    record = order_record(order())
    result = await node(asperion).process(record)
    assert result.data == {"description": "WooCommerce order 101", "debtorCustomerNumber": "10001"}
    assert record.data == {"description": "WooCommerce order 101"}  # the input record is not changed
    debtor = result.context["debtor"]
    assert (debtor["customerNumber"], debtor["created"], debtor["updated"]) == ("10001", False, False)
    assert asperion.count("create") == asperion.count("update") == 0


async def test_found_debtor_is_updated_with_the_full_object() -> None:
    asperion = FakeAsperion([FOUND])
    moved = order(billing={"city": "Amsterdam"})
    result = await node(asperion, update_existing=True).process(order_record(moved))
    assert result.context["debtor"]["updated"] is True
    (debtor_id, body), *_ = [args for name, args in asperion.calls if name == "update"]
    assert debtor_id == 5
    assert body["city"] == "Amsterdam"
    assert body["customerNumber"] == "10001"  # Asperion replaces the whole debtor
    assert asperion.debtors[0]["city"] == "Amsterdam"


async def test_missing_debtor_is_created_as_company() -> None:
    asperion = FakeAsperion([])
    company = order(billing={"company": "Voorbeeld B.V.", "country": "BE"})
    result = await node(asperion).process(order_record(company))
    debtor = result.context["debtor"]
    assert debtor["created"] is True
    assert debtor["customerNumber"] == "10001"
    assert debtor["kind"] == "company"
    assert debtor["countryCode"] == "BE"
    assert result.data["debtorCustomerNumber"] == "10001"
    created = asperion.debtors[0]
    assert (created["name"], created["attentionTo"], created["debtorKindId"]) == (
        "Voorbeeld B.V.",
        "Jan Jansen",
        "B2B-EU",
    )


async def test_dry_run_never_writes_and_says_what_it_would_do() -> None:
    asperion = FakeAsperion([FOUND])
    lookup = node(asperion, dry_run=True, update_existing=True)
    new = await lookup.process(order_record(order(billing={"email": "new@example.nl"})))
    moved = await lookup.process(order_record(order(billing={"city": "Delft"})))
    assert asperion.count("create") == asperion.count("update") == 0
    assert new.data["debtorCustomerNumber"] == NEW_DEBTOR
    assert new.context["debtor"]["created"] is False
    assert new.context["debtor"]["action"] == "create"
    assert new.warnings == ['dry run: would create person debtor "Jan Jansen" (new@example.nl)']
    assert moved.data["debtorCustomerNumber"] == "10001"
    assert moved.warnings == ["dry run: would update debtor 10001: city"]


async def test_two_orders_of_one_new_customer_at_once_create_one_debtor() -> None:
    asperion = FakeAsperion([], latency=0.01)
    lookup = node(asperion)
    records = [order_record(order(id=200 + i, billing={"email": "Same@Example.nl "})) for i in range(5)]
    results = await asyncio.gather(*(lookup.process(r) for r in records))
    assert asperion.count("create") == 1
    assert {r.data["debtorCustomerNumber"] for r in results} == {"10001"}
    assert asperion.count("find_email") == 1  # the others used the run's memo
    assert len(lookup.ctx.cache["asperion.lookup_debtor:asperion:locks"]) == 0  # locks are released


async def test_different_customers_do_not_wait_for_each_other() -> None:
    asperion = FakeAsperion([], latency=0.01)
    lookup = node(asperion)
    records = [order_record(order(id=i, billing={"email": f"c{i}@example.nl"})) for i in range(4)]
    results = await asyncio.gather(*(lookup.process(r) for r in records))
    assert len({r.data["debtorCustomerNumber"] for r in results}) == 4
    assert asperion.count("create") == 4


async def test_output_field_can_be_nested() -> None:
    result = await node(FakeAsperion([FOUND]), output_field="header.debtor").process(
        order_record(order(), {"header": {"date": "2026-01-01"}})
    )
    assert result.data == {"header": {"date": "2026-01-01", "debtor": "10001"}}


async def test_no_email_and_no_default_fails() -> None:
    with pytest.raises(RecordFailed, match="order has no e-mail and no default debtor is set"):
        await node(FakeAsperion([]), default_debtor="").process(order_record(order(billing={"email": ""})))


async def test_a_contains_match_is_not_taken_for_the_customer() -> None:
    class Loose(FakeAsperion):
        async def find_debtor_by_email(self, email: str) -> dict[str, Any] | None:
            return {**FOUND, "emailAddress": "ajan@example.nl"}

    asperion = Loose([])
    result = await node(asperion).process(order_record(order()))
    assert result.context["debtor"]["created"] is True
