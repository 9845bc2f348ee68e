"""The built-in flow templates: the standard WooCommerce ↔ Asperion flows as flow documents.

Each template is a JSON file ``engine/templates/<name>.json`` (format ``koppel.flow/1``) of ordinary nodes that a
user opens on the canvas and changes; the settings of its map nodes are the defaults of the accounting contract.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ("TEMPLATE_DIR", "TEMPLATE_INFO", "get_template", "list_templates", "questions")

TEMPLATE_DIR = Path(__file__).with_name("templates")

TEMPLATE_INFO: dict[str, dict[str, Any]] = {
    "orders-to-sales-invoices": {
        "title": "Orders → sales invoices",
        "description": (
            "Every paid or completed order in my shop becomes a sales invoice in Asperion, on the right customer: "
            "a returning customer is found by e-mail, a new one is created (a company with its contact person, or "
            "a private person), and guest orders go to my default debtor. Each line gets the right VAT code for "
            "the customer's country — Dutch rates, OSS for consumers elsewhere in the EU, reverse charge for EU "
            "businesses with a VAT number, export outside the EU — and the revenue account for that region. "
            "Shipping, fees and discounts are booked too, and an invoice whose totals would differ from the order "
            "by more than a cent is not booked at all but shown to me. Refunds become credit invoices."
        ),
    },
    "orders-to-sales-orders": {
        "title": "Orders → sales orders",
        "description": (
            "Every paid or completed order becomes a sales order in Asperion instead of an invoice, with the same "
            "customer, lines, VAT codes and revenue accounts. Lines whose SKU is an article in Asperion become "
            "article lines, so on inTrade my stock in Asperion follows what I sell online."
        ),
    },
    "payments-to-financial-mutations": {
        "title": "Payments → financial mutations",
        "description": (
            "When an order is paid, its payment is booked in my bank journal against the order's invoice: the "
            "amount arrives on my bank account or on the clearing account of the payment provider (Mollie, Stripe, "
            "PayPal) and the invoice is marked paid. Payments of orders whose invoice is not booked yet wait until "
            "it is; a payment is never booked twice."
        ),
    },
    "customers-to-debtors": {
        "title": "Customers → debtors",
        "description": (
            "Every customer account in my shop becomes a debtor in Asperion, matched by e-mail address and kept up "
            "to date: name, company and contact person, billing address, phone and VAT number, and the customer "
            "classification (business or consumer, in the Netherlands, the EU or elsewhere)."
        ),
    },
    "products-to-articles": {
        "title": "Products → articles",
        "description": (
            "Every product with a SKU becomes an article in Asperion, and every variation of a variable product "
            "its own article (name plus size, colour…). The price is sent without VAT; I decide per field whether "
            "the flow keeps it up to date, sets it only once, or leaves it alone. Filters decide which products go."
        ),
    },
    "stock-to-woocommerce": {
        "title": "Stock → WooCommerce",
        "description": (
            "Asperion keeps my stock; this flow copies it to my shop for every article whose code is a SKU there: "
            "what I have minus what open sales orders have reserved, never below zero. Only changed numbers are "
            "sent, and the shop's 'manage stock' is switched on for those products."
        ),
    },
    "asperion-orders-to-woocommerce": {
        "title": "Asperion orders → WooCommerce",
        "description": (
            "Sales orders I enter in Asperion (by phone, at a fair) appear as orders in my shop, with the customer "
            "found by e-mail or created. Every article must exist in the shop by SKU, otherwise the order is "
            "shown to me with the missing SKUs; an order is never created twice."
        ),
    },
    "mollie-settlements-to-bank": {
        "title": "Mollie settlements → bank",
        "description": (
            "Every payout Mollie makes to my bank becomes one entry in my bank journal: the amount that arrives on "
            "my bank account, the payments Mollie settled (minus refunds) taken off the payment provider's clearing "
            "account where my payments were booked, chargebacks back on my debtors, and Mollie's fees on my payment "
            "costs with their VAT to reclaim. A payout that does not add up to the cent is shown to me, not booked."
        ),
    },
}
"""Per template: a title and a paragraph in a shop owner's words (gallery, wizard, README), and ``questions``."""


def _ask(nodes: list[str], field: str, question: str, **extra: Any) -> dict[str, Any]:
    return {"nodes": nodes, "field": field, "question": question, **extra}


_ORDER_QUESTIONS = [
    _ask(["orders"], "statuses", "Which order statuses should be booked?"),
    _ask(
        ["orders"],
        "start_date",
        "From which date on? Orders created before it are left alone.",
        propose="today",
    ),
]
_DEBTOR_QUESTIONS = [
    _ask(["debtor", "refund_debtor"], "guests_to_default", "Book orders of guests (no account) on one default debtor?"),
    _ask(["debtor", "refund_debtor"], "default_debtor", "The customer number of that default debtor in Asperion"),
]
_INVOICE_QUESTIONS = [
    _ask(
        ["orders"],
        "statuses",
        "Which order statuses should be read? Processing and completed ones are invoiced; keep 'refunded' so that "
        "full refunds are credited.",
    ),
    *_ORDER_QUESTIONS[1:],
]
_QUESTIONS: dict[str, list[dict[str, Any]]] = {
    "orders-to-sales-invoices": _INVOICE_QUESTIONS + _DEBTOR_QUESTIONS,
    "orders-to-sales-orders": _ORDER_QUESTIONS + _DEBTOR_QUESTIONS,
    "payments-to-financial-mutations": _ORDER_QUESTIONS,
    "customers-to-debtors": [],
    "products-to-articles": [_ask(["products"], "status", "Which products: only published ones, or any status?")],
    "stock-to-woocommerce": [_ask(["stock"], "formula", "Which stock should the shop show?")],
    "asperion-orders-to-woocommerce": [
        _ask(["sales_orders"], "statuses", "Which Asperion sales orders go to the shop?")
    ],
    "mollie-settlements-to-bank": [
        _ask(["settlements"], "settled_from", "From which payout date on? Earlier payouts are left alone.")
    ],
}
for _name, _info in TEMPLATE_INFO.items():
    _info["questions"] = _QUESTIONS.get(_name, [])


def questions(name: str) -> list[dict[str, Any]]:
    """The setup wizard's questions of a template: which node fields (``nodes``, ``field``) an answer sets.

    ``nodes`` lists every node of the template the answer applies to (only those the document has count);
    ``propose`` (optional) is the answer to offer, e.g. ``today`` for a start date.
    """
    return [dict(question) for question in TEMPLATE_INFO.get(name, {}).get("questions", [])]


@lru_cache(maxsize=1)
def _load() -> dict[str, dict[str, Any]]:
    documents: dict[str, dict[str, Any]] = {}
    for path in sorted(TEMPLATE_DIR.glob("*.json")):
        documents[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return documents


def list_templates() -> list[str]:
    """The template names, in the order of the contract's table (others after them, alphabetically)."""
    names = _load()
    known = [name for name in TEMPLATE_INFO if name in names]
    return known + sorted(name for name in names if name not in TEMPLATE_INFO)


def get_template(name: str) -> dict[str, Any]:
    """A fresh copy of the template's flow document (callers may change it).

    Raises:
        KeyError: no template has this name.
    """
    documents = _load()
    if name not in documents:
        raise KeyError(name)
    return copy.deepcopy(documents[name])
