"""Debtors: create (customer number from 10000 when absent) and full update."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.asperion.listing import note_mutation
from sandbox.asperion.problems import Errors, ProblemError
from sandbox.asperion.rules import check_reference, require
from sandbox.asperion.schema import DEBTOR, read_fields
from sandbox.asperion.state import Counters, Record, Tenant

__all__ = ("FIRST_CUSTOMER_NUMBER", "create_debtor", "update_debtor")

FIRST_CUSTOMER_NUMBER = 10000
_READ_ONLY = ("id", "dateAdded", "dateLastChange")
_NULL_DEFAULTS = ("addressLine2", "addressLine3", "comments", "characteristic4", "characteristic5")


def _next_customer_number(tenant: Tenant) -> str:
    """The lowest free customer number from the first one on (remembering where the search may start, so that
    creating the 100,000th debtor does not walk past the 99,999 before it)."""
    number = max(FIRST_CUSTOMER_NUMBER, tenant.free_number_from)
    while str(number) in tenant.debtor_numbers:
        number += 1
    tenant.free_number_from = number
    return str(number)


def _build(tenant: Tenant, body: Mapping[str, Any], errors: Errors) -> dict[str, Any]:
    values = read_fields(body, DEBTOR, "$", errors)
    record: dict[str, Any] = {}
    for name, field_type in DEBTOR.items():
        if name in _READ_ONLY:
            continue
        if name in values:
            record[name] = values[name]
        elif name in _NULL_DEFAULTS:
            record[name] = None
        elif field_type == "bool":
            record[name] = False
        elif field_type == "str":
            record[name] = ""
    require(values, "name", "Name", errors)
    country = record["countryCode"]
    if country:
        if len(country) != 2 or not country.isascii() or not country.isalpha():
            errors.add("CountryCode", "field.country", value=country)
        record["countryCode"] = country.upper()
    check_reference(tenant.debtor_kinds, record["debtorKindId"], "DebtorKindId", "ref.debtor_kind", errors)
    record.setdefault("paymentConditionId", 1)
    check_reference(
        tenant.payment_conditions, record["paymentConditionId"], "PaymentConditionId", "ref.payment_condition", errors
    )
    record["customerNumber"] = record["customerNumber"].strip()
    errors.raise_if_any()
    return record


def _check_unique(tenant: Tenant, customer_number: str, own_id: int | None) -> None:
    holder = tenant.debtor_numbers.get(customer_number)
    if holder is not None and holder != own_id:
        raise ProblemError.field(409, "CustomerNumber", "duplicate.customer_number", value=customer_number)


def create_debtor(
    tenant: Tenant, counters: Counters, body: Mapping[str, Any], now: str, *, validate_only: bool
) -> Record:
    """Create a debtor.

    Args:
        tenant: The administration.
        counters: The id sequences.
        body: The decoded request body.
        now: The current time (``dateAdded``).
        validate_only: Validate and answer, but store nothing (the answer then has ``id`` 0).

    Returns:
        The new debtor.

    Raises:
        ProblemError: 400 with field errors; 409 for a customer number already in use.
    """
    fields = _build(tenant, body, Errors())
    if fields["customerNumber"]:
        _check_unique(tenant, fields["customerNumber"], None)
    else:
        fields["customerNumber"] = _next_customer_number(tenant)
    debtor: Record = {"id": 0, **fields, "dateAdded": now, "dateLastChange": None}
    debtor = {name: debtor[name] for name in DEBTOR}
    if validate_only:
        return debtor
    debtor["id"] = counters.next("debtor")
    tenant.debtors[debtor["id"]] = debtor
    tenant.debtor_numbers[debtor["customerNumber"]] = debtor["id"]
    return debtor


def update_debtor(tenant: Tenant, debtor: Record, body: Mapping[str, Any], now: str, *, validate_only: bool) -> Record:
    """Replace a debtor's fields with the full object sent (read-only fields are ignored).

    Args:
        tenant: The administration.
        debtor: The stored debtor.
        body: The decoded request body.
        now: The current time (``dateLastChange``).
        validate_only: Validate and answer, but change nothing.

    Returns:
        The updated debtor.

    Raises:
        ProblemError: 400 with field errors; 409 for a customer number already in use by another debtor.
    """
    fields = _build(tenant, body, Errors())
    if not fields["customerNumber"]:
        fields["customerNumber"] = debtor["customerNumber"]
    _check_unique(tenant, fields["customerNumber"], debtor["id"])
    updated = {**debtor, **fields, "dateLastChange": now}
    if validate_only:
        return updated
    if updated["customerNumber"] != debtor["customerNumber"]:
        freed = str(debtor["customerNumber"])
        del tenant.debtor_numbers[freed]
        tenant.debtor_numbers[updated["customerNumber"]] = debtor["id"]
        if freed.isdigit():
            tenant.free_number_from = min(tenant.free_number_from, int(freed))
    debtor.update(updated)
    note_mutation()
    return debtor
