"""The reconciliation's comparison, on hand-made shop and books records: what a bookkeeper would be told."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.reconcile import ReconcileSettings, Report, compare

D = Decimal
PERCENT = {"VH": D(21), "VL": D(9), "V0": D(0)}
CODE = {D(21): "VH", D(9): "VL", D(0): "V0"}
PERIOD = ("2026-11-01", "2026-11-30")


def order(
    number: int,
    lines: list[tuple[str, str, int]],
    *,
    status: str = "processing",
    paid: str | None = "2026-11-10T10:00:00",
    method: str = "bacs",
    meta: list[dict[str, Any]] | None = None,
    currency: str = "EUR",
    refunds: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A WooCommerce order whose lines are (net, VAT, rate %)."""
    rates = sorted({rate for _, _, rate in lines})
    items = [
        {"total": net, "total_tax": vat, "taxes": [{"id": rates.index(rate) + 1, "total": vat}]}
        for net, vat, rate in lines
    ]
    total = sum((D(n) + D(v) for n, v, _ in lines), D(0))
    return {
        "id": number + 1000,
        "number": str(number),
        "status": status,
        "currency": currency,
        "date_created": "2026-11-09T09:00:00",
        "date_paid": paid,
        "payment_method": method,
        "total": f"{total:.2f}",
        "line_items": items,
        "shipping_lines": [],
        "fee_lines": [],
        "tax_lines": [{"rate_id": i + 1, "rate_percent": r} for i, r in enumerate(rates)],
        "meta_data": meta or [],
        "refunds": [{"id": r["id"], "total": f"-{r['amount']}"} for r in refunds or []],
    }


def invoice(invoice_id: int, description: str, lines: list[tuple[str, str, int]], status: int = 3) -> dict[str, Any]:
    booked = [{"amount": n, "vatAmount": v, "vatCode": CODE[D(r)]} for n, v, r in lines]
    total = sum((D(n) + D(v) for n, v, _ in lines), D(0))
    return {"id": invoice_id, "description": description, "date": "2026-11-10", "amountInclVat": str(total),
            "status": status, "lines": {"_data": booked}}  # fmt: skip


def payment(
    entry_id: int, number: int, total: str, invoice_id: int, *, fee: str = "0", bank: int = 1000
) -> dict[str, Any]:
    lines = [
        {"amount": str(D(total) - D(fee)), "ledgerAccountId": bank},
        {"amount": f"-{total}", "ledgerAccountId": 1300, "salesInvoiceId": invoice_id, "debtorId": 7},
    ]
    if D(fee):
        lines.append({"amount": fee, "ledgerAccountId": 4500})
    return {"id": entry_id, "description": f"Payment WooCommerce order {number} (tx{number})", "lines": lines}


def reconcile(orders: list[dict[str, Any]], invoices: list[dict[str, Any]], entries: list[dict[str, Any]],
              refunds: dict[Any, list[dict[str, Any]]] | None = None) -> Report:  # fmt: skip
    return compare(orders, refunds or {}, invoices, entries, PERCENT, period=PERIOD, settings=ReconcileSettings())


def kinds(report: Report) -> list[tuple[str, str]]:
    return [(d.kind, d.order_number) for d in report.differences]


A_LINES = [("100.00", "21.00", 21), ("10.00", "0.90", 9)]


def test_booked_and_paid_orders_are_balanced_per_rate() -> None:
    report = reconcile(
        [order(1, A_LINES), order(2, [("50.00", "10.50", 21)])],
        [invoice(11, "WooCommerce order 1", A_LINES), invoice(12, "WooCommerce order 2", [("50.00", "10.50", 21)])],
        [payment(21, 1, "131.90", 11), payment(22, 2, "60.50", 12)],
    )
    assert report.balanced, kinds(report)
    assert report.orders == 2
    by_rate = {r.rate: (r.shop_net, r.shop_vat, r.books_net, r.books_vat) for r in report.rates}
    assert by_rate == {"21": (D("150.00"), D("31.50"), D("150.00"), D("31.50")),
                       "9": (D("10.00"), D("0.90"), D("10.00"), D("0.90"))}  # fmt: skip


