"""Reconciliation: the shop's orders of a period compared with what the books hold for them. Pure: no HTTP.

The period selects **orders** (by booking date: ``date_paid``, else ``date_created``); the books of an order are every
Asperion document that names it, whatever its own date: "WooCommerce order {number}" (the invoice), "… (correction
k)" (a correction's new invoice), "… cancelled" and any other credit (a negative total) naming the order, and
"WooCommerce refund {ids} of order {number}" (refund credits). So a refund or correction booked after the period still
counts for its order, and the comparison never depends on when a bookkeeper posted something.

:func:`compare` turns the raw records into a :class:`Report`: totals per VAT rate (shop vs books, the chart), and the
differences, each with the record keys behind it (order number and id, invoice or entry ids) so a page can link them.
Money is :class:`~decimal.Decimal`, rounded half up to cents.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.reconcile_shop import ShopOrder, shop_order
from nodes.echo import woocommerce_origin

__all__ = (
    "BookedDocument",
    "Difference",
    "RateTotals",
    "ReconcileSettings",
    "Report",
    "compare",
    "parse_document",
)

ZERO = Decimal(0)
_ORDER = re.compile(r"^WooCommerce order (?P<number>[^\s(]+)(?P<rest>.*)$")
_REFUND = re.compile(r"^WooCommerce refund (?P<refunds>[\d, ]+) of order (?P<number>\S+)$")
_PAYMENT = re.compile(r"^Payment WooCommerce order (?P<number>[^\s(]+)")
_DIFFERENCE = re.compile(r" \(difference \d+\)$")
_ANY_ORDER = re.compile(r"WooCommerce (?:order|refund [\d, ]+ of order) (?P<number>[^\s(]+)")


@dataclass(frozen=True)
class ReconcileSettings:
    """What "balanced" means; the defaults follow the templates' defaults (mappings.md)."""

    tolerance: Decimal = Decimal("0.01")
    """Allowed difference per order (and per order counted in a rate's total), as the preflight allows."""
    booked_statuses: frozenset[str] = frozenset({"processing", "completed"})
    """Shop statuses that must be booked exactly once."""
    credited_statuses: frozenset[str] = frozenset({"cancelled", "failed", "trash"})
    """Shop statuses whose booking, if any, must be fully credited (net zero)."""
    clearing_accounts: frozenset[str] = frozenset({"1100"})
    """Payment-provider clearing accounts."""
    clearing_methods: tuple[str, ...] = ("stripe", "mollie")
    """Payment methods (prefixes) whose money arrives on a clearing account."""
    fee_account: str = "4500"
    """The payment costs ledger."""
    fee_meta_keys: tuple[str, ...] = ("_stripe_fee", "PayPal Transaction Fee", "_paypal_transaction_fee", "_mollie_fee")
    rate_meta_keys: tuple[str, ...] = ("_base_currency_exchange_rate", "_wcpbc_base_exchange_rate", "_wmc_order_rate")
    """Order meta keys of multi-currency plugins holding the rate to the base currency (base = foreign × rate)."""
    base_currency: str = "EUR"


@dataclass
class BookedDocument:
    """An Asperion sales or credit invoice that names a WooCommerce order."""

    id: Any
    number: str
    kind: str
    """``invoice``, ``correction``, ``credit`` (cancellation or the credit of a correction) or ``refund``."""
    description: str
    date: str
    total: Decimal
    open_amount: Decimal
    by_rate: dict[str, tuple[Decimal, Decimal]]


@dataclass
class RateTotals:
    """Net and VAT of one VAT rate, shop vs books."""

    rate: str
    shop_net: Decimal = ZERO
    shop_vat: Decimal = ZERO
    books_net: Decimal = ZERO
    books_vat: Decimal = ZERO
    orders: int = 0

    @property
    def net_difference(self) -> Decimal:
        return self.books_net - self.shop_net

    @property
    def vat_difference(self) -> Decimal:
        return self.books_vat - self.shop_vat


