"""The listable resources of the Asperion API, with their fields and the filters that are not plain fields."""

from __future__ import annotations

from sandbox.asperion import schema
from sandbox.asperion.listing import Predicate, Resource
from sandbox.asperion.problems import Errors
from sandbox.asperion.state import Tenant

__all__ = (
    "ADMINISTRATIONS",
    "ARTICLES",
    "COST_CENTERS",
    "COST_UNITS",
    "DEBTORS",
    "DEBTOR_KINDS",
    "INVOICES_WITH_LINES",
    "INVOICE_HEADERS",
    "JOURNALS",
    "JOURNAL_ENTRIES",
    "LEDGER_ACCOUNTS",
    "PAYMENT_CONDITIONS",
    "SALES_ORDERS",
    "SALES_TYPES",
    "VAT_CODES",
)


def _int_filter(raw: str, errors: Errors, key: str) -> int | None:
    try:
        return int(raw.strip())
    except ValueError:
        errors.add(key, "list.value", value=raw, field=key)
        return None


def _invoice_by_debtor_id(tenant: Tenant, raw: str, errors: Errors, key: str) -> Predicate | None:
    debtor_id = _int_filter(raw, errors, key)
    if debtor_id is None:
        return None
    debtor = tenant.debtors.get(debtor_id)
    number = debtor["customerNumber"] if debtor else None
    return lambda record: record.get("debtorCustomerNumber") == number


def _invoice_by_cost_center(tenant: Tenant, raw: str, errors: Errors, key: str) -> Predicate | None:
    center = _int_filter(raw, errors, key)
    if center is None:
        return None
    return lambda record: any(line.get("costCenterId") == center for line in record.get("lines", ()))


def _entry_by_status(tenant: Tenant, raw: str, errors: Errors, key: str) -> Predicate | None:
    state = _int_filter(raw, errors, key)
    return None if state is None else (lambda record: record.get("state") == state)


ADMINISTRATIONS = Resource(
    "administrations", {"en": "Administration", "nl": "Administratie"}, "", schema.ADMINISTRATION
)
DEBTORS = Resource("debtors", {"en": "Debtor", "nl": "Debiteur"}, "debtors", schema.DEBTOR)
_INVOICE_FILTERS = {"debtorid": _invoice_by_debtor_id, "costcenterid": _invoice_by_cost_center}
INVOICE_HEADERS = Resource(
    "salesinvoices",
    {"en": "Sales invoice", "nl": "Verkoopfactuur"},
    "invoices",
    schema.INVOICE,
    extra_filters=_INVOICE_FILTERS,
)
INVOICES_WITH_LINES = Resource(
    "salesinvoiceswithlines",
    {"en": "Sales invoice", "nl": "Verkoopfactuur"},
    "invoices",
    schema.INVOICE,
    with_lines=True,
    extra_filters=_INVOICE_FILTERS,
)
JOURNAL_ENTRIES = Resource(
    "journalentrieswithlines",
    {"en": "Journal entry", "nl": "Boeking"},
    "journal_entries",
    schema.JOURNAL_ENTRY,
    with_lines=True,
    extra_filters={"status": _entry_by_status},
)
JOURNALS = Resource("journals", {"en": "Journal", "nl": "Dagboek"}, "journals", schema.JOURNAL)
LEDGER_ACCOUNTS = Resource(
    "ledgeraccounts", {"en": "Ledger account", "nl": "Grootboekrekening"}, "ledger_accounts", schema.LEDGER_ACCOUNT
)
VAT_CODES = Resource("vatcodes", {"en": "VAT code", "nl": "Btw-code"}, "vat_codes", schema.VAT_CODE)
PAYMENT_CONDITIONS = Resource(
    "paymentconditions",
    {"en": "Payment condition", "nl": "Betalingsconditie"},
    "payment_conditions",
    schema.PAYMENT_CONDITION,
)
COST_CENTERS = Resource("costcenters", {"en": "Cost center", "nl": "Kostenplaats"}, "cost_centers", schema.COST_CENTER)
COST_UNITS = Resource("costunits", {"en": "Cost unit", "nl": "Kostendrager"}, "cost_units", schema.COST_UNIT)
ARTICLES = Resource("articles", {"en": "Article", "nl": "Artikel"}, "articles", schema.ARTICLE)
SALES_TYPES = Resource("salestypes", {"en": "Sales type", "nl": "Verkoopsoort"}, "sales_types", schema.SALES_TYPE)
SALES_ORDERS = Resource(
    "SalesOrderWithLines",
    {"en": "Sales order", "nl": "Verkooporder"},
    "sales_orders",
    schema.SALES_ORDER,
    with_lines=True,
)
DEBTOR_KINDS = Resource(
    "debtorkinds", {"en": "Debtor kind", "nl": "Debiteurensoort"}, "debtor_kinds", schema.DEBTOR_KIND
)
