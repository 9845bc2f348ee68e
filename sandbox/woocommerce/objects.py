"""Object shapes of wc/v3 (every field, WooCommerce's defaults) and small helpers for dates and links."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = (
    "ADDRESS_FIELDS",
    "REST_SITE",
    "SITE",
    "TZ",
    "as_bool",
    "billing_address",
    "customer_index",
    "customer_links",
    "date_pair",
    "links",
    "new_coupon",
    "new_customer",
    "new_product",
    "new_variation",
    "now_pair",
    "order_index",
    "parse_date",
    "product_index",
    "product_links",
    "shipping_address",
    "slugify",
)

TZ = ZoneInfo("Europe/Amsterdam")
SITE = "__SITE__"
REST_SITE = SITE + "/wp-json/wc/v3"
"""Placeholder for the store's home URL in stored records; replaced by the request's base URL on output."""
ADDRESS_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "address_1",
    "address_2",
    "city",
    "state",
    "postcode",
    "country",
)


def date_pair(dt: datetime) -> tuple[str, str]:
    """``(site-local, gmt)`` strings for an aware datetime."""
    return (
        dt.astimezone(TZ).strftime("%Y-%m-%dT%H:%M:%S"),
        dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
    )


def now_pair() -> tuple[str, str]:
    """The current time as ``(site-local, gmt)``."""
    return date_pair(datetime.now(UTC))


def parse_date(value: str, as_gmt: bool) -> str | None:
    """Normalise an ISO 8601 filter value to the ``YYYY-MM-DDTHH:MM:SS`` form it is compared with.

    A value with an offset is converted to site-local time (or GMT when ``as_gmt``); a naive one is taken as is.
    """
    v = value.strip().replace(" ", "T")
    if not v:
        return None
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC if as_gmt else TZ)
    return dt.strftime("%Y-%m-%dT%H:%M:%S")


def slugify(text: str) -> str:
    """A WordPress-like slug."""
    text = re.sub(r"<[^>]*>|&[a-z#0-9]+;", "", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "item"


def links(
    base: str, collection: str, rid: int | str, up: str | None = None, extra: dict[str, str] | None = None
) -> dict[str, Any]:
    """``_links`` with self, collection (and up / customer / … when given)."""
    out: dict[str, Any] = {
        "self": [{"href": f"{base}/{collection}/{rid}"}],
        "collection": [{"href": f"{base}/{collection}"}],
    }
    if up:
        out["up"] = [{"href": up}]
    for rel, href in (extra or {}).items():
        out[rel] = [{"href": href}]
    return out


def product_links(p: dict[str, Any], base: str = REST_SITE) -> dict[str, Any]:
    """``_links`` of a product (``up`` for a child) or a variation (collection under its parent)."""
    if p.get("type") == "variation":
        parent = int(p.get("parent_id") or 0)
        return links(base, f"products/{parent}/variations", p["id"], up=f"{base}/products/{parent}")
    extra = {"up": f"{base}/products/{p['parent_id']}"} if p.get("parent_id") else None
    return links(base, "products", p["id"], extra=extra)


def customer_links(c: dict[str, Any], base: str = REST_SITE) -> dict[str, Any]:
    """``_links`` of a customer."""
    return links(base, "customers", c["id"])


def billing_address(data: dict[str, Any] | None = None) -> dict[str, str]:
    """A billing address with every field (email, phone included)."""
    addr = {k: "" for k in (*ADDRESS_FIELDS, "email", "phone")}
    addr.update({k: str(v) for k, v in (data or {}).items() if k in addr and v is not None})
    return addr


def shipping_address(data: dict[str, Any] | None = None) -> dict[str, str]:
    """A shipping address with every field (phone since WC 5.6, no email)."""
    addr = {k: "" for k in (*ADDRESS_FIELDS, "phone")}
    addr.update({k: str(v) for k, v in (data or {}).items() if k in addr and v is not None})
    return addr


def new_customer(cid: int, data: dict[str, Any], dates: tuple[str, str]) -> dict[str, Any]:
    """A customer object with WooCommerce's defaults, then ``data`` applied."""
    email = str(data.get("email", ""))
    avatar = hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()
    obj: dict[str, Any] = {
        "id": cid,
        "date_created": dates[0],
        "date_created_gmt": dates[1],
        "date_modified": dates[0],
        "date_modified_gmt": dates[1],
        "email": email,
        "first_name": "",
        "last_name": "",
        "role": "customer",
        "username": data.get("username") or email.split("@")[0],
        "billing": billing_address(),
        "shipping": shipping_address(),
        "is_paying_customer": False,
        "avatar_url": f"https://secure.gravatar.com/avatar/{avatar}?s=96&d=mm&r=g",
        "meta_data": [],
    }
    for key in ("first_name", "last_name", "role", "is_paying_customer"):
        if key in data:
            obj[key] = data[key]
    obj["billing"] = billing_address(data.get("billing"))
    obj["shipping"] = shipping_address(data.get("shipping"))
    return obj


