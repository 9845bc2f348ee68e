"""Pure accounting helpers shared by the domain map nodes: money, regions, VAT numbers, line rates, VAT code rules.

Everything here is a plain function over WooCommerce payloads and settings tables, so it is unit-tested without HTTP.
Money is :class:`~decimal.Decimal` throughout and rounded half up to cents, as Asperion rounds.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Literal

from nodes.base import NeedsMapping
from nodes.texts import shown

__all__ = (
    "CENT",
    "DEFAULT_REVENUE_ACCOUNTS",
    "DEFAULT_VAT_CODES",
    "DEFAULT_VAT_NUMBER_KEYS",
    "EU_MEMBERS",
    "Region",
    "as_id",
    "cents",
    "known_rates",
    "line_rate",
    "money",
    "plain_text",
    "rate_key",
    "region_of",
    "revenue_account",
    "snap_rate",
    "tax_country",
    "tax_rates",
    "vat_code",
    "vat_number",
    "zero_code",
)

Region = Literal["domestic", "eu", "world"]

CENT = Decimal("0.01")
_ZERO = Decimal(0)

EU_MEMBERS: frozenset[str] = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)
"""The 27 EU member states by ISO 3166 code (Greece as ``GR``; ``EL`` is accepted as an alias)."""

DEFAULT_VAT_NUMBER_KEYS: tuple[str, ...] = (
    "_billing_vat_number",
    "_vat_number",
    "_billing_vat",
    "billing_eu_vat_number",
    "vat_number",
)

DEFAULT_VAT_CODES: dict[str, str] = {
    "domestic:21": "H21",
    "domestic:9": "L9",
    "domestic:0": "N0",
    "eu-vat-number:0": "ICP",
    "eu:0": "N0",
    "world:0": "EXP",
    "DE:19": "OSS-DE-19",
    "DE:7": "OSS-DE-7",
    "BE:21": "OSS-BE-21",
    "BE:6": "OSS-BE-6",
    "FR:20": "OSS-FR-20",
    "FR:5.5": "OSS-FR-5.5",
    "IT:22": "OSS-IT-22",
    "IT:10": "OSS-IT-10",
    "ES:21": "OSS-ES-21",
    "AT:20": "OSS-AT-20",
    "AT:10": "OSS-AT-10",
}
"""Rows ``<country or rule>:<rate>`` → Asperion VAT code; rules: ``domestic``, ``eu-vat-number``, ``eu``, ``world``.

``eu:0`` covers what is untaxed for an EU consumer (vouchers, fees without tax): no OSS code applies to it. It never
applies to an EU business without a recognised VAT number (:func:`vat_code`): such a line at 0 % needs a mapping of
its own rather than domestic 0 %. A line of €0.00 takes the zero code of its region (:func:`zero_code`)."""

DEFAULT_REVENUE_ACCOUNTS: dict[str, str] = {"domestic": "8000", "eu": "8100", "world": "8200"}
"""Rows country code (or region) → revenue ledger account."""

_TAG = re.compile(r"<[^>]*>")
_HIDDEN = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")


def money(value: Any) -> Decimal:
    """A WooCommerce amount (string, number or empty) as a Decimal; empty and ``None`` are 0.

    Raises:
        ValueError: when the value is not a number.
    """
    if value is None or value == "":
        return _ZERO
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(value if type(value) is str else str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {shown(value)}") from exc


def cents(value: Decimal) -> Decimal:
    """Round half up to cents, as Asperion and the tax authorities do."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def rate_key(rate: Decimal) -> str:
    """A rate as it appears in table keys: ``19``, ``5.5``, ``0``."""
    text = format(rate.normalize(), "f")
    return text if text not in {"-0", ""} else "0"


def plain_text(value: Any) -> str:
    """HTML tags stripped (scripts and styles with their content), entities decoded (``&ndash;`` → ``–``), whitespace
    collapsed."""
    text = str(value or "")
    return _plain_text(text) if len(text) <= _PLAIN_CACHED else _strip_html(text)


_PLAIN_CACHED = 400
"""Texts up to this length (names, method titles, attribute values: they repeat from order to order) are cached."""


def _strip_html(text: str) -> str:
    if "<" in text:
        text = _TAG.sub(" ", _HIDDEN.sub(" ", text))
    return _SPACE.sub(" ", html.unescape(text)).strip()


