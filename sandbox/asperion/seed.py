"""The seeded demo administrations, exactly as the table in ``asperion-api.md``.

``1001`` "Koppel Demo B.V." (NL, EUR, inTrade) is the default; ``1002`` "Tweede Winkel B.V." (inBalance) exists for
``X-Tenant-Id`` tests. Both carry the same reference data: a Dutch SMB's VAT codes (21 %, 9 %, 0 %, EU reverse
charge, export, OSS rates), revenue accounts per region, journals, payment conditions, debtor kinds, sales types, a
default debtor and the shipping-cost article.
"""

from __future__ import annotations

from decimal import Decimal

from sandbox.asperion.state import Record, Tenant

__all__ = ("ADMINISTRATIONS", "DEFAULT_DEBTOR_NUMBER", "PROFILE_NAME", "SHIPPING_ARTICLE_CODE", "seed_tenant")

ADMINISTRATIONS: tuple[tuple[int, str, str], ...] = (
    (1001, "Koppel Demo B.V.", "inTrade"),
    (1002, "Tweede Winkel B.V.", "inBalance"),
)
"""``(id, name, package)``; the first is the demo user's default administration."""

PROFILE_NAME = "Koppel Demo"
"""The demo user's profile, shown in every list's ``_meta.profileName``."""

DEFAULT_DEBTOR_NUMBER = "9999"
SHIPPING_ARTICLE_CODE = "VERZEND"
SEED_DATE = "2024-01-01T00:00:00"

_VAT_CODES: tuple[tuple[str, str, str, str], ...] = (
    ("H21", "Btw hoog 21%", "21", "NL"),
    ("L9", "Btw laag 9%", "9", "NL"),
    ("N0", "Btw 0%", "0", "NL"),
    ("ICP", "Intracommunautaire levering (btw verlegd)", "0", ""),
    ("EXP", "Export buiten de EU", "0", ""),
    ("OSS-DE-19", "OSS Duitsland 19%", "19", "DE"),
    ("OSS-DE-7", "OSS Duitsland 7%", "7", "DE"),
    ("OSS-BE-21", "OSS België 21%", "21", "BE"),
    ("OSS-BE-6", "OSS België 6%", "6", "BE"),
    ("OSS-FR-20", "OSS Frankrijk 20%", "20", "FR"),
    ("OSS-FR-5.5", "OSS Frankrijk 5,5%", "5.5", "FR"),
    ("OSS-IT-22", "OSS Italië 22%", "22", "IT"),
    ("OSS-IT-10", "OSS Italië 10%", "10", "IT"),
    ("OSS-ES-21", "OSS Spanje 21%", "21", "ES"),
    ("OSS-AT-20", "OSS Oostenrijk 20%", "20", "AT"),
    ("OSS-AT-10", "OSS Oostenrijk 10%", "10", "AT"),
    ("VH21", "Voorbelasting hoog 21%", "21", "NL"),
)
_PURCHASE_VAT_CODES = frozenset({"VH21"})
"""Codes of VAT paid on purchases (a payment provider's fees), not of sales."""

BALANCE, PROFIT_AND_LOSS = 1, 2
_LEDGER_ACCOUNTS: tuple[tuple[int, int, str, str | None, str], ...] = (
    (1000, BALANCE, "Bank", None, "BLimBanRba"),
    (1100, BALANCE, "Tussenrekening betaalprovider", None, "BLimKruSto"),
    (1110, BALANCE, "PayPal", None, "BLimBanRbb"),
    (1300, BALANCE, "Debiteuren", None, "BVorDebHad"),
    (1520, BALANCE, "Te vorderen btw (voorbelasting)", None, ""),
    (4500, PROFIT_AND_LOSS, "Betaalkosten", None, "WBedAlkBet"),
    (8000, PROFIT_AND_LOSS, "Omzet Nederland", "H21", "WOmzNopOlh"),
    (8100, PROFIT_AND_LOSS, "Omzet EU", None, "WOmzNopOli"),
    (8200, PROFIT_AND_LOSS, "Omzet buiten de EU", "EXP", "WOmzNopOle"),
    (8300, PROFIT_AND_LOSS, "Omzet verzendkosten", "H21", "WOmzNopOvr"),
)