@dataclass
class Difference:
    """One thing the bookkeeper should look at, with the keys of the records behind it."""

    kind: str
    """``not_booked``, ``booked_twice``, ``not_credited``, ``amounts_differ``, ``payment_missing``,
    ``payment_twice``, ``payment_differs``, ``payment_unpaid``, ``open_credit``, ``fee_differs``, ``no_rate``,
    ``rate_total``, ``booked_unexpected``."""
    order_number: str = ""
    order_id: Any = None
    shop: Decimal | None = None
    books: Decimal | None = None
    invoice_ids: list[Any] = field(default_factory=list)
    entry_ids: list[Any] = field(default_factory=list)
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "order_number": self.order_number,
            "order_id": self.order_id,
            "shop": _text(self.shop),
            "books": _text(self.books),
            "invoice_ids": list(self.invoice_ids),
            "entry_ids": list(self.entry_ids),
            "detail": self.detail,
        }


@dataclass
class Report:
    """The outcome of a reconciliation."""

    period_from: str
    period_to: str
    orders: int = 0
    rates: list[RateTotals] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    corrected: list[dict[str, Any]] = field(default_factory=list)
    """Orders with corrections or credits: not a difference, shown so the bookkeeper sees them."""
    fees_shop: Decimal = ZERO
    fees_books: Decimal = ZERO
    clearing_expected: Decimal = ZERO
    clearing_books: Decimal = ZERO

    @property
    def balanced(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.period_from,
            "to": self.period_to,
            "balanced": self.balanced,
            "orders": self.orders,
            "rates": [
                {
                    "rate": r.rate,
                    "orders": r.orders,
                    "shop_net": _text(r.shop_net),
                    "shop_vat": _text(r.shop_vat),
                    "books_net": _text(r.books_net),
                    "books_vat": _text(r.books_vat),
                }
                for r in self.rates
            ],
            "differences": [d.as_dict() for d in self.differences],
            "corrected": self.corrected,
            "fees": {"shop": _text(self.fees_shop), "books": _text(self.fees_books)},
            "clearing": {"expected": _text(self.clearing_expected), "books": _text(self.clearing_books)},
        }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else ZERO
    except ArithmeticError:
        return ZERO


def _rate_text(percent: Decimal) -> str:
    text = format(percent.quantize(Decimal("0.01")).normalize(), "f")
    return "0" if text in ("-0", "") else text


def parse_document(invoice: Mapping[str, Any], percent_of: Mapping[str, Decimal]) -> BookedDocument | None:
    """The order an Asperion invoice was booked for, and what kind of booking it is; None for other invoices."""
    description = str(invoice.get("description") or "").strip()
    total = _money(invoice.get("amountInclVat"))
    refund = _REFUND.match(description)
    match = _ORDER.match(description)
    if refund:
        number, kind = refund.group("number"), "refund"
    elif match:
        number, rest = match.group("number"), match.group("rest").lower()
        if total < 0 or "cancel" in rest or "credit" in rest:
            kind = "credit"
        elif "correction" in rest:
            kind = "correction"
        elif rest.strip():
            return None
        else:
            kind = "invoice"
    else:
        return None
    by_rate: dict[str, tuple[Decimal, Decimal]] = {}
    for line in _lines(invoice):
        rate = _rate_text(percent_of.get(str(line.get("vatCode") or ""), ZERO))
        net, vat = by_rate.get(rate, (ZERO, ZERO))
        by_rate[rate] = (net + _money(line.get("amount")), vat + _money(line.get("vatAmount")))
    return BookedDocument(
        id=invoice.get("id"),
        number=number,
        kind=kind,
        description=description,
        date=str(invoice.get("date") or "")[:10],
        total=total,
        open_amount=total,
        by_rate=by_rate,
    )