_PRODUCT_DEFAULTS: dict[str, Any] = {
    "name": "",
    "slug": "",
    "permalink": "",
    "type": "simple",
    "status": "publish",
    "featured": False,
    "catalog_visibility": "visible",
    "description": "",
    "short_description": "",
    "sku": "",
    "global_unique_id": "",
    "price": "",
    "regular_price": "",
    "sale_price": "",
    "date_on_sale_from": None,
    "date_on_sale_from_gmt": None,
    "date_on_sale_to": None,
    "date_on_sale_to_gmt": None,
    "price_html": "",
    "on_sale": False,
    "purchasable": True,
    "total_sales": 0,
    "virtual": False,
    "downloadable": False,
    "downloads": [],
    "download_limit": -1,
    "download_expiry": -1,
    "external_url": "",
    "button_text": "",
    "tax_status": "taxable",
    "tax_class": "",
    "manage_stock": False,
    "stock_quantity": None,
    "stock_status": "instock",
    "backorders": "no",
    "backorders_allowed": False,
    "backordered": False,
    "low_stock_amount": None,
    "sold_individually": False,
    "weight": "",
    "dimensions": {"length": "", "width": "", "height": ""},
    "shipping_required": True,
    "shipping_taxable": True,
    "shipping_class": "",
    "shipping_class_id": 0,
    "reviews_allowed": True,
    "average_rating": "0.00",
    "rating_count": 0,
    "related_ids": [],
    "upsell_ids": [],
    "cross_sell_ids": [],
    "parent_id": 0,
    "purchase_note": "",
    "categories": [],
    "tags": [],
    "brands": [],
    "images": [],
    "attributes": [],
    "default_attributes": [],
    "variations": [],
    "grouped_products": [],
    "menu_order": 0,
    "meta_data": [],
    "has_options": False,
    "post_password": "",
}

_VARIATION_KEYS = (
    "description",
    "permalink",
    "sku",
    "global_unique_id",
    "price",
    "regular_price",
    "sale_price",
    "date_on_sale_from",
    "date_on_sale_from_gmt",
    "date_on_sale_to",
    "date_on_sale_to_gmt",
    "on_sale",
    "status",
    "purchasable",
    "virtual",
    "downloadable",
    "downloads",
    "download_limit",
    "download_expiry",
    "tax_status",
    "tax_class",
    "manage_stock",
    "stock_quantity",
    "stock_status",
    "backorders",
    "backorders_allowed",
    "backordered",
    "low_stock_amount",
    "weight",
    "dimensions",
    "shipping_class",
    "shipping_class_id",
    "menu_order",
    "meta_data",
)


def derive_product(obj: dict[str, Any], currency_symbol: str = "&euro;") -> None:
    """Fields WooCommerce derives: price, on_sale, purchasable, stock status, price_html, …"""
    sale, regular = obj.get("sale_price") or "", obj.get("regular_price") or ""
    if obj.get("type") in ("simple", "external", "variation", None):
        obj["price"] = sale or regular
        obj["on_sale"] = bool(sale) and sale != regular
        obj["purchasable"] = obj["price"] != "" and obj.get("status", "publish") != "trash"
    if obj.get("manage_stock") is True and obj.get("stock_quantity") is not None:
        qty = int(obj["stock_quantity"])
        if qty > 0:
            obj["stock_status"] = "instock"
        else:
            obj["stock_status"] = "onbackorder" if obj.get("backorders") in ("yes", "notify") else "outofstock"
        obj["backordered"] = qty < 0
    obj["backorders_allowed"] = obj.get("backorders") in ("yes", "notify")
    if obj.get("virtual"):
        obj["shipping_required"] = False
    if "price_html" in obj and obj.get("price"):
        price = obj["price"]
        symbol = f'<span class="woocommerce-Price-currencySymbol">{currency_symbol}</span>'
        amount = price.replace(".", ",")
        obj["price_html"] = f'<span class="woocommerce-Price-amount amount"><bdi>{symbol}&nbsp;{amount}</bdi></span>'


def new_product(pid: int, data: dict[str, Any], dates: tuple[str, str], base_site: str) -> dict[str, Any]:
    """A product object with every field; ``data`` (a create body) applied."""
    obj: dict[str, Any] = {"id": pid}
    for key, default in _PRODUCT_DEFAULTS.items():
        if key == "type":
            obj["date_created"], obj["date_created_gmt"] = dates
            obj["date_modified"], obj["date_modified_gmt"] = dates
        obj[key] = (
            data.get(key, default) if not isinstance(default, dict | list) else data.get(key, type(default)(default))
        )
    obj["slug"] = obj["slug"] or slugify(obj["name"])
    obj["permalink"] = f"{base_site}/product/{obj['slug']}/"
    if obj["type"] == "variable":
        obj["purchasable"] = False
    derive_product(obj)
    return obj