_plain_text = lru_cache(maxsize=4096)(_strip_html)


def as_id(value: str) -> int | str:
    """An Asperion id from a settings table: numeric ids (ledger accounts, payment conditions) as ints."""
    text = str(value).strip()
    return int(text) if text.isdigit() else text


def region_of(country: str, shop_country: str = "NL") -> Region:
    """``domestic`` for the shop's own country, ``eu`` for other member states, ``world`` for the rest."""
    code = (country or "").strip().upper()
    code = "GR" if code == "EL" else code
    if not code or code == shop_country.strip().upper():
        return "domestic"
    return "eu" if code in EU_MEMBERS else "world"


def tax_country(order: Mapping[str, Any], basis: Literal["shipping", "billing"] = "shipping") -> str:
    """The country whose VAT applies: shipping country when present (else billing), or billing when so configured."""
    billing = str((order.get("billing") or {}).get("country") or "").strip().upper()
    shipping = str((order.get("shipping") or {}).get("country") or "").strip().upper()
    if basis == "billing":
        return billing or shipping
    return shipping or billing


def vat_number(meta_data: Iterable[Mapping[str, Any]] | None, keys: Iterable[str] = DEFAULT_VAT_NUMBER_KEYS) -> str:
    """The first non-empty meta value under ``keys`` (in the order of ``keys``), trimmed; empty when none."""
    keys = tuple(keys)
    values: dict[str, str] = {}
    for meta in meta_data or ():
        key = str(meta.get("key", ""))
        if key not in keys or key in values:  # only the first non-empty value of a wanted key counts
            continue
        value = str(meta.get("value") or "").strip()
        if value:
            values[key] = value
    for key in keys:
        if values.get(key):
            return values[key]
    return ""


RATE_SNAP = Decimal("0.1")
"""How far a rate computed from amounts may be from a known rate of the country and still be taken as that rate."""


def known_rates(table: Mapping[str, str], country: str, shop_country: str = "NL") -> set[Decimal]:
    """The VAT rates the ``vat_codes`` table knows for a country: its own rows, and the domestic rows at home."""
    code = (country or shop_country).upper()
    home = region_of(code, shop_country) == "domestic"
    rates: set[Decimal] = set()
    for key in table:
        where, _, rate = str(key).rpartition(":")
        if where.upper() == code or (home and where == "domestic"):
            try:
                rates.add(Decimal(rate))
            except InvalidOperation:
                continue
    return rates


def snap_rate(computed: Decimal, known: Iterable[Decimal]) -> Decimal:
    """The known rate nearest to a rate computed from rounded amounts, when within 0.1 point (8.95 → 9), else the
    computed rate itself (which then needs its own mapping row)."""
    best = min(known, key=lambda rate: abs(rate - computed), default=None)
    return best if best is not None and abs(best - computed) <= RATE_SNAP else computed


def tax_rates(
    order: Mapping[str, Any],
    *,
    store_rates: Mapping[str, Decimal] | None = None,
    known: Iterable[Decimal] = (),
) -> dict[str, Decimal]:
    """Rate per tax rate id of an order: ``tax_lines[].rate_percent``; else the store's own tax rate (``/taxes/{id}``,
    given as ``store_rates``); else Σ tax / Σ net of the lines using it, snapped to the nearest ``known`` rate."""
    rates: dict[str, Decimal] = {}
    for tax_line in order.get("tax_lines") or ():
        percent = tax_line.get("rate_percent")
        rate_id = str(tax_line.get("rate_id"))
        if percent not in (None, ""):
            rates[rate_id] = money(percent)
        elif store_rates and rate_id in store_rates:
            rates[rate_id] = store_rates[rate_id]
    taxed: dict[str, list[Decimal]] = {}
    for kind in ("line_items", "shipping_lines", "fee_lines"):
        for line in order.get(kind) or ():
            for tax in line.get("taxes") or ():
                rate_id = str(tax.get("id"))
                if rate_id in rates:
                    continue
                sums = taxed.setdefault(rate_id, [Decimal(0), Decimal(0)])
                sums[0] += money(tax.get("total"))
                sums[1] += money(line.get("total"))
    known = list(known)
    for rate_id, (tax_sum, net_sum) in taxed.items():
        rates[rate_id] = snap_rate(round(tax_sum / net_sum * 100, 2), known) if net_sum else Decimal(0)
    return rates