def _lines(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    lines = obj.get("lines")
    if isinstance(lines, dict):
        lines = lines.get("_data")
    return list(lines) if isinstance(lines, list) else []


@dataclass
class _Payments:
    received: Decimal = ZERO
    """Net money received for the order as the books hold it (debtor lines, sign flipped)."""
    count: int = 0
    """Payment entries minus reversals."""
    fees: Decimal = ZERO
    clearing: Decimal = ZERO
    entry_ids: list[Any] = field(default_factory=list)


def _payments(
    entries: Iterable[Mapping[str, Any]], documents: Mapping[Any, BookedDocument], settings: ReconcileSettings
) -> dict[str, _Payments]:
    """Per order number: what the journal entries naming the order (or one of its invoices) booked."""
    out: dict[str, _Payments] = {}
    for entry in entries:
        description = str(entry.get("description") or "")
        lines = _lines(entry)
        linked = {line.get("salesInvoiceId") for line in lines} - {None, 0, ""}
        number = next((documents[i].number for i in linked if i in documents), None)
        if number is None:
            found = _PAYMENT.match(description) or _ANY_ORDER.search(description)
            number = found.group("number") if found else None
        if number is None:
            continue
        pay = out.setdefault(number, _Payments())
        debtor = sum((_money(line.get("amount")) for line in lines if line.get("salesInvoiceId")), ZERO)
        pay.received -= debtor
        if _PAYMENT.match(description) and not _DIFFERENCE.search(description):  # a difference is the same payment
            pay.count += 1 if debtor <= 0 else -1
        pay.fees += sum(
            (_money(x.get("amount")) for x in lines if str(x.get("ledgerAccountId")) == settings.fee_account), ZERO
        )
        pay.clearing += sum(
            (_money(x.get("amount")) for x in lines if str(x.get("ledgerAccountId")) in settings.clearing_accounts),
            ZERO,
        )
        pay.entry_ids.append(entry.get("id"))
        for invoice_id in linked:
            if invoice_id in documents:
                documents[invoice_id].open_amount += debtor
    return out


def compare(
    orders: Iterable[Mapping[str, Any]],
    refunds: Mapping[Any, list[Mapping[str, Any]]],
    invoices: Iterable[Mapping[str, Any]],
    entries: Iterable[Mapping[str, Any]],
    percent_of: Mapping[str, Decimal],
    *,
    period: tuple[str, str],
    settings: ReconcileSettings | None = None,
) -> Report:
    """Compare the period's orders with their bookings.

    Args:
        orders: WooCommerce orders (any; those whose booking date falls in ``period`` are compared).
        refunds: the refund objects per order id (``GET orders/{id}/refunds``).
        invoices: Asperion sales invoices with lines (credit invoices are sales invoices with negative amounts).
        entries: Asperion journal entries with lines.
        percent_of: VAT code → percentage.
        period: first and last day, ``YYYY-MM-DD``, inclusive.
        settings: tolerances and accounts.
    """
    settings = settings or ReconcileSettings()
    documents: dict[Any, BookedDocument] = {}
    by_number: dict[str, list[BookedDocument]] = {}
    for invoice in invoices:
        doc = parse_document(invoice, percent_of)
        if doc is not None:
            documents[doc.id] = doc
            by_number.setdefault(doc.number, []).append(doc)
    payments = _payments(entries, documents, settings)
    known = sorted({_rate_text(percent) for percent in percent_of.values()}, key=Decimal)
    report = Report(period_from=period[0], period_to=period[1])
    rates: dict[str, RateTotals] = {}
    for raw in orders:
        if woocommerce_origin(raw) is not None:
            continue  # Koppel made it from a record of the books (reverse direction): it is not the shop's sale
        order = shop_order(raw, refunds.get(raw.get("id")) or [], settings)
        order.by_rate = _snap(order.by_rate, known)
        if not period[0] <= order.booking_date <= period[1]:
            continue
        report.orders += 1
        docs = by_number.get(order.number, [])
        _compare_order(order, docs, payments.get(order.number), rates, report, settings)
    report.rates = sorted(rates.values(), key=lambda r: Decimal(r.rate), reverse=True)
    for totals in report.rates:
        allowed = settings.tolerance * max(1, totals.orders)
        if abs(totals.net_difference) > allowed or abs(totals.vat_difference) > allowed:
            report.differences.append(
                Difference(
                    "rate_total",
                    shop=totals.shop_net + totals.shop_vat,
                    books=totals.books_net + totals.books_vat,
                    detail=totals.rate,
                )
            )
    return report


def _snap(by_rate: dict[str, tuple[Decimal, Decimal]], known: list[str]) -> dict[str, tuple[Decimal, Decimal]]:
    """An older store's computed rate (8.95) counted under the nearest known rate within 0.1 point (9), as booked."""
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for rate, (net, vat) in by_rate.items():
        near = min(known, key=lambda k: abs(Decimal(k) - Decimal(rate)), default=rate)
        key = near if abs(Decimal(near) - Decimal(rate)) <= Decimal("0.1") else rate
        old = out.get(key, (ZERO, ZERO))
        out[key] = (old[0] + net, old[1] + vat)
    return out


def _compare_order(
    order: ShopOrder,
    docs: list[BookedDocument],
    pay: _Payments | None,
    rates: dict[str, RateTotals],
    report: Report,
    settings: ReconcileSettings,
) -> None:
    def diff(kind: str, shop: Decimal | None = None, books: Decimal | None = None, detail: str = "") -> None:
        report.differences.append(
            Difference(
                kind,
                order.number,
                order.id,
                shop,
                books,
                [d.id for d in docs],
                list(pay.entry_ids) if pay else [],
                detail,
            )
        )

    bookings = sum(1 for d in docs if d.kind in ("invoice", "correction")) - sum(1 for d in docs if d.kind == "credit")
    if any(d.kind in ("correction", "credit") for d in docs):
        report.corrected.append(
            {"order_number": order.number, "order_id": order.id, "invoice_ids": [d.id for d in docs]}
        )
    if order.status in settings.booked_statuses:
        expected = order.by_rate
        if bookings == 0:
            diff("not_booked", order.total, ZERO)
        elif bookings > 1:
            diff("booked_twice", order.total, detail=str(bookings))
    elif order.status in settings.credited_statuses:
        expected = {}
        if bookings > 0:
            diff("not_credited", ZERO, sum((d.total for d in docs), ZERO), detail=order.status)
    elif order.status == "refunded":
        expected = order.by_rate if bookings else {}
    else:
        expected = {}
        if bookings > 0:
            diff("booked_unexpected", ZERO, sum((d.total for d in docs), ZERO), detail=order.status)
    if order.no_rate:
        diff("no_rate", detail=order.currency)
        return
    booked: dict[str, tuple[Decimal, Decimal]] = {}
    for doc in docs:
        for rate, (net, vat) in doc.by_rate.items():
            old = booked.get(rate, (ZERO, ZERO))
            booked[rate] = (old[0] + net, old[1] + vat)
    mismatch = False
    for rate in sorted(set(expected) | set(booked)):
        totals = rates.setdefault(rate, RateTotals(rate))
        shop_net, shop_vat = expected.get(rate, (ZERO, ZERO))
        books_net, books_vat = booked.get(rate, (ZERO, ZERO))
        totals.shop_net += shop_net
        totals.shop_vat += shop_vat
        totals.books_net += books_net
        totals.books_vat += books_vat
        totals.orders += 1
        off = max(abs(shop_net - books_net), abs(shop_vat - books_vat))
        mismatch = mismatch or off > settings.tolerance
    if mismatch and 0 < bookings <= 1 and order.status in settings.booked_statuses | {"refunded"}:
        books_total = sum((n + v for n, v in booked.values()), ZERO)
        diff("amounts_differ", sum((n + v for n, v in expected.values()), ZERO), books_total)
    _compare_payment(order, docs, pay, report, settings, diff)


def _compare_payment(
    order: ShopOrder,
    docs: list[BookedDocument],
    pay: _Payments | None,
    report: Report,
    settings: ReconcileSettings,
    diff: Any,
) -> None:
    received = pay.received if pay else ZERO
    count = pay.count if pay else 0
    should_pay = order.paid and order.total != 0 and order.status in settings.booked_statuses | {"refunded"}
    expected = order.total - order.refunded if should_pay else ZERO
    if pay:
        report.fees_books += pay.fees
        report.clearing_books += pay.clearing
    if should_pay:
        report.fees_shop += order.fee
        if order.method.startswith(settings.clearing_methods):
            report.clearing_expected += order.total - order.fee - order.refunded
    open_credits = [d for d in docs if d.total < 0 and d.open_amount < -settings.tolerance]
    owed_back = should_pay and count == 1 and received - expected > settings.tolerance
    if should_pay and count <= 0 and docs:
        diff("payment_missing", order.total, received)
    elif count > 1:
        diff("payment_twice", order.total, received, detail=str(count))
    elif not should_pay and abs(received) > settings.tolerance:
        diff("payment_unpaid", ZERO, received, detail=order.status)
    elif owed_back and open_credits:
        for doc in open_credits:
            report.differences.append(
                Difference("open_credit", order.number, order.id, None, doc.open_amount, [doc.id], [], doc.description)
            )
    elif should_pay and count == 1 and abs(received - expected) > settings.tolerance:
        diff("payment_differs", expected, received)
    if should_pay and pay and count >= 1 and abs(pay.fees - order.fee) > settings.tolerance:
        diff("fee_differs", order.fee, pay.fees)
