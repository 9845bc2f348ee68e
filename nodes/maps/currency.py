"""Orders in another currency than the administration's: the exchange rate, and the order converted to it. Pure.

Never booked at face value: the rate comes from the order meta a multi-currency plugin wrote (Aelia Currency
Switcher ``_base_currency_exchange_rate``: base = amount × rate; WOOCS ``_woocs_order_rate``, WooPayments
``_wcpay_multi_currency_order_exchange_rate`` and CURCY ``wmc_order_info``: base = amount ÷ rate), else from the
rate table (a rate per currency and date, the latest on or before the order's date applies), else the order waits
for the row "exchange rate {currency} on {date}".

What the plugins keep, as read in their public source: VillaTheme's CURCY (free ``woo-multi-currency`` and the
premium ``woocommerce-multi-currency``) stores ``wmc_order_info`` on every order, a map per currency code of that
currency's settings at checkout — ``rate`` (units per unit of the shop's main currency) and ``is_main`` (1 for the
main currency) among them — and converts back with ``price / rate``; the REST API shows it as an object. WPML's
WooCommerce Multilingual (checked in its 4.10 and 5.1 sources) keeps no rate on the order: only the currency
(``_order_currency``) and per-line bookkeeping (``_wcml_total_qty``); its rates live in the plugin's settings
(``_wcml_settings`` → ``currency_options``), which WooCommerce's REST API does not expose — a WCML shop fills the
rate table. Every amount of the order is converted and rounded half up to the cent, so the
lines, the preflight and the fingerprint all work on the administration's currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from nodes.accounting import cents, money
from nodes.base import NeedsMapping

__all__ = (
    "DEFAULT_RATE_META",
    "Conversion",
    "conversion_slack",
    "convert_order",
    "convert_refund",
    "exchange_rate",
)

DEFAULT_RATE_META: dict[str, str] = {
    "_base_currency_exchange_rate": "multiply",
    "_woocs_order_rate": "divide",
    "_wcpay_multi_currency_order_exchange_rate": "divide",
    "wmc_order_info": "divide",
}
"""Order meta key → how its rate converts the order's amounts to the shop's base currency."""

_LINE_AMOUNTS = ("total", "total_tax", "subtotal", "subtotal_tax")
_ORDER_AMOUNTS = ("total", "total_tax", "shipping_total", "shipping_tax", "cart_tax", "discount_total", "discount_tax")


@dataclass(frozen=True)
class Conversion:
    """How an order's amounts become the administration's: ``amount × rate`` (rate = base units per order unit)."""

    currency: str
    rate: Decimal
    source: str
    """Where the rate came from, in words ("order meta _woocs_order_rate", "rate table GBP:2026-11-01")."""

    def amount(self, value: Any) -> str:
        """One amount converted, half up to the cent, as WooCommerce writes amounts."""
        return format(cents(money(value) * self.rate), "f")

    def describe(self, value: Any) -> str:
        """ "GBP 31.16 at 1.1712"."""
        return f"{self.currency} {format(money(value), 'f')} at {format(self.rate.normalize(), 'f')}"


def _positive(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and number > 0 else None


def _meta_rate(value: Any, currency: str, own: str) -> Decimal | None:
    """The rate in one meta value: a number, or a map per currency code (CURCY's ``wmc_order_info``) whose entry
    for the order's currency holds it — taken only when the map's main currency is the administration's."""
    if not isinstance(value, Mapping):
        return _positive(value)
    entries = {str(code).upper(): entry for code, entry in value.items() if isinstance(entry, Mapping)}
    main = [code for code, entry in entries.items() if str(entry.get("is_main") or "") in ("1", "True", "true")]
    if main and main != [own]:
        return None  # rates against another main currency would convert into that one, not ours
    return _positive((entries.get(currency) or {}).get("rate"))


def exchange_rate(
    order: Mapping[str, Any],
    *,
    own_currency: str,
    meta_keys: Mapping[str, str],
    table: Mapping[str, str],
    date: str,
) -> Conversion | None:
    """The conversion of an order into ``own_currency`` (None when it already is in it).

    Raises:
        NeedsMapping: no plugin meta and no table row on or before ``date`` ("exchange rate GBP on 2026-11-02").
    """
    currency = str(order.get("currency") or "").strip().upper()
    own = own_currency.strip().upper()
    if not currency or currency == own:
        return None
    meta = {str(m.get("key")): m.get("value") for m in order.get("meta_data") or () if isinstance(m, Mapping)}
    for key, how in meta_keys.items():
        rate = _meta_rate(meta.get(key), currency, own)
        if rate is None:
            continue
        if how == "divide":
            rate = Decimal(1) / rate
        return Conversion(currency, rate.quantize(Decimal("0.000001")), f"order meta {key}")
    best: tuple[str, Decimal, str] | None = None
    for key, value in table.items():
        code, _, since = str(key).partition(":")
        rate = _positive(value)
        if code.strip().upper() != currency or rate is None or (since and since > date):
            continue
        if best is None or since > best[0]:
            best = (since, rate, str(key))
    if best is None:
        raise NeedsMapping(
            "exchange_rates", f"{currency}:{date}", f"exchange rate {currency} on {date}: add it to the rate table"
        )
    return Conversion(currency, best[1], f"rate table {best[2]}")


def _convert_line(line: Mapping[str, Any], conversion: Conversion) -> dict[str, Any]:
    out = dict(line)
    for key in _LINE_AMOUNTS:
        if key in out and out[key] not in (None, ""):
            out[key] = conversion.amount(out[key])
    if out.get("taxes"):
        out["taxes"] = [
            {**tax, **{k: conversion.amount(tax[k]) for k in ("total", "subtotal") if tax.get(k) not in (None, "")}}
            for tax in out["taxes"]
        ]
    return out


def convert_order(order: Mapping[str, Any], conversion: Conversion, own_currency: str) -> dict[str, Any]:
    """A copy of the order with every amount in the administration's currency (lines, taxes, totals, refunds).

    Each amount is converted on its own, so the converted lines may add up to a cent or so more or less than the
    converted total: :func:`conversion_slack` says how much the preflight allows for that. The original total and
    the rate are kept under ``_conversion`` for the descriptions and the log.
    """
    out: dict[str, Any] = dict(order)
    for kind in ("line_items", "shipping_lines", "fee_lines"):
        out[kind] = [_convert_line(line, conversion) for line in order.get(kind) or ()]
    out["coupon_lines"] = [
        {**c, **{k: conversion.amount(c[k]) for k in ("discount", "discount_tax") if c.get(k) not in (None, "")}}
        for c in order.get("coupon_lines") or ()
    ]
    out["refunds"] = [
        {**r, "total": conversion.amount(r.get("total"))} if "total" in r else dict(r)
        for r in order.get("refunds") or ()
    ]
    out["tax_lines"] = [
        {
            **t,
            "tax_total": conversion.amount(t.get("tax_total")),
            "shipping_tax_total": conversion.amount(t.get("shipping_tax_total")),
        }
        for t in order.get("tax_lines") or ()
    ]
    for key in _ORDER_AMOUNTS:
        if key in order:
            out[key] = conversion.amount(order.get(key))
    out["currency"] = own_currency
    out["_conversion"] = {
        "currency": conversion.currency,
        "rate": format(conversion.rate.normalize(), "f"),
        "source": conversion.source,
        "original_total": str(order.get("total") or ""),
        "converted_total": out["total"],
    }
    return out


def conversion_slack(order: Mapping[str, Any]) -> Decimal:
    """Half a cent per converted line: how far the converted lines may be from the converted total."""
    if "_conversion" not in order:
        return Decimal(0)
    count = sum(len(order.get(kind) or ()) for kind in ("line_items", "shipping_lines", "fee_lines"))
    return Decimal("0.005") * count


def convert_refund(refund: Mapping[str, Any], conversion: Conversion) -> dict[str, Any]:
    """A refund of a converted order, converted at the order's rate (its credit reverses the invoice as booked)."""
    out: dict[str, Any] = dict(refund)
    for key in ("amount", "total"):
        if refund.get(key) not in (None, ""):
            out[key] = conversion.amount(refund[key])
    for kind in ("line_items", "shipping_lines", "fee_lines"):
        if refund.get(kind):
            out[kind] = [_convert_line(line, conversion) for line in refund[kind]]
    return out