def new_variation(vid: int, parent: dict[str, Any], data: dict[str, Any], dates: tuple[str, str]) -> dict[str, Any]:
    """A variation object (``type: "variation"``, ``parent_id``, ``name`` as modern WooCommerce sends them)."""
    obj: dict[str, Any] = {"id": vid, "type": "variation", "parent_id": parent["id"]}
    obj["date_created"], obj["date_created_gmt"] = dates
    obj["date_modified"], obj["date_modified_gmt"] = dates
    for key in _VARIATION_KEYS:
        default = _PRODUCT_DEFAULTS.get(key, "")
        obj[key] = data.get(key, type(default)(default) if isinstance(default, dict | list) else default)
    obj["description"] = data.get("description", "")
    obj["image"] = data.get("image")
    attrs = data.get("attributes") or []
    obj["attributes"] = [
        {"id": a.get("id", 0), "name": a.get("name", ""), "option": a.get("option", "")} for a in attrs
    ]
    options = ", ".join(a["option"] for a in obj["attributes"] if a["option"])
    obj["name"] = data.get("name") or (f"{parent['name']} - {options}" if options else parent["name"])
    query = "&".join(f"attribute_{slugify(a['name'])}={slugify(a['option'])}" for a in obj["attributes"])
    obj["permalink"] = f"{parent.get('permalink', '')}?{query}" if query else parent.get("permalink", "")
    if obj["manage_stock"] is False and parent.get("manage_stock"):
        obj["manage_stock"] = "parent"
    derive_product(obj)
    return obj


def order_index(o: dict[str, Any]) -> dict[str, Any]:
    """What order lists filter and sort on."""
    return {
        "status": o.get("status", ""),
        "customer_id": int(o.get("customer_id") or 0),
        "parent_id": int(o.get("parent_id") or 0),
        "created": o.get("date_created") or "",
        "created_gmt": o.get("date_created_gmt") or "",
        "modified": o.get("date_modified") or "",
        "modified_gmt": o.get("date_modified_gmt") or "",
        "products": {int(li.get("product_id") or 0) for li in o.get("line_items", [])}
        | {int(li.get("variation_id") or 0) for li in o.get("line_items", [])},
    }


def product_index(p: dict[str, Any]) -> dict[str, Any]:
    """What product and variation lists filter and sort on."""
    return {
        "type": p.get("type", "simple"),
        "status": p.get("status", "publish"),
        "sku": p.get("sku") or "",
        "gtin": p.get("global_unique_id") or "",
        "stock_status": p.get("stock_status", "instock"),
        "name": p.get("name") or "",
        "slug": p.get("slug") or "",
        "parent_id": int(p.get("parent_id") or 0),
        "created": p.get("date_created") or "",
        "created_gmt": p.get("date_created_gmt") or "",
        "modified": p.get("date_modified") or "",
        "modified_gmt": p.get("date_modified_gmt") or "",
        "price": p.get("price") or "",
        "virtual": bool(p.get("virtual")),
        "downloadable": bool(p.get("downloadable")),
        "featured": bool(p.get("featured")),
        "on_sale": bool(p.get("on_sale")),
        "tax_class": p.get("tax_class") or "",
        "categories": {int(c.get("id") or 0) for c in p.get("categories", []) or []},
        "menu_order": int(p.get("menu_order") or 0),
    }


def customer_index(c: dict[str, Any]) -> dict[str, Any]:
    """What customer lists filter and sort on."""
    return {
        "email": (c.get("email") or "").lower(),
        "role": c.get("role") or "customer",
        "name": f"{c.get('first_name', '')} {c.get('last_name', '')}".strip().lower() or (c.get("username") or ""),
        "created": c.get("date_created") or "",
        "created_gmt": c.get("date_created_gmt") or "",
        "modified": c.get("date_modified") or "",
        "modified_gmt": c.get("date_modified_gmt") or "",
    }


def new_coupon(cid: int, code: str, kind: str, amount: str, desc: str, local: str, gmt: str) -> dict[str, Any]:
    """A coupon object with every field."""
    return {
        "id": cid,
        "code": code,
        "amount": amount,
        "status": "publish",
        "date_created": local,
        "date_created_gmt": gmt,
        "date_modified": local,
        "date_modified_gmt": gmt,
        "discount_type": kind,
        "description": desc,
        "date_expires": None,
        "date_expires_gmt": None,
        "usage_count": 0,
        "individual_use": False,
        "product_ids": [],
        "excluded_product_ids": [],
        "usage_limit": None,
        "usage_limit_per_user": None,
        "limit_usage_to_x_items": None,
        "free_shipping": False,
        "product_categories": [],
        "excluded_product_categories": [],
        "exclude_sale_items": False,
        "minimum_amount": "0.00",
        "maximum_amount": "0.00",
        "email_restrictions": [],
        "used_by": [],
        "meta_data": [],
    }


def as_bool(value: Any) -> bool:
    """WordPress's ``rest_sanitize_boolean``."""
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes", "on")
    return bool(value)
