"""Field types of every Asperion resource, and the strict conversion of request bodies.

Like ASP.NET Core with System.Text.Json (``JsonSerializerDefaults.Web``): property names match without regard to
case, unknown properties are ignored, numbers may also come as JSON strings (``AllowReadingFromString``: ``"8000"``,
``"12.50"``), and any other mismatch (a number for a string, ``8000.5`` for an integer, ``"yes"`` for a boolean, an
array for the lines wrapper) is a 400 naming the JSON path. Null counts as absent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sandbox.asperion.problems import Errors

__all__ = (
    "ADMINISTRATION",
    "ARTICLE",
    "COST_CENTER",
    "COST_UNIT",
    "DEBTOR",
    "DEBTOR_KIND",
    "INVOICE",
    "INVOICE_LINE",
    "JOURNAL",
    "JOURNAL_ENTRY",
    "JOURNAL_ENTRY_LINE",
    "LEDGER_ACCOUNT",
    "PAYMENT_CONDITION",
    "SALES_ORDER",
    "SALES_ORDER_LINE",
    "SALES_TYPE",
    "VAT_CODE",
    "FieldType",
    "Schema",
    "normalize_date",
    "pascal",
    "read_fields",
    "read_lines",
)

FieldType = Literal["int", "str", "dec", "bool", "date", "any"]
Schema = Mapping[str, FieldType]

ADMINISTRATION: Schema = {"id": "int", "name": "str"}
DEBTOR: Schema = {
    "id": "int",
    "customerNumber": "str",
    "name": "str",
    "attentionTo": "str",
    "address": "str",
    "addressLine2": "str",
    "addressLine3": "str",
    "postCode": "str",
    "city": "str",
    "countryCode": "str",
    "phoneNumber": "str",
    "faxNumber": "str",
    "mobileNumber": "str",
    "emailAddress": "str",
    "vatNumber": "str",
    "cocNumber": "str",
    "iban": "str",
    "bic": "str",
    "bban": "str",
    "directDebit": "bool",
    "debtorKindId": "str",
    "paymentConditionId": "int",
    "paymentMethodId": "str",
    "comments": "any",
    "characteristic4": "any",
    "characteristic5": "any",
    "blocked": "bool",
    "noReminder": "bool",
    "dateAdded": "date",
    "dateLastChange": "date",
}
INVOICE: Schema = {
    "id": "int",
    "invoiceNumber": "str",
    "date": "date",
    "description": "str",
    "debtorCustomerNumber": "str",
    "journalId": "str",
    "bookyear": "int",
    "bookperiod": "int",
    "status": "int",
    "paymentConditionId": "int",
    "paymentDueDate": "date",
    "amountExclVat": "dec",
    "vatAmount": "dec",
    "amountInclVat": "dec",
}
INVOICE_LINE: Schema = {
    "id": "int",
    "description": "str",
    "amount": "dec",
    "ledgerAccountId": "int",
    "vatCode": "str",
    "vatAmount": "dec",
    "costCenterId": "int",
    "costUnitId": "int",
    "articleId": "int",
    "quantity": "dec",
    "unitPrice": "dec",
}
JOURNAL_ENTRY: Schema = {
    "id": "int",
    "journalId": "str",
    "date": "date",
    "bookyear": "int",
    "bookperiod": "int",
    "description": "str",
    "sourceDocumentNumber": "str",
    "state": "int",
    "openingBalance": "dec",
    "closingBalance": "dec",
}
JOURNAL_ENTRY_LINE: Schema = {
    "id": "int",
    "amount": "dec",
    "bookingDate": "date",
    "description": "str",
    "ledgerAccountId": "int",
    "vatCode": "str",
    "vatAmount": "dec",
    "costCenterId": "int",
    "debtorId": "int",
    "creditorId": "int",
    "salesInvoiceId": "int",
    "purchaseInvoiceId": "int",
}
JOURNAL: Schema = {"id": "str", "description": "str", "type": "str"}
LEDGER_ACCOUNT: Schema = {
    "id": "int",
    "type": "int",
    "description": "str",
    "vatCode": "str",
    "disabled": "bool",
    "rcsfi": "str",
}
VAT_CODE: Schema = {
    "id": "str",
    "description": "str",
    "salesCode": "bool",
    "percentage": "dec",
    "isDefault": "bool",
    "validFrom": "date",
    "validUntil": "date",
    "countryCode": "str",
}
PAYMENT_CONDITION: Schema = {"id": "int", "description": "str"}
COST_CENTER: Schema = {"id": "int", "description": "str", "conversionCode": "str"}
COST_UNIT: Schema = COST_CENTER
SALES_TYPE: Schema = {"id": "int", "description": "str", "ledgerAccountId": "int", "vatCode": "str"}
DEBTOR_KIND: Schema = {"id": "str", "description": "str"}
ARTICLE: Schema = {
    "id": "int",
    "code": "str",
    "description": "str",
    "longDescription": "str",
    "ean": "str",
    "salesPrice": "dec",
    "salesTypeId": "int",
    "unit": "str",
    "currentStock": "dec",
    "reservedStock": "dec",
    "active": "bool",
    "dateLastChange": "date",
}
SALES_ORDER: Schema = {
    "id": "int",
    "orderNumber": "str",
    "debtorCustomerNumber": "str",
    "date": "date",
    "description": "str",
    "status": "str",
}
SALES_ORDER_LINE: Schema = {
    "articleId": "int",
    "description": "str",
    "quantity": "dec",
    "unitPrice": "dec",
    "amount": "dec",
    "vatCode": "str",
    "ledgerAccountId": "int",
}

_NET_TYPES = {
    "int": "System.Int32",
    "str": "System.String",
    "dec": "System.Decimal",
    "bool": "System.Boolean",
    "date": "System.DateTime",
    "any": "System.Object",
}
_INTEGER = re.compile(r"^-?\d{1,18}$")
_NUMBER = re.compile(r"^-?\d{1,20}(?:\.\d{1,10})?(?:[eE][+-]?\d{1,3})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(?:Z|[+-]\d{2}:\d{2})?)?$")


def pascal(name: str) -> str:
    """The PascalCase spelling of a camelCase field name, as ASP.NET names fields in errors.

    Args:
        name: e.g. ``"debtorCustomerNumber"``.

    Returns:
        e.g. ``"DebtorCustomerNumber"``.
    """
    return name[:1].upper() + name[1:]


def normalize_date(value: str) -> str | None:
    """Parse a date as Asperion accepts it and give it in its output form.

    Args:
        value: ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS[.f]]`` with an optional zone (dropped).

    Returns:
        ``YYYY-MM-DDTHH:MM:SS``, or ``None`` when the text is no such date.
    """
    if not _DATE.match(value):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=None, microsecond=0).isoformat(timespec="seconds")


def _convert(value: Any, field_type: FieldType) -> tuple[bool, Any]:
    if field_type == "str":
        return isinstance(value, str), value
    if field_type == "int":
        if isinstance(value, str) and _INTEGER.match(value):
            return True, int(value)
        return type(value) is int, value
    if field_type == "dec":
        if isinstance(value, str) and _NUMBER.match(value):
            return True, Decimal(value)
        if type(value) is int:
            return True, Decimal(value)
        return isinstance(value, Decimal), value
    if field_type == "bool":
        return isinstance(value, bool), value
    if field_type == "date":
        normalized = normalize_date(value) if isinstance(value, str) else None
        return normalized is not None, normalized
    return not isinstance(value, (dict, list)), value


def read_fields(data: Mapping[str, Any], schema: Schema, path: str, errors: Errors) -> dict[str, Any]:
    """Convert the fields of ``schema`` present in a request object.

    Args:
        data: The decoded JSON object (numbers with a fraction as ``Decimal``).
        schema: The resource's field types.
        path: The JSON path of ``data`` for error keys, e.g. ``"$"`` or ``"$.lines._data[0]"``.
        errors: Where conversion errors are recorded.

    Returns:
        The known, non-null fields under their canonical names, converted.
    """
    lookup = {name.lower(): name for name in schema}
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = lookup.get(key.lower())
        if name is None or value is None:
            continue
        field_type = schema[name]
        ok, converted = _convert(value, field_type)
        if ok:
            out[name] = converted
        else:
            errors.add(f"{path}.{name}", "json.type", type=_NET_TYPES[field_type], path=f"{path}.{name}")
    return out


def read_lines(data: Mapping[str, Any], errors: Errors) -> list[tuple[str, dict[str, Any]]] | None:
    """The raw line objects of a body's ``lines: {"_data": [...]}`` wrapper.

    Args:
        data: The decoded request body.
        errors: Where a malformed wrapper is recorded.

    Returns:
        ``(json path, line object)`` pairs; ``None`` when ``lines`` is absent or malformed.
    """
    wrapper = next((value for key, value in data.items() if key.lower() == "lines"), None)
    if wrapper is None:
        return None
    items = None
    if isinstance(wrapper, dict):
        items = next((value for key, value in wrapper.items() if key.lower() == "_data"), None)
    if not isinstance(items, list):
        errors.add("$.lines", "json.lines")
        return None
    lines: list[tuple[str, dict[str, Any]]] = []
    for index, item in enumerate(items):
        path = f"$.lines._data[{index}]"
        if isinstance(item, dict):
            lines.append((path, item))
        else:
            errors.add(path, "json.object")
    return lines
