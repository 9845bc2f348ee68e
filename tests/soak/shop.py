"""Reading a soaked shop and its books over plain HTTP, as a bookkeeper's own script would: WooCommerce REST, the
Asperion API and the Mollie API of the sandbox, with nothing of Koppel's engine or reconciliation code."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx

from sandbox.credentials import (
    ASPERION_CLIENT_ID,
    ASPERION_CLIENT_SECRET,
    ASPERION_INITIAL_REFRESH_TOKEN,
    WOO_RW_KEY,
    WOO_RW_SECRET,
)

ZERO = Decimal(0)
CENT = Decimal("0.01")
EU = {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU",
      "LV", "MT", "PL", "PT", "RO", "SE", "SI", "SK"}  # fmt: skip
VAT_NUMBER_KEYS = ("_billing_vat_number", "_vat_number", "_billing_vat", "billing_eu_vat_number", "vat_number")
FEE_KEYS = ("_stripe_fee", "PayPal Transaction Fee", "_ppcp_paypal_fees")
RATE_KEY = "_base_currency_exchange_rate"  # Aelia Currency Switcher: base amount = amount × rate
ECHO_KEY = "_asperion_order_id"  # the mark of a WooCommerce order that came from an Asperion sales order
CLEARING_METHODS = ("stripe", "mollie")
BOOKED = {"processing", "completed"}
CANCELLED = {"cancelled", "failed", "trash"}

_CREDIT = re.compile(r"\(correction \d+ credit\)")
_CORRECTION = re.compile(r"\(correction \d+\)")
_ORDER = re.compile(r"^WooCommerce order (?P<number>[^\s(]+)")
_REFUND = re.compile(r"^WooCommerce refund [\d, ]+ of order (?P<number>[^\s(]+)")
_PAYMENT = re.compile(r"^Payment WooCommerce order (?P<number>[^\s(]+)")


def money(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def eur(value: Any, rate: Decimal) -> Decimal:
    return (money(value) * rate).quantize(CENT, rounding=ROUND_HALF_UP)


# -- the applications, read over HTTP ------------------------------------------------------------------------------


class Woo:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=f"{base}/woocommerce/wp-json/wc/v3", auth=(WOO_RW_KEY, WOO_RW_SECRET),
                                 timeout=60)  # fmt: skip

    def all(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            answer = self.http.get(path, params={**params, "per_page": 100, "page": page})
            answer.raise_for_status()
            yield from answer.json()
            if page >= int(answer.headers.get("X-WP-TotalPages") or 1):
                return
            page += 1

    def orders(self) -> list[dict[str, Any]]:
        return [*self.all("/orders", status="any"), *self.all("/orders", status="trash")]

    def refunds(self, order_id: int) -> list[dict[str, Any]]:
        return list(self.all(f"/orders/{order_id}/refunds"))

    def count(self, path: str, **params: Any) -> int:
        answer = self.http.get(path, params={**params, "per_page": 1})
        answer.raise_for_status()
        return int(answer.headers["X-WP-Total"])


class Asperion:
    """One administration, with an access token of its own (the bookkeeper connects a second client)."""

    @staticmethod
    def token(base: str) -> str:
        """An access token for the initial refresh token (valid again after the identity host's reset)."""
        answer = httpx.post(f"{base}/asperion/connect/token", data={
            "grant_type": "refresh_token", "refresh_token": ASPERION_INITIAL_REFRESH_TOKEN,
            "client_id": ASPERION_CLIENT_ID, "client_secret": ASPERION_CLIENT_SECRET}, timeout=30)  # fmt: skip
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def __init__(self, base: str, tenant: int, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "X-Tenant-Id": str(tenant)}
        self.http = httpx.Client(base_url=f"{base}/asperion/v1", headers=headers, timeout=60)

    def all(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        url: str | None = f"{str(self.http.base_url).rstrip('/')}{path}?pageSize=250"
        while url:
            answer = self.http.get(url)
            answer.raise_for_status()
            body = answer.json()
            items += body["_data"]
            url = body["_meta"].get("nextPage") or None
        return items

    def count(self, path: str) -> int:
        answer = self.http.get(path, params={"pageSize": 1})
        answer.raise_for_status()
        return int(answer.json()["_meta"]["totalCount"])


def mollie_all(base: str, api_key: str, path: str) -> list[dict[str, Any]]:
    kind = path.rstrip("/").rsplit("/", 1)[-1]
    items: list[dict[str, Any]] = []
    url: str | None = f"{base}/mollie/v2{path}?limit=250"
    while url:
        answer = httpx.get(url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60)
        answer.raise_for_status()
        body = answer.json()
        items += body["_embedded"][kind]
        url = (body["_links"].get("next") or {}).get("href")
    return items


def lines_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    lines = document.get("lines") or []
    return list(lines.get("_data") or []) if isinstance(lines, dict) else list(lines)


# -- what the shop says should be in the books ---------------------------------------------------------------------


def meta(order: dict[str, Any]) -> dict[str, Any]:
    return {m["key"]: m.get("value") for m in order.get("meta_data") or []}


def rate_of(order: dict[str, Any]) -> Decimal:
    """The order's euro rate: 1 for euros, else the currency plugin's rate (never face value)."""
    if order["currency"] == "EUR":
        return Decimal(1)
    rate = meta(order).get(RATE_KEY)
    assert rate, f"order {order['number']} in {order['currency']} carries no rate"
    return money(rate)


def region(country: str) -> str:
    return "domestic" if country in ("", "NL") else "eu" if country in EU else "world"


def vat_number(order: dict[str, Any]) -> str:
    values = meta(order)
    return next((str(values[k]).strip() for k in VAT_NUMBER_KEYS if str(values.get(k) or "").strip()), "")


def vat_code(order: dict[str, Any], line: dict[str, Any], percent: Decimal) -> str:
    """The VAT code a line belongs on (mappings.md, VAT codes), from its rate and the order's country alone."""
    if line.get("tax_status") == "none" or (not money(line["total"]) and not money(line["total_tax"])):
        percent = ZERO
    text = format(percent.normalize(), "f")
    country = order["shipping"].get("country") or order["billing"]["country"]
    where = region(country)
    if where == "domestic" or (where == "world" and percent):
        return {"21": "H21", "9": "L9", "0": "N0"}[text]
    if where == "world":
        return "EXP"
    if not percent:
        return "ICP" if vat_number(order) else "N0"
    return f"OSS-{country}-{text}"


def _percent(order: dict[str, Any], line: dict[str, Any]) -> Decimal:
    rates = {t["rate_id"]: money(t["rate_percent"]) for t in order.get("tax_lines") or []}
    return sum((rates[t["id"]] for t in line.get("taxes") or [] if money(t.get("total"))), ZERO) or sum(
        (rates[t["id"]] for t in line.get("taxes") or []), ZERO
    )


def order_lines(order: dict[str, Any], document: dict[str, Any]) -> Iterator[tuple[str, Decimal, Decimal]]:
    """(VAT code, net, VAT) in euros per line of an order or of one of its refunds (refund amounts negative)."""
    rate = rate_of(order)
    for key in ("line_items", "shipping_lines", "fee_lines"):
        for line in document.get(key) or []:
            source = next((x for x in order.get(key) or [] if x["id"] == line.get("id")), line)
            code = vat_code(order, source, _percent(order, source))
            yield code, eur(line["total"], rate), eur(line["total_tax"], rate)


def refund_lines(order: dict[str, Any], refund: dict[str, Any]) -> Iterator[tuple[str, Decimal, Decimal]]:
    rate = rate_of(order)
    for key in ("line_items", "shipping_lines", "fee_lines"):
        for line in refund.get(key) or []:
            item = int(next((m["value"] for m in line.get("meta_data") or [] if m["key"] == "_refunded_item_id"),
                            line.get("id")))  # fmt: skip
            source = next((x for x in order.get(key) or [] if x["id"] == item), None)
            assert source is not None, f"refund {refund['id']} of order {order['number']}: unknown item {item}"
            tax = sum((money(t["total"]) for t in line.get("taxes") or []), ZERO)
            yield vat_code(order, source, _percent(order, source)), eur(line["total"], rate), eur(tax, rate)


@dataclass
class Books:
    """One order's documents in the books, by their descriptions."""

    net_count: int = 0
    invoices: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)


def books_by_order(invoices: list[dict[str, Any]], entries: list[dict[str, Any]]) -> dict[str, Books]:
    found: dict[str, Books] = defaultdict(Books)
    by_id: dict[int, str] = {}
    for invoice in invoices:
        text = str(invoice["description"])
        if refund := _REFUND.match(text):
            number = refund["number"]
        elif order := _ORDER.match(text):
            number = order["number"]
            credit = _CREDIT.search(text) or text.rstrip().endswith(" cancelled")
            found[number].net_count += -1 if credit else 1
        else:
            raise AssertionError(f"an invoice the soak did not make: {text!r}")
        found[number].invoices.append(invoice)
        by_id[int(invoice["id"])] = number
    for entry in entries:
        settled = {by_id.get(int(x["salesInvoiceId"])) for x in lines_of(entry) if x.get("salesInvoiceId")}
        settled.discard(None)
        if payment := _PAYMENT.match(str(entry["description"])):
            settled.add(payment["number"])
        assert len(settled) <= 1, f"journal entry {entry['id']} settles invoices of several orders: {settled}"
        for number in settled:
            found[str(number)].payments.append(entry)
    return found