def test_an_order_without_its_invoice_is_not_booked_and_names_the_order() -> None:
    report = reconcile([order(1, A_LINES), order(2, A_LINES, paid=None)], [invoice(11, "WooCommerce order 1", A_LINES)],
                       [payment(21, 1, "131.90", 11)])  # fmt: skip
    assert not report.balanced
    missing = [d for d in report.differences if d.kind == "not_booked"]
    assert [(d.order_number, d.order_id, d.shop) for d in missing] == [("2", 1002, D("131.90"))]
    rate_21 = next(r for r in report.rates if r.rate == "21")
    assert (rate_21.shop_net, rate_21.books_net) == (D("200.00"), D("100.00"))
    assert ("rate_total", "") in kinds(report)


def test_an_order_booked_twice_is_reported_with_both_invoices() -> None:
    twice = [invoice(11, "WooCommerce order 1", A_LINES), invoice(12, "WooCommerce order 1", A_LINES)]
    report = reconcile([order(1, A_LINES, paid=None)], twice, [])
    double = [d for d in report.differences if d.kind == "booked_twice"]
    assert len(double) == 1 and double[0].invoice_ids == [11, 12] and double[0].detail == "2"


def test_a_corrected_order_counts_once_net_of_its_credit() -> None:
    new_lines = [("120.00", "25.20", 21)]
    credit = [("-100.00", "-21.00", 21), ("-10.00", "-0.90", 9)]
    report = reconcile(
        [order(1, new_lines)],
        [
            invoice(11, "WooCommerce order 1", A_LINES),
            invoice(12, "WooCommerce order 1 (correction 1 credit)", credit),
            invoice(13, "WooCommerce order 1 (correction 1)", new_lines),
        ],
        [payment(21, 1, "145.20", 13)],
    )
    assert report.balanced, kinds(report)
    assert report.corrected == [{"order_number": "1", "order_id": 1001, "invoice_ids": [11, 12, 13]}]


def test_a_cancelled_order_must_be_credited() -> None:
    credit = [("-100.00", "-21.00", 21), ("-10.00", "-0.90", 9)]
    books = [invoice(11, "WooCommerce order 1", A_LINES)]
    report = reconcile([order(1, A_LINES, status="cancelled", paid=None)], books, [])
    assert kinds(report) == [("not_credited", "1"), ("rate_total", ""), ("rate_total", "")]
    assert {r.rate: (r.shop_net, r.books_net) for r in report.rates} == {"21": (0, D("100.00")), "9": (0, D("10.00"))}
    report = reconcile([order(1, A_LINES, status="cancelled", paid=None)],
                       [*books, invoice(12, "WooCommerce order 1 cancelled", credit)], [])  # fmt: skip
    assert report.balanced, kinds(report)
    trashed = reconcile([order(1, A_LINES, status="trash", paid=None)], books, [])
    assert ("not_credited", "1") in kinds(trashed)


def test_a_paid_order_without_its_payment_or_with_two_is_unmatched() -> None:
    books = [invoice(11, "WooCommerce order 1", A_LINES)]
    assert kinds(reconcile([order(1, A_LINES)], books, [])) == [("payment_missing", "1")]
    twice = reconcile([order(1, A_LINES)], books, [payment(21, 1, "131.90", 11), payment(22, 1, "131.90", 11)])
    assert [(d.kind, d.entry_ids) for d in twice.differences] == [("payment_twice", [21, 22])]
    short = reconcile([order(1, A_LINES)], books, [payment(21, 1, "100.00", 11)])
    assert [(d.kind, d.shop, d.books) for d in short.differences] == [("payment_differs", D("131.90"), D("100.00"))]


def test_a_payment_for_an_order_the_shop_has_as_unpaid_is_unmatched() -> None:
    report = reconcile([order(1, A_LINES, paid=None)], [invoice(11, "WooCommerce order 1", A_LINES)],
                       [payment(21, 1, "131.90", 11)])  # fmt: skip
    assert kinds(report) == [("payment_unpaid", "1")]


