"""Every debtor decision of mappings.md step 3, without HTTP."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from nodes.base import NeedsMapping, RecordFailed
from nodes.lookups.asperion_debtor import LookupDebtorConfig
from nodes.lookups.debtor_rules import debtor_changes, debtor_payload, decide, match_value, needs_search

FIXTURES = Path("/work/shared/fixtures/woocommerce")


def order(**changes: Any) -> dict[str, Any]:
    """A registered Dutch consumer's order; ``billing`` changes merge into the billing address."""
    base: dict[str, Any] = {
        "id": 101,
        "number": "101",
        "customer_id": 7,
        "billing": {
            "first_name": "Jan",
            "last_name": "Jansen",
            "company": "",
            "address_1": "Hoofdstraat 1",
            "address_2": "",
            "city": "Utrecht",
            "postcode": "1234 AB",
            "country": "NL",
            "email": "  Jan@Example.NL ",
            "phone": "0612345678",
        },
        "meta_data": [],
    }
    billing = changes.pop("billing", {})
    base.update(changes)
    base["billing"] = {**base["billing"], **billing}
    return base


def config(**values: Any) -> LookupDebtorConfig:
    return LookupDebtorConfig(**values)


FOUND = {
    "id": 5,
    "customerNumber": "10001",
    "name": "Jan Jansen",
    "address": "Hoofdstraat 1",
    "addressLine2": None,
    "postCode": "1234 AB",
    "city": "Utrecht",
    "countryCode": "NL",
    "emailAddress": "jan@example.nl",
    "phoneNumber": "0612345678",
    "vatNumber": "",
    "debtorKindId": "B2C",
}


def test_guest_order_goes_to_the_default_debtor() -> None:
    decision = decide(order(customer_id=0), None, config())
    assert decision.action == "default"
    assert decision.customer_number == "9999"
    assert needs_search(order(customer_id=0), config()) == ""


def test_guest_is_matched_by_email_when_guests_to_default_is_off() -> None:
    cfg = config(guests_to_default=False)
    assert needs_search(order(customer_id=0), cfg) == "jan@example.nl"
    assert decide(order(customer_id=0), FOUND, cfg).action == "use"


def test_guest_without_default_debtor_is_matched_by_email() -> None:
    cfg = config(default_debtor="")
    assert needs_search(order(customer_id=0), cfg) == "jan@example.nl"
    assert decide(order(customer_id=0), None, cfg).action == "create"


def test_always_default_wins_over_a_found_debtor() -> None:
    cfg = config(always_default=True, default_debtor="8888")
    decision = decide(order(), FOUND, cfg)
    assert (decision.action, decision.customer_number) == ("default", "8888")
    assert needs_search(order(), cfg) == ""


def test_found_debtor_is_used_as_it_is() -> None:
    decision = decide(order(), FOUND, config())
    assert decision.action == "use"
    assert decision.customer_number == "10001"
    assert decision.debtor_id == 5
    assert decision.payload == {}


def test_found_debtor_is_updated_when_configured() -> None:
    moved = order(billing={"address_1": "Nieuwe Gracht 9", "city": "Amsterdam", "postcode": "1011 AA"})
    decision = decide(moved, FOUND, config(update_existing=True))
    assert decision.action == "update"
    assert decision.customer_number == "10001"
    assert decision.payload == {"address": "Nieuwe Gracht 9", "postCode": "1011 AA", "city": "Amsterdam"}
    assert decision.changes["city"] == ["Utrecht", "Amsterdam"]


def test_found_debtor_without_differences_is_not_updated() -> None:
    assert decide(order(), FOUND, config(update_existing=True)).action == "use"


def test_update_never_blanks_a_field_the_order_leaves_empty() -> None:
    found = {**FOUND, "phoneNumber": "030-1234567", "vatNumber": "NL000099998B57"}
    assert debtor_changes(found, {"phoneNumber": "", "vatNumber": "", "name": "Jan Jansen"}) == {}


def test_new_company_debtor_has_contact_person_and_vat_number() -> None:
    company = order(
        billing={"company": "Voorbeeld B.V."},
        meta_data=[{"key": "_billing_vat_number", "value": "nl 0000 99998 B57"}],
    )
    decision = decide(company, None, config())
    assert decision.action == "create"
    assert decision.kind == "company"
    assert decision.payload["name"] == "Voorbeeld B.V."
    assert decision.payload["attentionTo"] == "Jan Jansen"
    assert decision.payload["vatNumber"] == "NL000099998B57"
    assert decision.payload["emailAddress"] == "jan@example.nl"
    assert decision.payload["debtorKindId"] == "B2B-NL"