def line_rate(line: Mapping[str, Any], rates: Mapping[str, Decimal]) -> Decimal:
    """The VAT rate of one order line: the sum of the rates of its taxes (compound taxes add up); 0 without taxes.

    Args:
        line: a ``line_items``/``shipping_lines``/``fee_lines`` entry.
        rates: :func:`tax_rates` of the order.
    """
    taxes = [tax for tax in line.get("taxes") or () if str(tax.get("id", "")) != ""]
    if not taxes or line.get("tax_status") == "none":
        return Decimal(0)
    total = Decimal(0)
    for tax in taxes:
        rate_id = str(tax.get("id"))
        if rate_id in rates:
            total += rates[rate_id]
        else:
            net = money(line.get("total")) or money(line.get("subtotal"))
            total += round(money(tax.get("total")) / net * 100, 2) if net else Decimal(0)
    return total


def vat_code(
    table: Mapping[str, str],
    *,
    country: str,
    rate: Decimal,
    has_vat_number: bool,
    shop_country: str = "NL",
    business: bool = False,
) -> str:
    """The Asperion VAT code of a line by the rules of mappings.md step 5.

    A row for the exact ``<country>:<rate>`` always wins; otherwise: domestic → ``domestic:<rate>``; EU with a VAT
    number at rate 0 → ``eu-vat-number:0`` (ICP); other EU → the country row (OSS), else an ``eu:<rate>`` row
    (default only ``eu:0``); world at rate 0 → ``world:0`` (export); world with a rate → ``domestic:<rate>``.

    Raises:
        NeedsMapping: ``vat_codes`` has no row for ``<country>:<rate>``.
    """
    code = (country or shop_country).upper()
    rate_text = rate_key(rate)
    exact = f"{code}:{rate_text}"
    if table.get(exact):
        return table[exact]
    area = region_of(code, shop_country)
    fallback: str | None = None
    if area == "domestic":
        fallback = f"domestic:{rate_text}"
    elif area == "eu" and business and rate == 0 and not has_vat_number:
        # a business whose VAT number Koppel does not recognise (none, or under another meta key): reverse charge
        # cannot be proven and domestic 0 % would be wrong, so the user decides with a row for the country
        raise NeedsMapping(
            "vat_codes",
            exact,
            f"EU business without a recognised VAT number: no VAT code for country {code} at 0% (vat_codes row "
            f"{shown(exact)}, or add the meta key that holds the number)",
        )
    elif area == "eu":
        fallback = "eu-vat-number:0" if has_vat_number and rate == 0 else f"eu:{rate_text}"
    elif area == "world":
        fallback = "world:0" if rate == 0 else f"domestic:{rate_text}"
    if fallback and table.get(fallback):
        return table[fallback]
    raise NeedsMapping(
        "vat_codes", exact, f"no VAT code for country {code} at {rate_text}% (vat_codes row {shown(exact)})"
    )


def zero_code(table: Mapping[str, str], *, country: str, has_vat_number: bool, shop_country: str = "NL") -> str:
    """The zero code of a country's region for a line of €0.00 (free shipping): what the table books at 0 % there
    (N0 at home, ICP with a VAT number, EXP outside the EU), else the domestic zero code — nothing is booked on it.

    Raises:
        NeedsMapping: the table has no zero code at all.
    """
    try:
        return vat_code(
            table, country=country, rate=Decimal(0), has_vat_number=has_vat_number, shop_country=shop_country
        )
    except NeedsMapping:
        if table.get("domestic:0"):
            return table["domestic:0"]
        raise


def revenue_account(table: Mapping[str, str], country: str, shop_country: str = "NL") -> int | str:
    """The revenue ledger account for a country: its own row, else its region's row.

    Raises:
        NeedsMapping: ``revenue_accounts`` has neither row.
    """
    code = (country or shop_country).upper()
    value = table.get(code) or table.get(region_of(code, shop_country))
    if not value:
        raise NeedsMapping("revenue_accounts", code, f"no revenue account for country {code}")
    return as_id(value)
