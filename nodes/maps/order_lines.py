"""Pure line building for orders: a WooCommerce order → the invoice lines Asperion will book (mappings.md 5–10).

No HTTP and no node machinery: :func:`order_lines` takes the order payload and :class:`LineRules` (the node's
settings plus the administration's articles) and returns :class:`InvoiceLine` objects in Decimal; the preflight
module compares them with the order's totals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol

from nodes.accounting import (
    DEFAULT_REVENUE_ACCOUNTS,
    DEFAULT_VAT_CODES,
    DEFAULT_VAT_NUMBER_KEYS,
    Region,
    as_id,
    cents,
    known_rates,
    line_rate,
    money,
    plain_text,
    region_of,
    revenue_account,
    tax_country,
    tax_rates,
    vat_code,
    vat_number,
    zero_code,
)
from nodes.base import NeedsMapping, RecordFailed
from nodes.texts import shown

__all__ = (
    "BuyerRules",
    "InvoiceLine",
    "LineBuilder",
    "LineRules",
    "OrderFacts",
    "buyer_facts",
    "order_facts",
    "order_lines",
    "quantity_text",
)

DEFAULT_SHIPPING_ACCOUNTS: dict[str, str] = {"*": "8300"}


@dataclass(frozen=True)
class LineRules:
    """The settings that decide the lines (every field is a node setting of the same name)."""

    shop_country: str = "NL"
    tax_basis: Literal["shipping", "billing"] = "shipping"
    vat_number_keys: tuple[str, ...] = DEFAULT_VAT_NUMBER_KEYS
    vat_codes: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_VAT_CODES))
    revenue_accounts: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_REVENUE_ACCOUNTS))
    shipping_accounts: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SHIPPING_ACCOUNTS))
    coupons_as_lines: bool = False
    articles: Mapping[str, int | str] | None = None
    """Article id by code (SKU) when the administration keeps articles; None = text lines only."""
    unknown_article: Literal["text_line", "fail"] = "text_line"
    store_rates: Mapping[str, Decimal] | None = None
    """The store's own tax rates by rate id (``/taxes/{id}``), for orders whose tax lines lack ``rate_percent``."""
    _memo: dict[tuple[Any, ...], Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    """What the tables answered (known rates, VAT codes, revenue accounts per country): the same for every order
    these rules book, so each answer is worked out once. The tables are read, never changed, while rules exist."""

    def known_rates(self, country: str) -> frozenset[Decimal]:
        """:func:`~nodes.accounting.known_rates` of the VAT code table for ``country``."""
        key = ("known", country)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = frozenset(known_rates(self.vat_codes, country, self.shop_country))
        return found

    def vat_code(self, country: str, rate: Decimal, has_vat_number: bool, business: bool) -> str:
        """:func:`~nodes.accounting.vat_code` of a line (a missing row raises each time it is asked)."""
        key = ("vat", country, rate, has_vat_number, business)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = vat_code(
                self.vat_codes,
                country=country,
                rate=rate,
                has_vat_number=has_vat_number,
                shop_country=self.shop_country,
                business=business,
            )
        return found

    def zero_code(self, country: str, has_vat_number: bool) -> str:
        """:func:`~nodes.accounting.zero_code` of a line of €0.00."""
        key = ("zero", country, has_vat_number)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = zero_code(
                self.vat_codes, country=country, has_vat_number=has_vat_number, shop_country=self.shop_country
            )
        return found

    def revenue_account(self, country: str) -> int | str:
        """:func:`~nodes.accounting.revenue_account` of ``country``."""
        key = ("revenue", country)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = revenue_account(self.revenue_accounts, country, self.shop_country)
        return found


@dataclass
class InvoiceLine:
    """One line as Asperion books it (amounts ex VAT, Decimal)."""

    description: str
    amount: Decimal
    vat_amount: Decimal
    vat_code: str
    ledger_account: int | str
    rate: Decimal
    kind: str = "product"
    article_id: int | str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None

    def payload(self) -> dict[str, Any]:
        """The Asperion line (JSON numbers, 2 decimals; unit price 4)."""
        body: dict[str, Any] = {
            "description": self.description,
            "amount": float(cents(self.amount)),
            "vatAmount": float(cents(self.vat_amount)),
            "vatCode": self.vat_code,
            "ledgerAccountId": self.ledger_account,
        }
        if self.article_id is not None:
            body["articleId"] = self.article_id
        if self.quantity is not None:
            body["quantity"] = float(self.quantity)
        if self.unit_price is not None:
            body["unitPrice"] = float(self.unit_price.quantize(Decimal("0.0001")))
        return body


@dataclass(frozen=True)
class OrderFacts:
    """What the VAT rules need to know about an order's customer."""

    country: str
    region: Region
    vat_number: str
    business: bool
    rates: Mapping[str, Decimal]


class BuyerRules(Protocol):
    """The settings :func:`buyer_facts` reads (the rules and the order map settings have them)."""

    @property
    def shop_country(self) -> str: ...

    @property
    def tax_basis(self) -> Literal["shipping", "billing"]: ...

    @property
    def vat_number_keys(self) -> Sequence[str]: ...


def buyer_facts(order: Mapping[str, Any], rules: BuyerRules) -> dict[str, Any]:
    """What decides the VAT of an order's buyer: ``country`` (of the tax), its ``region``, the ``vat_number`` and
    whether the buyer is a ``business`` (the :class:`OrderFacts` without the rates)."""
    country = tax_country(order, rules.tax_basis) or rules.shop_country.upper()
    return {
        "country": country,
        "region": region_of(country, rules.shop_country),
        "vat_number": vat_number(order.get("meta_data"), rules.vat_number_keys),
        "business": bool(str((order.get("billing") or {}).get("company") or "").strip()),
    }


def order_facts(order: Mapping[str, Any], rules: LineRules) -> OrderFacts:
    """Tax country, its region, the VAT number, whether the buyer is a business, and the order's tax rates."""
    buyer = buyer_facts(order, rules)
    rates = tax_rates(order, store_rates=rules.store_rates, known=rules.known_rates(buyer["country"]))
    return OrderFacts(rates=rates, **buyer)


def quantity_text(quantity: Any) -> str:
    """``2`` for 2.0, ``1.5`` for 1.5."""
    if type(quantity) is int:
        return str(quantity)
    value = money(quantity)
    return format(value.normalize(), "f") if value != value.to_integral() else str(int(value))


def _attributes(item: Mapping[str, Any], name: str) -> list[str]:
    """Visible ``display_key: display_value`` pairs of a line, leaving out those the name already shows."""
    found: list[str] = []
    for meta in item.get("meta_data") or ():
        key = plain_text(meta.get("display_key") or meta.get("key") or "")
        raw_value = meta.get("display_value", meta.get("value"))
        if not key or key.startswith("_") or isinstance(raw_value, dict | list):
            continue
        value = plain_text(raw_value)
        if not value or value.lower() in name.lower():
            continue
        if "display_key" not in meta and key.startswith("pa_"):
            key = key[3:].replace("-", " ").capitalize()
        found.append(f"{key}: {value}")
    return found


def _product_description(item: Mapping[str, Any]) -> str:
    name = plain_text(item.get("name"))
    text = f"{quantity_text(item.get('quantity'))} × {name}"
    attributes = _attributes(item, name)
    if attributes:
        text += " – " + ", ".join(attributes)
    sku = str(item.get("sku") or "").strip()
    return f"{text} ({sku})" if sku else text


class LineBuilder:
    def __init__(self, order: Mapping[str, Any], rules: LineRules) -> None:
        self.order = order
        self.rules = rules
        self.facts = order_facts(order, rules)
        self.revenue = rules.revenue_account(self.facts.country)
        self.missing_articles: list[str] = []

    def code(self, rate: Decimal, amount: Decimal | None = None, vat: Decimal | None = None) -> str:
        facts = self.facts
        if amount is not None and not amount and not vat:  # a line of €0.00 (free shipping) books nothing
            return self.rules.zero_code(facts.country, bool(facts.vat_number))
        return self.rules.vat_code(facts.country, rate, bool(facts.vat_number), facts.business)

    def article(self, item: Mapping[str, Any]) -> int | str | None:
        articles = self.rules.articles
        if articles is None:
            return None
        for sku in (item.get("sku"), item.get("parent_sku")):
            if sku and str(sku).strip() in articles:
                return articles[str(sku).strip()]
        self.missing_articles.append(str(item.get("sku") or f"(no SKU: {plain_text(item.get('name'))})"))
        return None

    def product(self, item: Mapping[str, Any]) -> InvoiceLine:
        rate = line_rate(item, self.facts.rates)
        gross = self.rules.coupons_as_lines
        amount = money(item.get("subtotal") if gross else item.get("total"))
        vat = money(item.get("subtotal_tax") if gross else item.get("total_tax"))
        line = InvoiceLine(
            description=_product_description(item),
            amount=amount,
            vat_amount=vat,
            vat_code=self.code(rate, amount, vat),
            ledger_account=self.revenue,
            rate=rate,
        )
        article_id = self.article(item)
        quantity = money(item.get("quantity"))
        if article_id is not None and quantity:
            line.article_id = article_id
            line.quantity = quantity
            line.unit_price = money(item.get("subtotal")) / quantity
        return line

    def shipping(self, item: Mapping[str, Any]) -> InvoiceLine | None:
        method = str(item.get("method_id") or "")
        amount = money(item.get("total"))
        if not amount and not method.startswith("free_shipping"):
            return None
        accounts = self.rules.shipping_accounts
        ledger = accounts.get(method or "(none)") or accounts.get(method.split(":", 1)[0]) or accounts.get("*")
        if not ledger:
            raise NeedsMapping(
                "shipping_accounts", method or "(none)", f"shipping method {shown(method)} has no ledger account yet"
            )
        rate = line_rate(item, self.facts.rates)
        vat = money(item.get("total_tax"))
        return InvoiceLine(
            description=plain_text(item.get("method_title")) or method or "Shipping",
            amount=amount,
            vat_amount=vat,
            vat_code=self.code(rate, amount, vat),
            ledger_account=as_id(ledger),
            rate=rate,
            kind="shipping",
        )

    def fee(self, item: Mapping[str, Any]) -> InvoiceLine:
        rate = line_rate(item, self.facts.rates)
        amount, vat = money(item.get("total")), money(item.get("total_tax"))
        return InvoiceLine(
            description=plain_text(item.get("name")) or "Fee",
            amount=amount,
            vat_amount=vat,
            vat_code=self.code(rate, amount, vat),
            ledger_account=self.revenue,
            rate=rate,
            kind="fee",
        )

    def coupons(self, products: list[tuple[Mapping[str, Any], InvoiceLine]]) -> list[InvoiceLine]:
        """One negative line per coupon and VAT code, splitting each code's discount by the coupons' shares."""
        groups: dict[tuple[str, int | str], list[Decimal]] = {}
        rates: dict[str, Decimal] = {}
        for item, line in products:
            sums = groups.setdefault((line.vat_code, line.ledger_account), [Decimal(0), Decimal(0)])
            sums[0] += money(item.get("subtotal")) - money(item.get("total"))
            sums[1] += money(item.get("subtotal_tax")) - money(item.get("total_tax"))
            rates[line.vat_code] = line.rate
        coupons = list(self.order.get("coupon_lines") or ())
        weights = [money(c.get("discount")) for c in coupons]
        total_weight = sum(weights, Decimal(0))
        lines: list[InvoiceLine] = []
        for (code, ledger), (discount, discount_tax) in groups.items():
            if not discount and not discount_tax:
                continue
            shares = _split(discount, discount_tax, weights, total_weight)
            names = [f"Coupon {plain_text(c.get('code'))}" for c in coupons] or ["Discount"]
            for name, (part, part_tax) in zip(names, shares, strict=True):
                if part or part_tax:
                    lines.append(InvoiceLine(name, -part, -part_tax, code, ledger, rates[code], kind="coupon"))
        return lines


def _split(
    amount: Decimal, tax: Decimal, weights: list[Decimal], total_weight: Decimal
) -> list[tuple[Decimal, Decimal]]:
    """Split an amount and its VAT by weights in cents; the last share takes the rounding remainder."""
    if len(weights) <= 1 or not total_weight:
        return [(amount, tax)]
    shares: list[tuple[Decimal, Decimal]] = []
    rest, rest_tax = amount, tax
    for weight in weights[:-1]:
        part = cents(amount * weight / total_weight)
        part_tax = cents(tax * weight / total_weight)
        shares.append((part, part_tax))
        rest, rest_tax = rest - part, rest_tax - part_tax
    shares.append((rest, rest_tax))
    return shares


def order_lines(order: Mapping[str, Any], rules: LineRules) -> list[InvoiceLine]:
    """The invoice lines of an order: products, coupons (when separate), shipping, fees.

    Raises:
        NeedsMapping: a table lacks a row (VAT code, revenue account, shipping ledger).
        RecordFailed: an article is unknown and the setting says fail.
    """
    builder = LineBuilder(order, rules)
    products = [(item, builder.product(item)) for item in order.get("line_items") or ()]
    lines = [line for _, line in products]
    if rules.coupons_as_lines:
        lines.extend(builder.coupons(products))
    for item in order.get("shipping_lines") or ():
        shipping = builder.shipping(item)
        if shipping is not None:
            lines.append(shipping)
    lines.extend(builder.fee(item) for item in order.get("fee_lines") or ())
    if builder.missing_articles and rules.unknown_article == "fail":
        raise RecordFailed(
            "no Asperion article for SKU " + ", ".join(builder.missing_articles),
            detail={"missing_articles": builder.missing_articles},
        )
    if not lines:
        raise RecordFailed("the order has no lines to book")
    return lines
