"""Articles: create and full update; ``currentStock`` and ``reservedStock`` are read-only (stock moves only through
sales orders, or :meth:`AsperionSim.set_stock` in tests)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sandbox.asperion.listing import note_mutation
from sandbox.asperion.money import ZERO
from sandbox.asperion.problems import Errors, ProblemError
from sandbox.asperion.rules import check_reference, require
from sandbox.asperion.schema import ARTICLE, read_fields
from sandbox.asperion.state import Counters, Record, Tenant

__all__ = ("DEFAULT_SALES_TYPE", "add_article", "create_article", "update_article")

DEFAULT_SALES_TYPE = 1
"""Omzet hoog tarief (8000, H21)."""
_READ_ONLY_STOCK = {"currentstock": "CurrentStock", "reservedstock": "ReservedStock"}


def _build(tenant: Tenant, body: Mapping[str, Any], errors: Errors) -> dict[str, Any]:
    for key, value in body.items():
        field = _READ_ONLY_STOCK.get(key.lower())
        if field is not None and value is not None:
            errors.add(field, "field.read_only", field=field)
    values = read_fields(body, ARTICLE, "$", errors)
    code = require(values, "code", "Code", errors)
    require(values, "description", "Description", errors)
    sales_type_id = values.get("salesTypeId", DEFAULT_SALES_TYPE)
    check_reference(tenant.sales_types, sales_type_id, "SalesTypeId", "ref.sales_type", errors)
    errors.raise_if_any()
    return {
        "code": code.strip(),
        "description": values["description"],
        "longDescription": values.get("longDescription", ""),
        "ean": values.get("ean", ""),
        "salesPrice": values.get("salesPrice", ZERO),
        "salesTypeId": sales_type_id,
        "unit": values.get("unit", "stuk"),
        "active": values.get("active", True),
    }


def _check_unique(tenant: Tenant, code: str, own_id: int | None) -> None:
    holder = tenant.article_codes.get(code.lower())
    if holder is not None and holder != own_id:
        raise ProblemError.field(409, "Code", "duplicate.article_code", value=code)


def add_article(tenant: Tenant, counters: Counters, fields: dict[str, Any], now: str) -> Record:
    """Store a validated article with zero stock.

    Args:
        tenant: The administration.
        counters: The id sequences.
        fields: The article's writable fields.
        now: The current time.

    Returns:
        The stored article.
    """
    article: Record = {
        "id": counters.next("article"),
        **fields,
        "currentStock": Decimal(0),
        "reservedStock": Decimal(0),
        "dateLastChange": now,
    }
    article = {name: article[name] for name in ARTICLE}
    tenant.articles[article["id"]] = article
    tenant.article_codes[article["code"].lower()] = article["id"]
    return article


def create_article(
    tenant: Tenant, counters: Counters, body: Mapping[str, Any], now: str, *, validate_only: bool
) -> Record:
    """Create an article.

    Args:
        tenant: The administration.
        counters: The id sequences.
        body: The decoded request body.
        now: The current time.
        validate_only: Validate and answer, but store nothing.

    Returns:
        The new article.

    Raises:
        ProblemError: 400 with field errors (also for stock fields in the body); 409 for a code in use.
    """
    fields = _build(tenant, body, Errors())
    _check_unique(tenant, fields["code"], None)
    if validate_only:
        preview = {"id": 0, **fields, "currentStock": Decimal(0), "reservedStock": Decimal(0), "dateLastChange": now}
        return {name: preview[name] for name in ARTICLE}
    return add_article(tenant, counters, fields, now)


def update_article(
    tenant: Tenant, article: Record, body: Mapping[str, Any], now: str, *, validate_only: bool
) -> Record:
    """Replace an article's writable fields with the full object sent.

    Args:
        tenant: The administration.
        article: The stored article.
        body: The decoded request body.
        now: The current time.
        validate_only: Validate and answer, but change nothing.

    Returns:
        The updated article.

    Raises:
        ProblemError: 400 with field errors (also for stock fields in the body); 409 for a code in use.
    """
    fields = _build(tenant, body, Errors())
    _check_unique(tenant, fields["code"], article["id"])
    updated = {**article, **fields, "dateLastChange": now}
    if validate_only:
        return updated
    del tenant.article_codes[article["code"].lower()]
    tenant.article_codes[updated["code"].lower()] = article["id"]
    article.update(updated)
    note_mutation()
    return article