def test_a_refund_paid_back_but_not_booked_leaves_its_credit_invoice_open() -> None:
    refund = {"id": 5, "amount": "12.10", "line_items": [{"total": "-10.00", "total_tax": "-2.10",
                                                          "taxes": [{"id": 2, "total": "-2.10"}]}]}  # fmt: skip
    shop = order(1, A_LINES, refunds=[refund])
    credit = invoice(12, "WooCommerce refund 5 of order 1", [("-10.00", "-2.10", 21)])
    books = [invoice(11, "WooCommerce order 1", A_LINES), credit]
    report = reconcile([shop], books, [payment(21, 1, "131.90", 11)], {1001: [refund]})
    assert [(d.kind, d.invoice_ids) for d in report.differences] == [("open_credit", [12])]
    paid_back = {"id": 22, "description": "Refund 5 of WooCommerce order 1 paid back", "lines": [
        {"amount": "-12.10", "ledgerAccountId": 1000},
        {"amount": "12.10", "ledgerAccountId": 1300, "salesInvoiceId": 12, "debtorId": 7}]}  # fmt: skip
    report = reconcile([shop], books, [payment(21, 1, "131.90", 11), paid_back], {1001: [refund]})
    assert report.balanced, kinds(report)


def test_provider_fees_and_the_clearing_account() -> None:
    meta = [{"key": "_stripe_fee", "value": "2.10"}]
    shop = [order(1, A_LINES, method="stripe", meta=meta)]
    books = [invoice(11, "WooCommerce order 1", A_LINES)]
    gross = reconcile(shop, books, [payment(21, 1, "131.90", 11, bank=1100)])
    assert [(d.kind, d.shop, d.books) for d in gross.differences] == [("fee_differs", D("2.10"), D("0"))]
    net = reconcile(shop, books, [payment(21, 1, "131.90", 11, fee="2.10", bank=1100)])
    assert net.balanced, kinds(net)
    assert (net.fees_shop, net.fees_books) == (D("2.10"), D("2.10"))
    assert (net.clearing_expected, net.clearing_books) == (D("129.80"), D("129.80"))


def test_a_foreign_order_is_compared_in_euros_and_one_without_a_rate_is_named() -> None:
    meta = [{"key": "_base_currency_exchange_rate", "value": "1.2"}]
    shop = order(1, [("100.00", "21.00", 21)], currency="GBP", meta=meta, paid=None)
    euros = reconcile([shop], [invoice(11, "WooCommerce order 1", [("120.00", "25.20", 21)])], [])
    assert euros.balanced, kinds(euros)
    face = reconcile([shop], [invoice(11, "WooCommerce order 1", [("100.00", "21.00", 21)])], [])
    assert ("amounts_differ", "1") in kinds(face)
    no_rate = reconcile([order(1, [("100.00", "21.00", 21)], currency="GBP", paid=None)], [], [])
    assert ("no_rate", "1") in kinds(no_rate)


def test_orders_outside_the_period_and_other_invoices_are_left_out() -> None:
    early = order(1, A_LINES, paid="2026-10-31T23:00:00")
    other = invoice(12, "Consultancy October", A_LINES)
    report = reconcile([early], [other], [])
    assert report.balanced and report.orders == 0 and report.rates == []


def test_an_order_koppel_made_from_the_books_is_not_expected_to_be_booked_again() -> None:
    echo = order(3, A_LINES, paid=None, meta=[{"key": "_koppel_source", "value": "asperion:salesorder:77"}])
    assert reconcile([echo], [], []).orders == 0
    assert kinds(reconcile([order(3, A_LINES, paid=None)], [], [])) == [("not_booked", "3"), *[("rate_total", "")] * 2]


def test_an_older_stores_computed_rate_counts_under_the_nearest_known_rate() -> None:
    older = order(4, [("100.00", "8.95", 9)], paid=None)
    del older["tax_lines"][0]["rate_percent"]  # 8.95 / 100 → 8.95 %, which no VAT code has
    report = reconcile([older], [invoice(14, "WooCommerce order 4", [("100.00", "8.95", 9)])], [])
    assert report.balanced, kinds(report)
    assert [r.rate for r in report.rates] == ["9"]
