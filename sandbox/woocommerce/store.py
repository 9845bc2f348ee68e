"""The simulated store's configuration: settings, tax rates and classes, shipping, payment gateways, countries.

This always exists, also in an "empty" store (no orders, customers, products, webhooks): a Dutch shop in EUR
with Dutch VAT (21 / 9 / 0 %) and the EU OSS rates, three tax classes, shipping zones with flat rate, free
shipping and local pickup, and the payment gateways a Dutch shop typically has.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ("COUNTRIES", "EU_RATES", "StoreConfig", "load_data")

_DATA = Path(__file__).with_name("data")


@cache
def _load(name: str) -> Any:
    return json.loads((_DATA / name).read_text("utf-8"))


def load_data(name: str) -> Any:
    """A fresh copy of a bundled JSON file from ``data/``."""
    return copy.deepcopy(_load(name))


# country: (standard, reduced) VAT in percent, 2025/2026 values. NL is the shop's own country.
EU_RATES: dict[str, tuple[str, str]] = {
    "NL": ("21", "9"),
    "AT": ("20", "10"),
    "BE": ("21", "6"),
    "BG": ("20", "9"),
    "HR": ("25", "13"),
    "CY": ("19", "9"),
    "CZ": ("21", "12"),
    "DK": ("25", "0"),
    "EE": ("24", "9"),
    "FI": ("25.5", "14"),
    "FR": ("20", "5.5"),
    "DE": ("19", "7"),
    "GR": ("24", "13"),
    "HU": ("27", "5"),
    "IE": ("23", "13.5"),
    "IT": ("22", "10"),
    "LV": ("21", "12"),
    "LT": ("21", "9"),
    "LU": ("17", "8"),
    "MT": ("18", "7"),
    "PL": ("23", "8"),
    "PT": ("23", "6"),
    "RO": ("21", "11"),
    "SK": ("23", "19"),
    "SI": ("22", "9.5"),
    "ES": ("21", "10"),
    "SE": ("25", "12"),
}

_NAMES = {
    "NL": "Netherlands",
    "AT": "Austria",
    "BE": "Belgium",
    "BG": "Bulgaria",
    "HR": "Croatia",
    "CY": "Cyprus",
    "CZ": "Czech Republic",
    "DK": "Denmark",
    "EE": "Estonia",
    "FI": "Finland",
    "FR": "France",
    "DE": "Germany",
    "GR": "Greece",
    "HU": "Hungary",
    "IE": "Ireland",
    "IT": "Italy",
    "LV": "Latvia",
    "LT": "Lithuania",
    "LU": "Luxembourg",
    "MT": "Malta",
    "PL": "Poland",
    "PT": "Portugal",
    "RO": "Romania",
    "SK": "Slovakia",
    "SI": "Slovenia",
    "ES": "Spain",
    "SE": "Sweden",
    "GB": "United Kingdom (UK)",
    "US": "United States (US)",
    "CH": "Switzerland",
    "NO": "Norway",
    "BR": "Brazil",
    "VN": "Vietnam",
    "CA": "Canada",
    "AU": "Australia",
}
_STATES: dict[str, list[tuple[str, str]]] = {
    "US": [("CA", "California"), ("NY", "New York"), ("TX", "Texas"), ("WA", "Washington"), ("FL", "Florida")],
    "NL": [],
    "DE": [],
    "BR": [("RJ", "Rio de Janeiro"), ("SP", "São Paulo")],
}
COUNTRIES: list[dict[str, Any]] = [
    {"code": c, "name": n, "states": [{"code": s, "name": sn} for s, sn in _STATES.get(c, [])]}
    for c, n in sorted(_NAMES.items(), key=lambda kv: kv[1])
]

_TAX_CLASSES = [("standard", "Standard rate"), ("reduced-rate", "Reduced rate"), ("zero-rate", "Zero rate")]


def _rate(rid: int, country: str, rate: str, name: str, klass: str, order: int) -> dict[str, Any]:
    return {
        "id": rid,
        "country": country,
        "state": "",
        "postcode": "",
        "city": "",
        "postcodes": [],
        "cities": [],
        "rate": f"{float(rate):.4f}",
        "name": name,
        "priority": 1,
        "compound": False,
        "shipping": True,
        "order": order,
        "class": klass,
    }


def _default_rates() -> dict[int, dict[str, Any]]:
    rates: dict[int, dict[str, Any]] = {}
    rid = 0
    for klass, idx in (("standard", 0), ("reduced-rate", 1)):
        for order, (country, pair) in enumerate(EU_RATES.items()):
            rid += 1
            label = "BTW" if country == "NL" else ("MwSt." if country in ("DE", "AT") else "VAT")
            pct = pair[idx]
            name = f"{label} {pct.rstrip('0').rstrip('.') if '.' in pct else pct}%"
            rates[rid] = _rate(rid, country, pct, name, klass, order)
    rid += 1
    rates[rid] = _rate(rid, "NL", "0", "BTW 0%", "zero-rate", 0)
    return rates


def _zones() -> tuple[dict[int, dict[str, Any]], dict[int, list[dict[str, Any]]], dict[int, list[dict[str, Any]]]]:
    zones = {
        1: {"id": 1, "name": "Nederland", "order": 0},
        2: {"id": 2, "name": "België en Duitsland", "order": 1},
        3: {"id": 3, "name": "Europese Unie", "order": 2},
        0: {"id": 0, "name": "Locations not covered by your other zones", "order": 0},
    }
    eu_other = [c for c in EU_RATES if c not in ("NL", "BE", "DE")]
    locations = {
        1: [{"code": "NL", "type": "country"}],
        2: [{"code": "BE", "type": "country"}, {"code": "DE", "type": "country"}],
        3: [{"code": c, "type": "country"} for c in eu_other],
        0: [],
    }
    tmpl = {m["method_id"]: m for m in load_data("shipping_method_templates.json")}
    methods: dict[int, list[dict[str, Any]]] = {}
    instance = 0

    def method(method_id: str, title: str, cost: str | None = None, min_amount: str | None = None) -> dict[str, Any]:
        nonlocal instance
        instance += 1
        m: dict[str, Any]
        if method_id in tmpl:
            m = copy.deepcopy(tmpl[method_id])
        else:
            m = copy.deepcopy(tmpl["flat_rate"])
            m["method_id"], m["method_title"] = method_id, "Local pickup"
            m["method_description"] = "<p>Allow customers to pick up orders themselves.</p>\n"
            m["settings"] = {k: v for k, v in m["settings"].items() if k in ("title", "tax_status", "cost")}
        m["instance_id"], m["title"], m["order"], m["enabled"] = instance, title, instance, True
        m["settings"]["title"]["value"] = title
        if cost is not None and "cost" in m["settings"]:
            m["settings"]["cost"]["value"] = cost
        if min_amount is not None and "min_amount" in m["settings"]:
            m["settings"]["min_amount"]["value"] = min_amount
            m["settings"]["requires"]["value"] = "min_amount"
        return m

    methods[1] = [
        method("flat_rate", "PostNL", "4.95"),
        method("free_shipping", "Gratis verzending", None, "50"),
        method("local_pickup", "Afhalen in de winkel", "0"),
    ]
    methods[2] = [method("flat_rate", "DHL", "7.95"), method("free_shipping", "Gratis verzending", None, "100")]
    methods[3] = [method("flat_rate", "PostNL EU", "12.50")]
    methods[0] = [method("flat_rate", "Internationaal", "24.95")]
    return zones, locations, methods


def _tax_options() -> list[dict[str, Any]]:
    def opt(
        oid: str, label: str, value: Any, typ: str = "select", options: dict[str, str] | None = None
    ) -> dict[str, Any]:
        o: dict[str, Any] = {
            "id": oid,
            "label": label,
            "description": "",
            "type": typ,
            "default": value,
            "tip": "",
            "value": value,
        }
        if options:
            o["options"] = options
        return o

    return [
        opt(
            "woocommerce_prices_include_tax",
            "Prices entered with tax",
            "yes",
            "radio",
            {"yes": "Yes, I will enter prices inclusive of tax", "no": "No, I will enter prices exclusive of tax"},
        ),
        opt(
            "woocommerce_tax_based_on",
            "Calculate tax based on",
            "shipping",
            "select",
            {
                "shipping": "Customer shipping address",
                "billing": "Customer billing address",
                "base": "Shop base address",
            },
        ),
        opt(
            "woocommerce_shipping_tax_class",
            "Shipping tax class",
            "inherit",
            "select",
            {
                "inherit": "Shipping tax class based on cart items",
                "": "Standard",
                "reduced-rate": "Reduced rate",
                "zero-rate": "Zero rate",
            },
        ),
        opt("woocommerce_tax_round_at_subtotal", "Rounding", "no", "checkbox"),
        opt(
            "woocommerce_tax_display_shop",
            "Display prices in the shop",
            "incl",
            "select",
            {"incl": "Including tax", "excl": "Excluding tax"},
        ),
        opt(
            "woocommerce_tax_display_cart",
            "Display prices during cart and checkout",
            "incl",
            "select",
            {"incl": "Including tax", "excl": "Excluding tax"},
        ),
        opt(
            "woocommerce_tax_total_display",
            "Display tax totals",
            "itemized",
            "select",
            {"single": "As a single total", "itemized": "Itemized"},
        ),
    ]


class StoreConfig:
    """Mutable store configuration (settings, taxes, shipping, gateways)."""

    def __init__(self) -> None:
        self.general: list[dict[str, Any]] = load_data("settings_general.json")
        self.general.extend(
            {"id": oid, "label": label, "description": "", "type": "text", "default": "", "tip": "", "value": value}
            for oid, label, value in (
                ("woocommerce_store_address", "Address line 1", "Keizersgracht 123"),
                ("woocommerce_store_address_2", "Address line 2", ""),
                ("woocommerce_store_city", "City", "Amsterdam"),
                ("woocommerce_default_country", "Country / State", "NL"),
                ("woocommerce_store_postcode", "Postcode / ZIP", "1015 CJ"),
            )
        )
        self.tax_options = _tax_options()
        self.tax_rates = _default_rates()
        self.next_rate_id = max(self.tax_rates) + 1
        self.tax_classes: list[dict[str, str]] = [{"slug": s, "name": n} for s, n in _TAX_CLASSES]
        self.zones, self.zone_locations, self.zone_methods = _zones()
        self.next_zone_id = 4
        self.gateways: list[dict[str, Any]] = load_data("payment_gateways.json")
        self._rate_cache: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        self._options: dict[str, dict[str, Any]] | None = None

    def invalidate(self) -> None:
        """Forget cached rate look-ups (call after changing ``tax_rates`` or tax settings)."""
        self._rate_cache.clear()

    # -- settings ---------------------------------------------------------------------------------------------
    def option(self, oid: str) -> Any:
        """The value of a general or tax option (option objects are looked up by id, values read live)."""
        if self._options is None:
            self._options = {o["id"]: o for o in (*self.general, *self.tax_options)}
        found = self._options.get(oid)
        return None if found is None else found["value"]

    @property
    def currency(self) -> str:
        """The store currency (EUR)."""
        return str(self.option("woocommerce_currency") or "EUR")

    @property
    def prices_include_tax(self) -> bool:
        """``woocommerce_prices_include_tax == "yes"``."""
        return str(self.option("woocommerce_prices_include_tax")) == "yes"

    @property
    def base_country(self) -> str:
        """The shop's country (``woocommerce_default_country``, country part)."""
        return str(self.option("woocommerce_default_country") or "NL").split(":")[0]

    # -- taxes --------------------------------------------------------------------------------------------------
    def class_slugs(self) -> list[str]:
        """Tax class slugs in order, standard first."""
        return [c["slug"] for c in self.tax_classes]

    def rates_for(self, country: str, state: str, postcode: str, city: str, tax_class: str) -> list[dict[str, Any]]:
        """The rates WooCommerce applies to a location and class: the best match per priority."""
        key = (country, state, postcode, city, tax_class)
        cached = self._rate_cache.get(key)
        if cached is not None:
            return cached
        result = self._rates_for(country, state, postcode, city, tax_class)
        if len(self._rate_cache) > 10_000:
            self._rate_cache.clear()
        self._rate_cache[key] = result
        return result

    def _rates_for(self, country: str, state: str, postcode: str, city: str, tax_class: str) -> list[dict[str, Any]]:
        klass = tax_class or "standard"
        country, state = (country or "").upper(), (state or "").upper()
        pc, ct = (postcode or "").upper().replace(" ", ""), (city or "").upper()
        chosen: dict[int, dict[str, Any]] = {}
        for rate in sorted(self.tax_rates.values(), key=lambda r: (r["priority"], r["order"], r["id"])):
            if (rate["class"] or "standard") != klass:
                continue
            if rate["country"] and rate["country"].upper() != country:
                continue
            if rate["state"] and rate["state"].upper() != state:
                continue
            postcodes = [p.upper().replace(" ", "") for p in (rate.get("postcodes") or [])]
            if rate.get("postcode") and not postcodes:
                postcodes = [p.strip().upper() for p in str(rate["postcode"]).split(";") if p.strip()]
            if postcodes and not any(pc == p or (p.endswith("*") and pc.startswith(p[:-1])) for p in postcodes):
                continue
            cities = [c.upper() for c in (rate.get("cities") or [])]
            if rate.get("city") and not cities:
                cities = [c.strip().upper() for c in str(rate["city"]).split(";") if c.strip()]
            if cities and ct not in cities:
                continue
            chosen.setdefault(rate["priority"], rate)
        return [chosen[p] for p in sorted(chosen)]
