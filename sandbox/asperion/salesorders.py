"""Sales orders (inTrade only), the only way stock moves: an open order reserves its articles (``reservedStock``),
a delivered or invoiced one has taken them from ``currentStock``, a cancelled one [inferred] does neither (moving an
order to cancelled ends its reservation, or brings delivered stock back)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sandbox.asperion.listing import note_mutation
from sandbox.asperion.money import round_half_up
from sandbox.asperion.problems import Errors, ProblemError
from sandbox.asperion.rules import check_ledger, check_reference, check_vat, require
from sandbox.asperion.schema import SALES_ORDER, SALES_ORDER_LINE, read_fields, read_lines
from sandbox.asperion.state import Counters, Record, Tenant

__all__ = ("FIRST_ORDER_NUMBER", "STATUSES", "create_sales_order", "require_in_trade", "update_sales_order")

STATUSES = ("open", "delivered", "invoiced", "cancelled")
FIRST_ORDER_NUMBER = 50001


def require_in_trade(tenant: Tenant) -> None:
    """Refuse sales orders in an administration without the inTrade package.

    Args:
        tenant: The administration.

    Raises:
        ProblemError: 403.
    """
    if not tenant.in_trade:
        raise ProblemError(403, detail=("module.intrade", {"id": tenant.id}))


def _line(tenant: Tenant, index: int, path: str, raw: Mapping[str, Any], errors: Errors) -> Record:
    prefix = f"Lines[{index}]"
    values = read_fields(raw, SALES_ORDER_LINE, path, errors)
    article_id = require(values, "articleId", f"{prefix}.ArticleId", errors)
    article = check_reference(tenant.articles, article_id, f"{prefix}.ArticleId", "ref.article", errors)
    quantity = require(values, "quantity", f"{prefix}.Quantity", errors)
    if quantity is not None and quantity <= 0:
        errors.add(f"{prefix}.Quantity", "field.positive", field="Quantity")
    sales_type = tenant.sales_types.get(article["salesTypeId"]) if article else None
    unit_price = values.get("unitPrice", article["salesPrice"] if article else Decimal(0))
    vat_code = values.get("vatCode") or (sales_type["vatCode"] if sales_type else "")
    ledger_id = values.get("ledgerAccountId") or (sales_type["ledgerAccountId"] if sales_type else 0)
    check_vat(tenant, vat_code, f"{prefix}.VatCode", errors)
    check_ledger(tenant, ledger_id, f"{prefix}.LedgerAccountId", errors)
    amount = values.get("amount")
    if amount is None and quantity is not None:
        amount = quantity * unit_price
    return {
        "articleId": article_id,
        "description": values.get("description", article["description"] if article else ""),
        "quantity": quantity,
        "unitPrice": unit_price,
        "amount": round_half_up(amount) if amount is not None else Decimal(0),
        "vatCode": vat_code,
        "ledgerAccountId": ledger_id,
    }


def _build(tenant: Tenant, body: Mapping[str, Any], own_id: int | None) -> dict[str, Any]:
    errors = Errors()
    values = read_fields(body, SALES_ORDER, "$", errors)
    raw_lines = read_lines(body, errors)
    customer_number = require(values, "debtorCustomerNumber", "DebtorCustomerNumber", errors)
    if customer_number and tenant.debtor_by_number(customer_number) is None:
        errors.add("DebtorCustomerNumber", "ref.debtor", value=customer_number)
    date = require(values, "date", "Date", errors)
    status = values.get("status", "open").lower()
    if status not in STATUSES:
        errors.add("Status", "field.status", value=values["status"], allowed=", ".join(STATUSES))
    if not raw_lines and "$.lines" not in errors.items:
        errors.add("Lines", "order.no_lines")
    lines = [_line(tenant, index, path, raw, errors) for index, (path, raw) in enumerate(raw_lines or [])]
    errors.raise_if_any()
    order_number = values.get("orderNumber", "").strip()
    if order_number:
        for other in tenant.sales_orders.values():
            if other["orderNumber"] == order_number and other["id"] != own_id:
                raise ProblemError.field(409, "OrderNumber", "duplicate.order_number", value=order_number)
    return {
        "orderNumber": order_number,
        "debtorCustomerNumber": customer_number,
        "date": date,
        "description": values.get("description", ""),
        "status": status,
        "lines": lines,
    }


def _move_stock(tenant: Tenant, order: Record, sign: int) -> None:
    for line in order["lines"]:
        article = tenant.articles[line["articleId"]]
        if article["currentStock"] is None or order["status"] == "cancelled":
            continue  # an article without stock (a service, a download): nothing to reserve or take
        if order["status"] == "open":
            article["reservedStock"] += sign * line["quantity"]
        else:
            article["currentStock"] -= sign * line["quantity"]


def _next_order_number(tenant: Tenant) -> str:
    taken = {order["orderNumber"] for order in tenant.sales_orders.values()}
    number = FIRST_ORDER_NUMBER + len(tenant.sales_orders)
    while str(number) in taken:
        number += 1
    return str(number)


def create_sales_order(tenant: Tenant, counters: Counters, body: Mapping[str, Any], *, validate_only: bool) -> Record:
    """Create a sales order and move the stock of its articles.

    Args:
        tenant: The administration (must have inTrade).
        counters: The id sequences.
        body: The decoded request body (lines wrapped in ``{"_data": [...]}``).
        validate_only: Validate and answer, but store nothing and move no stock.

    Returns:
        The stored order.

    Raises:
        ProblemError: 403 without inTrade; 400 with field errors; 409 for an order number in use.
    """
    require_in_trade(tenant)
    fields = _build(tenant, body, None)
    if not fields["orderNumber"]:
        fields["orderNumber"] = _next_order_number(tenant)
    order: Record = {"id": 0, **fields}
    if validate_only:
        return order
    order["id"] = counters.next("sales_order")
    tenant.sales_orders[order["id"]] = order
    _move_stock(tenant, order, +1)
    return order


def update_sales_order(tenant: Tenant, order: Record, body: Mapping[str, Any], *, validate_only: bool) -> Record:
    """Replace a sales order (e.g. to mark it delivered), undoing its old stock effect and applying the new one.

    Args:
        tenant: The administration.
        order: The stored order.
        body: The decoded request body (the full order).
        validate_only: Validate and answer, but change nothing.

    Returns:
        The updated order.

    Raises:
        ProblemError: 400 with field errors; 409 for an order number in use.
    """
    require_in_trade(tenant)
    fields = _build(tenant, body, order["id"])
    if not fields["orderNumber"]:
        fields["orderNumber"] = order["orderNumber"]
    updated = {**order, **fields}
    if validate_only:
        return updated
    _move_stock(tenant, order, -1)
    order.update(updated)
    note_mutation()
    _move_stock(tenant, order, +1)
    return order
