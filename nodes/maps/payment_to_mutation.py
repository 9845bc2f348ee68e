"""``map.payment_to_mutation``: a paid WooCommerce order → an Asperion journal entry settling its sales invoice.

Two lines in the bank journal: ``+total`` on the bank or clearing account of the payment method and ``−total`` on
the debtors account with the debtor and the invoice, so the invoice is paid in Asperion. The order's invoice must be
booked first (found by its description); until then the record waits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from nodes.accounting import as_id, cents, money
from nodes.base import Kind, NeedsMapping, NodeConfig, Port, ProcessNode, Record, RecordProblem, SkipRecord
from nodes.connectors.asperion import AsperionConnection
from nodes.maps.fields import Code, CodeTable
from nodes.maps.inputs import source_payload

__all__ = (
    "DEFAULT_PAYMENT_ACCOUNTS",
    "InvoiceNotBooked",
    "PaymentSettings",
    "PaymentToMutation",
    "build_mutation",
    "payment_account",
)

DEFAULT_PAYMENT_ACCOUNTS: dict[str, str] = {
    "bacs": "1000",
    "cheque": "1000",
    "cod": "1000",
    "stripe": "1100",
    "mollie*": "1100",
    "paypal": "1110",
    "ppcp-gateway": "1110",
}
"""Payment method → bank or clearing account; a key ending in ``*`` matches every method starting with it."""


class InvoiceNotBooked(RecordProblem):
    """The order's invoice is not (yet) in Asperion: the payment waits (not failed) and a retry books it."""

    status = "waiting"

    def __init__(self, description: str) -> None:
        super().__init__(
            f"waiting for the sales invoice '{description}': book the order's invoice first, then retry",
            detail={"waiting_for": {"sales_invoice": description}},
        )


class PaymentSettings(NodeConfig):
    """Settings of the payment → financial mutation map."""

    connection: AsperionConnection = Field(
        AsperionConnection("asperion"),
        title="Asperion connection",
        description="Read to find the order's invoice and its debtor.",
    )
    journal_id: Code = Field(
        "10",
        title="Bank journal",
        json_schema_extra={"ui": {"widget": "select", "options_from": "asperion.journals"}},
    )
    payment_accounts: CodeTable = Field(
        default_factory=lambda: dict(DEFAULT_PAYMENT_ACCOUNTS),
        title="Bank/clearing account per payment method",
        description="WooCommerce payment method → ledger account the money arrives on ('mollie*' matches every "
        "method starting with mollie; '*' = any other). A method without a row waits as 'needs mapping'.",
        json_schema_extra={
            "ui": {
                "widget": "table",
                "key_options_from": "woocommerce.payment_gateways",
                "value_options_from": "asperion.ledgeraccounts",
            }
        },
    )
    debtors_account: Code = Field(
        "1300",
        title="Debtors account",
        json_schema_extra={"ui": {"widget": "select", "options_from": "asperion.ledgeraccounts"}},
    )
    invoice_description_template: str = Field(
        "WooCommerce order {number}",
        title="Invoice description",
        description="How the order's sales invoice is described (as set in the invoice flow).",
    )
    description_template: str = Field(
        "Payment WooCommerce order {number} ({transaction_id})",
        title="Description",
        description="{number} = order number, {transaction_id} = the payment provider's reference.",
    )


def payment_account(table: Mapping[str, str], method: str) -> int | str:
    """The ledger account of a payment method: exact row, then the longest matching ``prefix*`` row, then ``*``.

    Raises:
        NeedsMapping: no row matches.
    """
    if table.get(method or "(none)"):
        return as_id(table[method or "(none)"])
    prefixes = sorted((key for key in table if key.endswith("*") and key != "*"), key=len, reverse=True)
    for key in prefixes:
        if method.startswith(key[:-1]) and table[key]:
            return as_id(table[key])
    if table.get("*"):
        return as_id(table["*"])
    raise NeedsMapping("payment_accounts", method or "(none)", f"no bank/clearing account for {method or 'none'!r}")


def _fill(template: str, order: Mapping[str, Any]) -> str:
    text = template.replace("{number}", str(order.get("number") or order.get("id") or ""))
    text = text.replace("{transaction_id}", str(order.get("transaction_id") or ""))
    return text.replace(" ()", "")


def build_mutation(
    order: Mapping[str, Any], settings: PaymentSettings, *, invoice_id: Any, debtor_id: Any
) -> dict[str, Any]:
    """The journal entry of an order's payment. Pure.

    Raises:
        SkipRecord: the order is not paid.
        NeedsMapping: the payment method has no account.
    """
    if not order.get("date_paid"):
        raise SkipRecord("the order is not paid")
    total = cents(money(order.get("total")))
    description = _fill(settings.description_template, order)
    date = str(order["date_paid"])[:10]
    bank = payment_account(settings.payment_accounts, str(order.get("payment_method") or ""))
    return {
        "journalId": settings.journal_id,
        "date": date,
        "description": description,
        "lines": [
            {"amount": float(total), "ledgerAccountId": bank, "description": description, "bookingDate": date},
            {
                "amount": float(-total),
                "ledgerAccountId": as_id(settings.debtors_account),
                "description": description,
                "bookingDate": date,
                "debtorId": debtor_id,
                "salesInvoiceId": invoice_id,
            },
        ],
    }


class PaymentToMutation(ProcessNode):
    """Paid WooCommerce order → Asperion financial mutation (journal entry) that settles its invoice."""

    type = "map.payment_to_mutation"
    kind = Kind.MAP
    title = "Payment → financial mutation"
    description = (
        "For a paid order whose sales invoice is booked: a journal entry in the bank journal moving the order total "
        "from the debtor to the bank or payment-provider account of the payment method, settling the invoice. "
        "Orders whose invoice is not booked yet wait and are retried."
    )
    app = "asperion"
    config_model = PaymentSettings
    inputs = (Port("in", "woocommerce.order"),)
    outputs = (Port("out", "asperion.journal_entry"),)

    config: PaymentSettings

    async def process(self, record: Record) -> Record:
        """Find the invoice and its debtor, then build the entry."""
        order = source_payload(record, "line_items")
        if not order.get("date_paid"):
            raise SkipRecord("the order is not paid")
        payment_account(self.config.payment_accounts, str(order.get("payment_method") or ""))
        client = self.ctx.client(self.config.connection)
        description = _fill(self.config.invoice_description_template, order)
        invoice = await client.find_invoice_by_description(description)
        if not invoice or str(invoice.get("description") or "").strip() != description:
            raise InvoiceNotBooked(description)
        debtor_id = await self._debtor_id(client, str(invoice.get("debtorCustomerNumber") or ""))
        entry = build_mutation(order, self.config, invoice_id=invoice["id"], debtor_id=debtor_id)
        out = record.derive(entry)
        out.context["invoice"] = {"id": invoice["id"], "debtorCustomerNumber": invoice.get("debtorCustomerNumber")}
        return out

    async def _debtor_id(self, client: Any, customer_number: str) -> Any:
        cache: dict[str, Any] = self.ctx.cache.setdefault(f"maps:{self.config.connection}:debtor_ids", {})
        if customer_number not in cache:
            debtor = await client.find_debtor_by_customer_number(customer_number) if customer_number else None
            cache[customer_number] = (debtor or {}).get("id")
        return cache[customer_number]
