"""``map.customer_to_debtor``: a WooCommerce customer → an Asperion debtor (company + contact, or person).

The company/person rule and the classification are the debtor lookup's own (:mod:`nodes.lookups.debtor_rules`),
so an order's debtor and a customer's debtor always come out the same. The debtor target matches by e-mail and
always updates.
"""

from __future__ import annotations

from pydantic import Field

from nodes.accounting import DEFAULT_VAT_NUMBER_KEYS
from nodes.base import Kind, NodeConfig, Port, ProcessNode, Record, SkipRecord
from nodes.lookups.debtor_rules import DEFAULT_CLASSIFICATION, debtor_payload, normalize_email
from nodes.maps.fields import CodeTable
from nodes.maps.inputs import source_payload
from nodes.texts import shown

__all__ = ("CustomerToDebtor", "DebtorSettings")


class DebtorSettings(NodeConfig):
    """Settings of the customer → debtor map."""

    roles: list[str] = Field(
        default_factory=lambda: ["customer"],
        title="Customer roles",
        description="WordPress roles that become debtors (empty: every role).",
    )
    classification: CodeTable = Field(
        default_factory=lambda: dict(DEFAULT_CLASSIFICATION),
        title="Debtor kind per region",
        description="business/consumer : domestic/eu/world → Asperion debtor kind (customer classification). "
        "Debtor kinds are inferred from Asperion's documentation, not its published API.",
        json_schema_extra={"ui": {"widget": "table", "value_options_from": "asperion.debtorkinds"}},
    )
    vat_meta_keys: list[str] = Field(
        default_factory=lambda: list(DEFAULT_VAT_NUMBER_KEYS),
        title="VAT number meta keys",
        description="Customer meta keys holding the VAT number; the first non-empty one counts.",
    )
    shop_country: str = Field(
        "NL",
        title="Shop country",
        json_schema_extra={"ui": {"widget": "select", "options_from": "woocommerce.countries"}},
    )
    payment_condition: int | None = Field(
        None,
        title="Payment condition of new debtors",
        description="Left empty, Asperion's default applies.",
        json_schema_extra={"ui": {"widget": "select", "options_from": "asperion.paymentconditions"}},
    )


class CustomerToDebtor(ProcessNode):
    """WooCommerce customer → Asperion debtor."""

    type = "map.customer_to_debtor"
    kind = Kind.MAP
    title = "Customer → debtor"
    description = (
        "Turns a WooCommerce customer into an Asperion debtor: a company (name = company, contact person in "
        "'attention to') or a person, with the billing address, phone, e-mail, VAT number and the debtor kind "
        "for its region (B2B-NL, B2B-EU, B2B-WORLD, B2C)."
    )
    config_model = DebtorSettings
    inputs = (Port("in", "woocommerce.customer"),)
    outputs = (Port("out", "asperion.debtor"),)

    config: DebtorSettings

    async def process(self, record: Record) -> Record:
        """Build the debtor; customers of other roles or without e-mail are skipped."""
        customer = source_payload(record, "billing")
        role = str(customer.get("role") or "customer")
        if self.config.roles and role not in self.config.roles:
            raise SkipRecord(f"role {shown(role)} is not one of {', '.join(self.config.roles)}")
        source = dict(customer)
        billing = dict(customer.get("billing") or {})
        for key in ("first_name", "last_name", "email"):
            billing[key] = billing.get(key) or customer.get(key) or ""
        source["billing"] = billing
        if not normalize_email(billing.get("email")):
            raise SkipRecord("the customer has no e-mail address")
        payload, kind = debtor_payload(source, self.config)  # type: ignore[arg-type]
        out = record.derive(payload)
        out.context["debtor_kind"] = kind
        return out
