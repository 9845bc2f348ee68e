"""Debtors and articles in the Asperion simulator: created, updated field by field, skipped when unchanged; and the
debtor lookup node over real HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from nodes.base import Record, RecordFailed
from nodes.lookups.asperion_debtor import LookupDebtor, LookupDebtorConfig
from nodes.targets.asperion_article import ArticleTarget, article_changes
from nodes.targets.asperion_debtor import DebtorTarget
from tests.lookups.test_debtor_rules import order
from tests.targets.conftest import LoseAnswers, Sandbox, deliver, inner_transport, make_target
from tests.targets.fakes import FakeContext, order_record


def debtor(**changes: Any) -> dict[str, Any]:
    body = {
        "name": "Voorbeeld B.V.",
        "attentionTo": "Jan Jansen",
        "address": "Hoofdstraat 1",
        "postCode": "1234 AB",
        "city": "Utrecht",
        "countryCode": "NL",
        "emailAddress": "Inkoop@Voorbeeld.nl",
        "phoneNumber": "030-1234567",
        "debtorKindId": "B2B-NL",
    }
    body.update(changes)
    return body


def customer_record(data: dict[str, Any]) -> Record:
    return Record(key=str(data.get("emailAddress")), source_id="customer:7", data=data)


async def test_debtor_is_created_then_updated_then_left_alone(asperion: Any) -> None:
    target = make_target(DebtorTarget, {"asperion": asperion})
    created = await deliver(target, customer_record(debtor()))
    assert created.status == "ok", created.message
    number = created.target_id
    assert number is not None and number.isdigit()
    assert created.message == f"Created as debtor {number}"

    moved = await deliver(target, customer_record(debtor(city="Amsterdam", emailAddress="inkoop@voorbeeld.nl")))
    assert (moved.status, moved.target_id) == ("ok", number)
    assert moved.message == f"debtor {number} updated: city"
    stored = await asperion.find_debtor_by_email("inkoop@voorbeeld.nl")
    assert (stored["city"], stored["attentionTo"], stored["customerNumber"]) == ("Amsterdam", "Jan Jansen", number)

    same = await deliver(target, customer_record(debtor(city="Amsterdam")))
    assert (same.status, same.message) == ("skipped", f"debtor {number} unchanged")


async def test_debtor_is_kept_when_always_update_is_off(asperion: Any) -> None:
    target = make_target(DebtorTarget, {"asperion": asperion}, always_update=False)
    assert (await deliver(target, customer_record(debtor()))).status == "ok"
    kept = await deliver(target, customer_record(debtor(city="Amsterdam")))
    assert kept.status == "skipped"
    assert (await asperion.find_debtor_by_email("inkoop@voorbeeld.nl"))["city"] == "Utrecht"


async def test_refused_debtor_names_the_field(asperion: Any) -> None:
    target = make_target(DebtorTarget, {"asperion": asperion})
    outcome = await deliver(target, customer_record(debtor(debtorKindId="NOPE")))
    assert outcome.status == "failed"
    assert "DebtorKindId" in outcome.message


def article(**changes: Any) -> dict[str, Any]:
    body = {
        "code": "MOK-RD",
        "description": "Mok rood",
        "longDescription": "Een rode mok.",
        "salesPrice": 8.26,
        "active": True,
    }
    body.update(changes)
    return body


def product_record(data: dict[str, Any]) -> Record:
    return Record(key=str(data.get("code")), source_id="product:12", data=data)


async def test_article_follows_the_field_owners(asperion: Any) -> None:
    target = make_target(ArticleTarget, {"asperion": asperion})
    created = await deliver(target, product_record(article()))
    assert created.status == "ok", created.message

    repriced = await deliver(target, product_record(article(salesPrice=9.5, longDescription="Edited in the shop")))
    assert repriced.status == "ok"
    assert repriced.message == "article MOK-RD updated: salesPrice"
    stored = await asperion.find_article_by_code("MOK-RD")
    assert stored["salesPrice"] == 9.5
    assert stored["longDescription"] == "Een rode mok."  # create-only: never overwritten once set

    same = await deliver(target, product_record(article(salesPrice="9.50", longDescription="Edited again")))
    assert (same.status, same.message) == ("skipped", "article MOK-RD unchanged")


async def test_article_fields_owned_by_asperion_are_never_written(asperion: Any) -> None:
    target = make_target(ArticleTarget, {"asperion": asperion}, ownership={"salesPrice": "never"})
    await deliver(target, product_record(article()))
    stored = await asperion.find_article_by_code("MOK-RD")
    assert stored["salesPrice"] == 0  # not sent on create either
    outcome = await deliver(target, product_record(article(salesPrice=99, active=False)))
    assert outcome.message == "article MOK-RD updated: active"


async def test_article_without_sku_is_skipped(asperion: Any) -> None:
    target = make_target(ArticleTarget, {"asperion": asperion})
    outcome = await deliver(target, product_record(article(code="")))
    assert (outcome.status, outcome.message) == ("skipped", "the product has no SKU, so it has no article code")


def test_create_only_field_is_filled_while_empty() -> None:
    owners: dict[str, Any] = {"longDescription": "create_only"}
    assert article_changes({"longDescription": ""}, {"longDescription": "Tekst"}, owners) == {
        "longDescription": ["", "Tekst"]
    }
    assert article_changes({"longDescription": "Oud"}, {"longDescription": "Nieuw"}, owners) == {}


async def test_lookup_node_creates_one_company_debtor_for_concurrent_orders(asperion: Any) -> None:
    lookup = LookupDebtor("debtor", LookupDebtorConfig(), FakeContext({"asperion": asperion}))
    company = {"company": "Müller & Söhne GmbH", "country": "DE", "email": "einkauf@mueller.example"}
    records = [order_record(order(id=300 + i, billing=company)) for i in range(3)]
    results = await asyncio.gather(*(lookup.process(r) for r in records))
    numbers = {r.data["debtorCustomerNumber"] for r in results}
    assert len(numbers) == 1
    stored = await asperion.find_debtor_by_email("einkauf@mueller.example")
    assert stored["customerNumber"] in numbers
    assert (stored["name"], stored["attentionTo"], stored["debtorKindId"]) == (
        "Müller & Söhne GmbH",
        "Jan Jansen",
        "B2B-EU",
    )
    guest = await lookup.process(order_record(order(customer_id=0)))
    assert guest.data["debtorCustomerNumber"] == "9999"
    assert guest.context["debtor"]["name"] == "WooCommerce consumenten"


async def test_lookup_reports_a_refused_debtor_with_the_field(asperion: Any) -> None:
    table = {**LookupDebtorConfig().classification, "consumer:domestic": "NOPE"}
    lookup = LookupDebtor("debtor", LookupDebtorConfig(classification=table), FakeContext({"asperion": asperion}))
    with pytest.raises(RecordFailed) as failure:
        await lookup.process(order_record(order()))
    assert failure.value.message.startswith("creating the debtor for jan@example.nl was refused: Asperion answered 400")
    assert "DebtorKindId" in failure.value.message


async def test_lookup_confirms_a_debtor_whose_creation_answer_was_lost(fresh: Sandbox) -> None:
    transport = LoseAnswers(inner_transport(fresh), "POST", "/v1/debtors")
    asperion = fresh.client("asperion", transport=transport)
    try:
        lookup = LookupDebtor("debtor", LookupDebtorConfig(), FakeContext({"asperion": asperion}))
        result = await lookup.process(order_record(order()))
        assert transport.left == 0
        debtors = [d async for page in asperion.pages("/v1/debtors", {"EmailAddress": "jan@example.nl"}) for d in page]
        assert [d["customerNumber"] for d in debtors] == [result.data["debtorCustomerNumber"]]
    finally:
        await asperion.aclose()