_JOURNALS = (("70", "Verkoopboek", "Verkoop"), ("90", "Memoriaal", "Memoriaal"), ("10", "Bank", "Bank"))
_PAYMENT_CONDITIONS = ((1, "Direct", 0), (2, "14 dagen", 14), (3, "30 dagen", 30), (4, "Rembours", 0))
_DEBTOR_KINDS = (
    ("B2B-NL", "Zakelijk Nederland"),
    ("B2B-EU", "Zakelijk EU"),
    ("B2B-WORLD", "Zakelijk buiten de EU"),
    ("B2C", "Consument"),
)
_SALES_TYPES = (
    (1, "Omzet hoog tarief", 8000, "H21"),
    (2, "Omzet laag tarief", 8000, "L9"),
    (3, "Omzet nultarief", 8000, "N0"),
    (4, "Verzendkosten", 8300, "H21"),
    (5, "Omzet EU (btw verlegd)", 8100, "ICP"),
    (6, "Export buiten de EU", 8200, "EXP"),
)
_COST_CENTERS = ((1, "Webwinkel"), (2, "Winkel"))
_COST_UNITS = ((1, "Algemeen"), (2, "Marketing"))


def default_debtor(debtor_id: int) -> Record:
    """The administration's default debtor for consumer sales.

    Args:
        debtor_id: The id to give it.

    Returns:
        The debtor record.
    """
    return {
        "id": debtor_id,
        "customerNumber": DEFAULT_DEBTOR_NUMBER,
        "name": "WooCommerce consumenten",
        "attentionTo": "",
        "address": "",
        "addressLine2": None,
        "addressLine3": None,
        "postCode": "",
        "city": "",
        "countryCode": "NL",
        "phoneNumber": "",
        "faxNumber": "",
        "mobileNumber": "",
        "emailAddress": "",
        "vatNumber": "",
        "cocNumber": "",
        "iban": "",
        "bic": "",
        "bban": "",
        "directDebit": False,
        "debtorKindId": "B2C",
        "paymentConditionId": 1,
        "paymentMethodId": "",
        "comments": None,
        "characteristic4": None,
        "characteristic5": None,
        "blocked": False,
        "noReminder": False,
        "dateAdded": SEED_DATE,
        "dateLastChange": None,
    }


def shipping_article(article_id: int) -> Record:
    """The article for shipping costs.

    Args:
        article_id: The id to give it.

    Returns:
        The article record.
    """
    return {
        "id": article_id,
        "code": SHIPPING_ARTICLE_CODE,
        "description": "Verzendkosten",
        "longDescription": "",
        "ean": "",
        "salesPrice": Decimal("0.00"),
        "salesTypeId": 4,
        "unit": "stuk",
        "currentStock": Decimal(0),
        "reservedStock": Decimal(0),
        "active": True,
        "dateLastChange": SEED_DATE,
    }


def seed_tenant(tenant_id: int, name: str, package: str, debtor_id: int, article_id: int) -> Tenant:
    """A freshly seeded administration.

    Args:
        tenant_id: The administration id.
        name: Its name.
        package: ``"inTrade"`` or ``"inBalance"``.
        debtor_id: The id for its default debtor.
        article_id: The id for its shipping-cost article.

    Returns:
        The tenant with its reference data, default debtor and shipping article.
    """
    tenant = Tenant(id=tenant_id, name=name, package=package)
    for code, description, percentage, country in _VAT_CODES:
        tenant.vat_codes[code] = {
            "id": code,
            "description": description,
            "salesCode": code not in _PURCHASE_VAT_CODES,
            "percentage": Decimal(percentage),
            "isDefault": code == "H21",
            "validFrom": None,
            "validUntil": None,
            "countryCode": country,
        }
    for number, kind, description, vat_code, rcsfi in _LEDGER_ACCOUNTS:
        tenant.ledger_accounts[number] = {
            "id": number,
            "type": kind,
            "description": description,
            "vatCode": vat_code,
            "disabled": False,
            "rcsfi": rcsfi,
        }
    for journal_id, description, kind_name in _JOURNALS:
        tenant.journals[journal_id] = {"id": journal_id, "description": description, "type": kind_name}
    for condition_id, description, days in _PAYMENT_CONDITIONS:
        tenant.payment_conditions[condition_id] = {"id": condition_id, "description": description, "_days": days}
    for kind_id, description in _DEBTOR_KINDS:
        tenant.debtor_kinds[kind_id] = {"id": kind_id, "description": description}
    for type_id, description, ledger, vat_code in _SALES_TYPES:
        tenant.sales_types[type_id] = {
            "id": type_id,
            "description": description,
            "ledgerAccountId": ledger,
            "vatCode": vat_code,
        }
    for center_id, description in _COST_CENTERS:
        tenant.cost_centers[center_id] = {"id": center_id, "description": description, "conversionCode": ""}
    for unit_id, description in _COST_UNITS:
        tenant.cost_units[unit_id] = {"id": unit_id, "description": description, "conversionCode": ""}
    debtor = default_debtor(debtor_id)
    tenant.debtors[debtor_id] = debtor
    tenant.debtor_numbers[debtor["customerNumber"]] = debtor_id
    article = shipping_article(article_id)
    tenant.articles[article_id] = article
    tenant.article_codes[article["code"].lower()] = article_id
    return tenant