def test_new_person_debtor_is_named_first_and_last() -> None:
    decision = decide(order(), None, config(payment_condition=2))
    assert decision.kind == "person"
    payload = decision.payload
    assert payload["name"] == "Jan Jansen"
    assert "attentionTo" not in payload
    assert "vatNumber" not in payload
    assert payload["debtorKindId"] == "B2C"
    assert payload["paymentConditionId"] == 2
    assert (payload["address"], payload["postCode"], payload["city"], payload["countryCode"]) == (
        "Hoofdstraat 1",
        "1234 AB",
        "Utrecht",
        "NL",
    )
    assert payload["phoneNumber"] == "0612345678"


def test_vat_number_comes_from_the_first_configured_key() -> None:
    both = order(
        billing={"company": "X"},
        meta_data=[{"key": "vat_number", "value": "BE0123456789"}, {"key": "_vat_number", "value": "DE111111111"}],
    )
    assert debtor_payload(both, config())[0]["vatNumber"] == "DE111111111"
    assert debtor_payload(both, config(vat_meta_keys=["vat_number"]))[0]["vatNumber"] == "BE0123456789"


@pytest.mark.parametrize(
    ("country", "company", "kind"),
    [
        ("NL", "Shop B.V.", "B2B-NL"),
        ("DE", "GmbH", "B2B-EU"),
        ("GR", "AE", "B2B-EU"),
        ("US", "Inc.", "B2B-WORLD"),
        ("CH", "AG", "B2B-WORLD"),
        ("NL", "", "B2C"),
        ("BE", "", "B2C"),
        ("US", "", "B2C"),
    ],
)
def test_classification_per_region_and_business(country: str, company: str, kind: str) -> None:
    decision = decide(order(billing={"country": country, "company": company}), None, config())
    assert decision.payload["debtorKindId"] == kind


def test_classification_follows_the_shop_country() -> None:
    payload, _ = debtor_payload(order(billing={"country": "BE", "company": "BV"}), config(shop_country="BE"))
    assert payload["debtorKindId"] == "B2B-NL"  # "domestic" row of the table


def test_edited_classification_table_is_used_and_a_missing_row_waits() -> None:
    table = {"business:domestic": "ZAKELIJK", "consumer:domestic": ""}
    cfg = config(classification=table)
    assert decide(order(billing={"company": "X"}), None, cfg).payload["debtorKindId"] == "ZAKELIJK"
    assert "debtorKindId" not in decide(order(), None, cfg).payload  # empty value: no kind
    with pytest.raises(NeedsMapping) as waiting:
        decide(order(billing={"country": "DE"}), None, cfg)
    assert (waiting.value.table, waiting.value.key) == ("classification", "consumer:eu")


def test_no_email_and_no_default_fails_with_the_specified_message() -> None:
    with pytest.raises(RecordFailed, match="order has no e-mail and no default debtor is set"):
        decide(order(billing={"email": "  "}), None, config(default_debtor=""))


def test_no_email_with_a_default_debtor_uses_it() -> None:
    decision = decide(order(billing={"email": ""}), None, config())
    assert (decision.action, decision.customer_number) == ("default", "9999")


def test_not_found_and_creating_off_fails_clearly() -> None:
    with pytest.raises(RecordFailed, match="creating debtors is switched off"):
        decide(order(), None, config(create_missing=False))


def test_configurable_match_key_and_customer_email_fallback() -> None:
    customer = {"id": 3, "email": "Anna@Shop.test", "first_name": "Anna", "last_name": "Smit", "billing": {}}
    assert match_value(customer, "billing.email") == "anna@shop.test"
    decision = decide(customer, None, config())
    assert decision.payload["name"] == "Anna Smit"  # a customer record is never a guest
    custom = order(meta_data=[{"key": "x", "value": "y"}], shipping={"email": "Other@Example.nl"})
    assert match_value(custom, "shipping.email") == "other@example.nl"


def test_synthetic_german_b2b_fixture_becomes_an_eu_company_debtor() -> None:
    # Synthetic fixture (written to match WooCommerce core), not captured traffic.
    data = json.loads((FIXTURES / "order-synthetic-b2b-eur-coupon-fee-multitax-refund.json").read_text())
    decision = decide(copy.deepcopy(data), None, config())
    assert decision.kind == "company"
    assert decision.payload["name"] == "Müller & Söhne GmbH"
    assert decision.payload["attentionTo"] == "Jürgen Müller"
    assert decision.payload["vatNumber"] == "DE123456789"
    assert decision.payload["countryCode"] == "DE"
    assert decision.payload["debtorKindId"] == "B2B-EU"
    assert decision.payload["addressLine2"] == "Hinterhaus, 2. OG"
