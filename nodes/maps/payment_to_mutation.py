"""``map.payment_to_mutation``: a paid WooCommerce order → an Asperion journal entry settling its sales invoice.

Two lines in the bank journal: ``+total`` on the bank or clearing account of the payment method and ``−total`` on
the debtors account with the debtor and the invoice, so the invoice is paid in Asperion. The order's invoice must be
booked first (found by its description); until then the record waits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

from nodes.accounting import as_id, cents, money
from nodes.base import Kind, NeedsMapping, NodeConfig, Port, ProcessNode, Record, RecordProblem, SkipRecord
from nodes.bookings import current_booking, settled_on
from nodes.connectors.asperion import AsperionConnection
from nodes.maps.fields import Code, CodeTable
from nodes.maps.inputs import source_payload
from nodes.texts import shown

__all__ = (
    "DEFAULT_FEE_META_KEYS",
    "DEFAULT_PAYMENT_ACCOUNTS",
    "InvoiceNotBooked",
    "PaidAmountDiffers",
    "PaymentSettings",
    "PaymentToMutation",
    "build_mutation",
    "payment_account",
    "provider_fee",
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


DEFAULT_FEE_META_KEYS: tuple[str, ...] = (
    "_stripe_fee",
    "Stripe Fee",
    "_ppcp_paypal_fees",
    "PayPal Transaction Fee",
    "_wcpay_transaction_fee",
)
"""Order meta keys where payment plugins keep the provider's fee (Stripe, its older versions, PayPal Payments,
PayPal Standard, WooPayments)."""


class InvoiceNotBooked(RecordProblem):
    """The order's invoice is not (yet) in Asperion: the payment waits (not failed) and a retry books it."""

    status = "waiting"

    def __init__(self, description: str) -> None:
        super().__init__(
            f"waiting for the sales invoice {shown(description)}: book the order's invoice first, then retry",
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
    tolerance: Annotated[Decimal, WithJsonSchema({"type": "number", "minimum": 0, "multipleOf": 0.01})] = Field(
        Decimal("0.01"),
        ge=0,
        title="Paid amount tolerance",
        description="A payment that differs from what its invoice asks by more than this waits as 'paid amount "
        "differs' (never a silent over- or underpayment).",
    )
    fee_meta_keys: list[str] = Field(
        default_factory=lambda: list(DEFAULT_FEE_META_KEYS),
        title="Provider fee order meta",
        description="Order meta keys where payment plugins keep their fee (Stripe _stripe_fee and the older "
        "'Stripe Fee', PayPal Payments _ppcp_paypal_fees, PayPal Standard 'PayPal Transaction Fee', WooPayments "
        "_wcpay_transaction_fee); the first one the order has counts. Mollie reports fees in its settlements.",
    )
    costs_account: Code = Field(
        "4500",
        title="Payment costs ledger",
        description="Provider fees are booked here; only the net amount goes to the bank/clearing account.",
        json_schema_extra={"ui": {"widget": "select", "options_from": "asperion.ledgeraccounts"}},
    )
    currency: str = Field(
        "EUR",
        title="Administration currency",
        description="A payment of an order in another currency settles its invoice at the amount the invoice was "
        "booked at (converted when it was booked).",
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
    raise NeedsMapping(
        "payment_accounts",
        method or "(none)",
        f"payment method {shown(method or 'none')} has no bank or clearing account yet",
    )


def _fill(template: str, order: Mapping[str, Any]) -> str:
    text = template.replace("{number}", str(order.get("number") or order.get("id") or ""))
    text = text.replace("{transaction_id}", str(order.get("transaction_id") or ""))
    return text.replace(" ()", "")


def provider_fee(order: Mapping[str, Any], keys: Sequence[str]) -> Decimal:
    """The payment provider's fee the order carries in its meta (0 when none): a number, or PayPal Payments'
    ``{"paypal_fee": {"value": …}}``."""
    meta = {str(m.get("key")): m.get("value") for m in order.get("meta_data") or () if isinstance(m, Mapping)}
    for key in keys:
        value = meta.get(key)
        if isinstance(value, Mapping):
            value = (
                (value.get("paypal_fee") or {}).get("value") if isinstance(value.get("paypal_fee"), Mapping) else None
            )
        try:
            fee = cents(money(value))
        except ValueError:
            continue
        if fee > 0:
            return fee
    return Decimal(0)


def build_mutation(
    order: Mapping[str, Any],
    settings: PaymentSettings,
    *,
    invoice_id: Any,
    debtor_id: Any,
    amount: Decimal | None = None,
    fee: Decimal = Decimal(0),
) -> dict[str, Any]:
    """The journal entry of an order's payment: the net amount on the bank or clearing account, the provider's
    fee on the payment costs ledger, the whole amount off the debtor (settling the invoice). Pure.

    Args:
        amount: what settles the invoice (default: the order total).
        fee: the provider's fee, in the administration's currency.

    Raises:
        SkipRecord: the order is not paid.
        NeedsMapping: the payment method has no account.
    """
    if not order.get("date_paid"):
        raise SkipRecord("the order is not paid")
    total = cents(money(order.get("total")) if amount is None else amount)
    description = _fill(settings.description_template, order)
    date = str(order["date_paid"])[:10]
    bank = payment_account(settings.payment_accounts, str(order.get("payment_method") or ""))
    lines: list[dict[str, Any]] = [
        {"amount": float(total - fee), "ledgerAccountId": bank, "description": description, "bookingDate": date}
    ]
    if fee:
        lines.append(
            {
                "amount": float(fee),
                "ledgerAccountId": as_id(settings.costs_account),
                "description": f"{description}: provider fee",
                "bookingDate": date,
            }
        )
    lines.append(
        {
            "amount": float(-total),
            "ledgerAccountId": as_id(settings.debtors_account),
            "description": description,
            "bookingDate": date,
            "debtorId": debtor_id,
            "salesInvoiceId": invoice_id,
        }
    )
    return {"journalId": settings.journal_id, "date": date, "description": description, "lines": lines}


class PaidAmountDiffers(RecordProblem):
    """The payment does not match what its invoice asks: it waits instead of over- or underpaying silently."""

    status = "waiting"

    def __init__(self, paid: Decimal, invoice: Mapping[str, Any], asked: Decimal) -> None:
        number = invoice.get("invoiceNumber") or invoice.get("id")
        super().__init__(
            f"paid amount differs: {paid} paid, sales invoice {number} asks {asked} "
            f"({shown(invoice.get('description'))}); correct the order or book the difference by hand, then retry",
            detail={"paid_amount_differs": {"paid": str(paid), "invoice": invoice.get("id"), "asked": str(asked)}},
        )


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
        if not cents(money(order.get("total"))):
            raise SkipRecord("nothing to pay: the order's total is 0.00")
        payment_account(self.config.payment_accounts, str(order.get("payment_method") or ""))
        client = self.ctx.client(self.config.connection)
        description = _fill(self.config.invoice_description_template, order)
        # The booking that stands settles: the first invoice, or its latest correction.
        invoice = current_booking(await client.invoices_described(description), description)
        if not invoice:
            if order.get("status") == "refunded":  # refunded before it was ever invoiced: nothing to settle
                raise SkipRecord(
                    f"no invoice {shown(description)} was booked for this refunded order: nothing to settle"
                )
            raise InvoiceNotBooked(description)
        asked = cents(money(invoice.get("amountInclVat")))
        paid = cents(money(order.get("total")))
        foreign = str(order.get("currency") or self.config.currency).upper() != self.config.currency.upper()
        fee = provider_fee(order, self.config.fee_meta_keys)
        if foreign:  # the invoice holds the converted amount; the fee converts at the same rate
            fee = cents(fee * asked / paid) if paid else Decimal(0)
            paid = asked
        elif abs(paid - asked) > self.config.tolerance:
            raise PaidAmountDiffers(paid, invoice, asked)
        # What the order's payment booked before settles this invoice too (moved onto a correction): the financial
        # mutation target books only the difference, so an invoice already settled beyond what it asks now (an
        # order edited downward without a refund) waits instead of paying money back that never went back.
        settled, _ = settled_on(await client.journal_entries_described(description), invoice["id"])
        if settled - asked > self.config.tolerance:
            raise PaidAmountDiffers(settled, invoice, asked)
        debtor_id = await self._debtor_id(client, str(invoice.get("debtorCustomerNumber") or ""))
        entry = build_mutation(order, self.config, invoice_id=invoice["id"], debtor_id=debtor_id, amount=paid, fee=fee)
        out = record.derive(entry)
        out.context["invoice"] = {"id": invoice["id"], "debtorCustomerNumber": invoice.get("debtorCustomerNumber")}
        return out

    async def _debtor_id(self, client: Any, customer_number: str) -> Any:
        cache: dict[str, Any] = self.ctx.cache.setdefault(f"maps:{self.config.connection}:debtor_ids", {})
        if customer_number not in cache:
            debtor = await client.find_debtor_by_customer_number(customer_number) if customer_number else None
            cache[customer_number] = (debtor or {}).get("id")
        return cache[customer_number]
