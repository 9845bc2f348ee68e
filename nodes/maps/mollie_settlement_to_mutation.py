"""``map.mollie_settlement_to_mutation``: a Mollie settlement → one Asperion bank-journal entry.

The lines (debit positive, credit negative), so that the payment provider's clearing account reconciles to zero
once the payments themselves were booked on it (the ``payments-to-financial-mutations`` template):

- bank account: ``+payout`` (the settlement's amount, as it arrives on the bank statement);
- clearing account: ``−payments`` settled, ``+refunds`` (money Mollie paid back to customers);
- chargebacks account (default the debtors account: the customer owes the amount again): ``+chargebacks``;
- payment costs account: ``+costs`` ex VAT, with the VAT code and VAT amount of Mollie's fees;
- VAT account (input VAT to reclaim): ``+VAT`` on the costs.

Before anything is booked the settlement must add up: payments − refunds − chargebacks − costs incl. VAT = payout,
and, when the source read them, the totals of the settled payments, refunds and chargebacks equal the periods' to
the cent. A settlement in another currency than the euro is refused.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field

from nodes.accounting import as_id
from nodes.base import Kind, NodeConfig, Port, ProcessNode, Record, RecordFailed
from nodes.connectors.asperion import AsperionConnection
from nodes.connectors.mollie import SettlementTotals, money, settlement_totals
from nodes.connectors.mollie.shapes import currency_of
from nodes.maps.fields import Code

__all__ = ("SettlementBookingSettings", "SettlementToMutation", "build_settlement_entry")

_CENT = Decimal("0.01")


def _account(title: str, default: str, description: str = "") -> Any:
    return Field(
        default,
        title=title,
        description=description,
        json_schema_extra={"ui": {"widget": "select", "options_from": "asperion.ledgeraccounts"}},
    )


class SettlementBookingSettings(NodeConfig):
    """Settings of the settlement → bank journal entry map."""

    connection: AsperionConnection = Field(
        AsperionConnection("asperion"),
        title="Asperion connection",
        description="The administration whose accounts the form offers.",
    )
    journal_id: Code = Field(
        "10",
        title="Bank journal",
        json_schema_extra={"ui": {"widget": "select", "options_from": "asperion.journals"}},
    )
    bank_account: Code = _account("Bank account", "1000", "Where Mollie's payout arrives.")
    clearing_account: Code = _account(
        "Clearing account", "1100", "The payment provider's clearing account the payments were booked on."
    )
    chargebacks_account: Code = _account(
        "Chargebacks account",
        "1300",
        "Where charged-back payments go: by default the debtors account, as the customer owes the amount again "
        "(the payment left the clearing account when the payment was booked and settled).",
    )
    costs_account: Code = _account("Payment costs account", "4500", "Mollie's fees, without VAT.")
    costs_vat_code: Code = Field(
        "VH21",
        title="VAT code of the costs",
        description="The purchase VAT code of Mollie's fees (Mollie charges Dutch VAT).",
        json_schema_extra={"ui": {"widget": "select", "options_from": "asperion.vatcodes"}},
    )
    vat_account: Code = _account("Input VAT account", "1520", "The VAT on Mollie's fees, to reclaim.")
    description_template: str = Field(
        "Mollie settlement {reference}",
        title="Description",
        description="{reference} = the settlement's bank reference, {id} = its Mollie id. Also how an entry already "
        "booked is recognised.",
    )


def _fill(template: str, settlement: dict[str, Any]) -> str:
    return template.replace("{reference}", str(settlement.get("reference") or "")).replace(
        "{id}", str(settlement.get("id") or "")
    )


def _check_details(settlement: dict[str, Any], totals: SettlementTotals, name: str) -> None:
    settled = settlement.get("settled")
    if not isinstance(settled, dict):
        return
    pairs = (("payments", totals.payments), ("refunds", totals.refunds), ("chargebacks", totals.chargebacks))
    differences = [
        f"{kind}: {money(settled.get(kind, {}).get('total')):.2f} settled, {expected:.2f} in its periods"
        for kind, expected in pairs
        if money((settled.get(kind) or {}).get("total")) != expected.quantize(_CENT)
    ]
    if differences:
        raise RecordFailed(
            f"Mollie's {name} does not match what it settled ({'; '.join(differences)}); nothing was booked.",
            detail={"settled": settled},
        )


def build_settlement_entry(settlement: dict[str, Any], settings: SettlementBookingSettings) -> dict[str, Any]:
    """The journal entry of a settlement. Pure.

    Raises:
        RecordFailed: the settlement is not in euros, does not add up, or differs from what it settled.
    """
    name = f"settlement {settlement.get('reference') or settlement.get('id')}"
    currency = currency_of(settlement.get("amount"))
    if currency != "EUR":
        raise RecordFailed(f"Mollie's {name} is in {currency}; only settlements in euros can be booked.")
    try:
        totals = settlement_totals(settlement)
        payout = money(settlement.get("amount"))
    except (ValueError, TypeError, AttributeError) as exc:
        raise RecordFailed(f"Mollie's {name} has an amount that is not a number ({exc}).") from exc
    if totals.payout.quantize(_CENT) != payout.quantize(_CENT):
        raise RecordFailed(
            f"Mollie's {name} does not add up: {payout:.2f} paid out, but its periods give {totals.payments:.2f} "
            f"payments − {totals.refunds:.2f} refunds − {totals.chargebacks:.2f} chargebacks − "
            f"{totals.costs_gross:.2f} costs = {totals.payout:.2f}; nothing was booked.",
        )
    _check_details(settlement, totals, name)
    description = _fill(settings.description_template, settlement)
    date = str(settlement.get("settledAt") or settlement.get("createdAt") or "")[:10]
    lines: list[dict[str, Any]] = []

    def line(value: Decimal, account: str, what: str, **extra: Any) -> None:
        if value:
            text = f"{description}: {what}"
            row = {"amount": float(value.quantize(_CENT)), "ledgerAccountId": as_id(account), "description": text}
            lines.append({**row, "bookingDate": date, **extra})

    line(payout, settings.bank_account, "payout")
    line(-totals.payments, settings.clearing_account, f"{totals.payment_count} payments")
    line(totals.refunds, settings.clearing_account, f"{totals.refund_count} refunds")
    line(totals.chargebacks, settings.chargebacks_account, f"{totals.chargeback_count} chargebacks")
    vat = float(totals.costs_vat.quantize(_CENT))
    line(totals.costs_net, settings.costs_account, "Mollie costs", vatCode=settings.costs_vat_code, vatAmount=vat)
    line(totals.costs_vat, settings.vat_account, "VAT on Mollie costs")
    if not lines:
        raise RecordFailed(f"Mollie's {name} moved no money; there is nothing to book.")
    return {"journalId": settings.journal_id, "date": date, "description": description, "lines": lines}


class SettlementToMutation(ProcessNode):
    """Mollie settlement → Asperion bank-journal entry (payout, clearing, chargebacks, costs and their VAT)."""

    type = "map.mollie_settlement_to_mutation"
    kind = Kind.MAP
    title = "Mollie settlement → bank entry"
    description = (
        "Books a Mollie payout as one entry in the bank journal: the payout on the bank account, the settled "
        "payments minus refunds and chargebacks off the payment provider's clearing account, and Mollie's costs "
        "without VAT on the payment costs account with their VAT, so the clearing account comes back to zero."
    )
    app = "asperion"
    config_model = SettlementBookingSettings
    inputs = (Port("in", "mollie.settlement"),)
    outputs = (Port("out", "asperion.journal_entry"),)

    config: SettlementBookingSettings

    async def process(self, record: Record) -> Record:
        """Build the entry of the record's settlement."""
        settlement = record.data if isinstance(record.data, dict) and "periods" in record.data else record.source
        out = record.derive(build_settlement_entry(settlement, self.config))
        out.context["settlement"] = {"id": settlement.get("id"), "reference": settlement.get("reference")}
        return out
