"""Validation helpers shared by the writable resources: required fields, references, book periods."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.asperion.problems import Errors
from sandbox.asperion.state import Record, Tenant

__all__ = ("book_period", "check_ledger", "check_reference", "check_vat", "require", "stamp")


def require(values: Mapping[str, Any], name: str, field: str, errors: Errors) -> Any:
    """A required field's value; records an error when it is absent or an empty string.

    Args:
        values: The converted fields of the request object.
        name: The field's canonical (camelCase) name.
        field: The field's name in the error (PascalCase, maybe with a line prefix).
        errors: Where the error is recorded.

    Returns:
        The value, or ``None`` when absent.
    """
    value = values.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        errors.add(field, "field.required", field=field.rsplit(".", 1)[-1])
        return None
    return value


def check_reference(
    collection: Mapping[Any, Record], value: Any, field: str, key: str, errors: Errors
) -> Record | None:
    """Look up a referenced record; records a field error when it does not exist.

    Args:
        collection: The referenced records by id.
        value: The id the client sent (``None``, ``0`` and ``""`` mean "none" and are not checked).
        field: The field's name in the error.
        key: The message key (e.g. ``"ref.vat"``).
        errors: Where the error is recorded.

    Returns:
        The referenced record, or ``None``.
    """
    if value is None or value == 0 or value == "":
        return None
    record = collection.get(value)
    if record is None:
        errors.add(field, key, value=value)
    return record


def check_ledger(tenant: Tenant, ledger_id: int | None, field: str, errors: Errors) -> Record | None:
    """Look up a ledger account that is to be booked on; it must exist and not be disabled.

    Args:
        tenant: The administration.
        ledger_id: The account number.
        field: The field's name in the error.
        errors: Where the error is recorded.

    Returns:
        The ledger account, or ``None``.
    """
    account = check_reference(tenant.ledger_accounts, ledger_id, field, "ref.ledger", errors)
    if account is not None and account["disabled"]:
        errors.add(field, "ref.ledger_disabled", value=ledger_id)
    return account


def check_vat(tenant: Tenant, code: str | None, field: str, errors: Errors) -> Record | None:
    """Look up a VAT code (exact id, as the ledger stores it).

    Args:
        tenant: The administration.
        code: The VAT code id.
        field: The field's name in the error.
        errors: Where the error is recorded.

    Returns:
        The VAT code, or ``None``.
    """
    return check_reference(tenant.vat_codes, code, field, "ref.vat", errors)


def book_period(values: Mapping[str, Any], date: str | None, errors: Errors) -> tuple[int, int]:
    """The book year and period of a document: as given, else from its date.

    Args:
        values: The converted header fields (``bookyear``, ``bookperiod``).
        date: The document date (``YYYY-MM-DDTHH:MM:SS``), if valid.
        errors: Where an invalid period is recorded.

    Returns:
        ``(bookyear, bookperiod)``.
    """
    year = values.get("bookyear") or (int(date[:4]) if date else 0)
    period = values.get("bookperiod") or (int(date[5:7]) if date else 0)
    if date and not 1 <= period <= 12:
        errors.add("Bookperiod", "field.period")
    return year, period


def stamp(now: str, record: Record) -> Record:
    """Set a record's ``dateLastChange``.

    Args:
        now: The current time as ``YYYY-MM-DDTHH:MM:SS``.
        record: The record to stamp.

    Returns:
        The same record.
    """
    record["dateLastChange"] = now
    return record
