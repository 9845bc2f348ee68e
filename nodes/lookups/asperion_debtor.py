"""``asperion.lookup_debtor``: the Asperion debtor of a WooCommerce order — found, created, updated or the default.

The decisions are :func:`nodes.lookups.debtor_rules.decide` (pure, unit-tested); this node does the HTTP around
them: it searches by e-mail (exact re-check), creates or updates when the decision says so (never in a dry run),
remembers answers for the run, and holds a lock per e-mail so that two orders of one new customer processed at the
same time create one debtor, not two.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from pydantic import Field, field_validator

from nodes.base import Kind, NodeConfig, Port, ProcessNode, Record, RecordFailed
from nodes.connectors.asperion import AsperionConnection
from nodes.connectors.http import ServerError, Unreachable, ValidationFailed
from nodes.lookups._run_cache import BoundedMemo, KeyedLocks, once_per_run, run_scoped
from nodes.lookups.debtor_rules import (
    DEFAULT_CLASSIFICATION,
    DEFAULT_VAT_META_KEYS,
    Decision,
    decide,
    needs_search,
    normalize_email,
)
from nodes.paths import PathError, parse_path, set_value
from nodes.texts import shown

__all__ = ("NEW_DEBTOR", "LookupDebtor", "LookupDebtorConfig", "set_path")

NEW_DEBTOR = "(new debtor)"
"""The customer number shown in a dry run for a debtor that would be created."""


class LookupDebtorConfig(NodeConfig):
    """Settings of the debtor lookup (mappings.md step 3)."""

    connection: AsperionConnection = AsperionConnection.field("The connection to look debtors up in.")
    match_key: str = Field(
        "billing.email",
        title="Match on",
        description="Path in the WooCommerce record whose value finds the debtor (compared as e-mail address).",
        json_schema_extra={"ui": {"widget": "field_picker"}},
    )
    guests_to_default: bool = Field(
        True, title="Guests → default debtor", description="Orders without an account are booked on the default debtor."
    )
    business_guests_own_debtor: bool = Field(
        True,
        title="Business guests get their own debtor",
        description="A guest order with a company and a VAT number is a business: it gets a company debtor with "
        "its VAT number (found by e-mail, else created) instead of the default debtor, so reverse-charge invoices "
        "name the buyer's VAT number.",
    )
    always_default: bool = Field(
        False, title="Always the default debtor", description="Book every order on the default debtor."
    )
    default_debtor: str = Field(
        "9999",
        title="Default debtor",
        description="Customer number of the debtor for guests (empty: none; guests are then matched by e-mail too).",
    )
    update_existing: bool = Field(
        False, title="Update customer", description="Update name, address and VAT number of a debtor that is found."
    )
    create_missing: bool = Field(
        True, title="Create missing debtors", description="Create a debtor when none has the e-mail address."
    )
    classification: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_CLASSIFICATION),
        title="Debtor kind per region",
        description="business/consumer : domestic/eu/world → Asperion debtor kind (empty value: no kind). "
        "Debtor kinds are inferred from Asperion's documentation, not its published API.",
        json_schema_extra={"ui": {"widget": "table", "value_options_from": "asperion.debtorkinds"}},
    )
    payment_condition: int | None = Field(
        None,
        title="Payment condition of new debtors",
        description="Left empty, Asperion's default applies.",
        json_schema_extra={"ui": {"widget": "select", "options_from": "asperion.paymentconditions"}},
    )
    vat_meta_keys: list[str] = Field(
        default_factory=lambda: list(DEFAULT_VAT_META_KEYS),
        title="VAT number meta keys",
        description="Order meta keys holding the customer's VAT number, first non-empty wins.",
    )
    shop_country: str = Field(
        "NL",
        title="Shop country",
        description="The administration's country (decides domestic/EU/world).",
        json_schema_extra={"ui": {"widget": "select", "options_from": "woocommerce.countries"}},
    )
    output_field: str = Field(
        "debtorCustomerNumber",
        title="Write customer number to",
        description="Field of the record's data that receives the debtor's customer number (dotted path).",
    )

    @field_validator("match_key", "output_field")
    @classmethod
    def _valid_path(cls, value: str) -> str:
        try:
            if not parse_path(value):
                raise ValueError("name a field")
        except PathError as exc:
            raise ValueError(str(exc)) from exc
        return value


def set_path(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``data`` with ``value`` written at ``path`` (the record's own data is never changed in place)."""
    out = copy.deepcopy(data) if any(c in path for c in ".[") else dict(data)
    set_value(out, path, value)
    return out


def _summary(debtor: dict[str, Any], decision: Decision, *, created: bool, updated: bool, dry: bool) -> dict[str, Any]:
    return {
        "id": debtor.get("id"),
        "customerNumber": str(debtor.get("customerNumber") or ""),
        "name": debtor.get("name", ""),
        "kind": decision.kind or ("default" if decision.action == "default" else None),
        "debtorKindId": debtor.get("debtorKindId"),
        "countryCode": debtor.get("countryCode", ""),
        "vatNumber": debtor.get("vatNumber") or "",
        "emailAddress": debtor.get("emailAddress") or "",
        "action": decision.action,
        "created": created,
        "updated": updated,
        "dry_run": dry,
        "reason": decision.reason,
        "changes": sorted(decision.changes),
    }


def _refused(exc: ValidationFailed, what: str) -> RecordFailed:
    return RecordFailed(f"{what} was refused: {exc.message}", detail={"errors": exc.field_errors, "response": exc.body})


def _would(summary: dict[str, Any]) -> str:
    if summary["action"] == "create":
        return f"dry run: would create {summary['kind']} debtor {shown(summary['name'])} ({summary['emailAddress']})"
    return f"dry run: would update debtor {summary['customerNumber']}: {', '.join(summary['changes'])}"


class LookupDebtor(ProcessNode):
    """Find, create or update the Asperion debtor of a WooCommerce order, or use the default debtor."""

    type = "asperion.lookup_debtor"
    kind = Kind.LOOKUP
    title = "Lookup default debtor"
    description = (
        "Finds the order's debtor in Asperion by e-mail, creates it when missing (company + contact person, or "
        "person), updates it when configured, or uses the default debtor for guests. Writes the customer number "
        "into the record."
    )
    app = "asperion"
    config_model = LookupDebtorConfig
    inputs = (Port("in", "any"),)
    outputs = (Port("out", "same"),)

    config: LookupDebtorConfig
    memo_size: ClassVar[int] = 5_000
    """Debtors remembered per run (by e-mail); older ones are looked up again when needed."""

    @property
    def _prefix(self) -> str:
        return f"asperion.lookup_debtor:{self.config.connection}"

    async def process(self, record: Record) -> Record:
        """Resolve the debtor, put it in ``record.context["debtor"]`` and its number at ``output_field``."""
        booked = record.context.get("debtor_from_booking")
        if booked:  # a credit of a booked invoice goes to that invoice's debtor: nothing to look up or create
            out = record.derive(set_path(record.data, self.config.output_field, str(booked)))
            out.context["debtor"] = {"customerNumber": str(booked), "action": "booked", "dry_run": self.ctx.dry_run}
            return out
        source = record.source
        email = needs_search(source, self.config)
        if not email:
            decision = decide(source, None, self.config)
            summary = await self._default(decision)
        else:
            locks = run_scoped(self.ctx.cache, f"{self._prefix}:locks", KeyedLocks)
            async with locks.hold(email):
                summary = await self._resolve(source, email)
        out = record.derive(set_path(record.data, self.config.output_field, summary["customerNumber"]))
        out.context["debtor"] = summary
        if summary["dry_run"] and summary["action"] in {"create", "update"}:
            out.warnings.append(_would(summary))
        return out

    async def _default(self, decision: Decision) -> dict[str, Any]:
        number = decision.customer_number or ""

        async def fetch() -> dict[str, Any]:
            client = self.ctx.client(self.config.connection)
            found = await client.find_debtor_by_customer_number(number)
            if found is None:
                raise RecordFailed(f"the default debtor {number} does not exist in Asperion")
            return dict(found)

        # Once per run and connection, shared by every worker task (concurrent records wait for the first answer).
        debtor = await once_per_run(self.ctx.cache, f"{self._prefix}:default:{number}", fetch)
        return _summary(debtor, decision, created=False, updated=False, dry=self.ctx.dry_run)

    async def _find(self, email: str) -> dict[str, Any] | None:
        client = self.ctx.client(self.config.connection)
        found = await client.find_debtor_by_email(email)
        # The API matches with "contains"; only an exact (case-insensitive) address is the customer.
        if found is not None and normalize_email(found.get("emailAddress")) != email:
            return None
        return dict(found) if found is not None else None

    async def _create(self, email: str, decision: Decision) -> tuple[dict[str, Any], bool]:
        """Create the debtor; when the answer is lost, look again before anyone creates it a second time."""
        client = self.ctx.client(self.config.connection)
        try:
            return await client.create_debtor(decision.payload), True
        except ValidationFailed as exc:
            raise _refused(exc, f"creating the debtor for {email}") from exc
        except (Unreachable, ServerError):
            again = await self._find(email)
            if again is None:
                raise
            return again, True

    async def _resolve(self, source: dict[str, Any], email: str) -> dict[str, Any]:
        memo: BoundedMemo[dict[str, Any]] = run_scoped(
            self.ctx.cache, f"{self._prefix}:debtors", lambda: BoundedMemo(self.memo_size)
        )
        cached = memo.get(email)
        found = await self._find(email) if cached is None else cached
        decision = decide(source, found, self.config)
        if decision.action == "default":
            return await self._default(decision)
        dry = self.ctx.dry_run
        created = updated = False
        if decision.action == "create":
            if dry:
                debtor = {**decision.payload, "customerNumber": NEW_DEBTOR, "id": None}
            else:
                debtor, created = await self._create(email, decision)
        elif decision.action == "update" and found is not None:
            if dry:
                debtor = {**found, **decision.payload}
            else:
                client = self.ctx.client(self.config.connection)
                try:
                    debtor_id = decision.debtor_id if decision.debtor_id is not None else found["id"]
                    debtor = await client.update_debtor(debtor_id, {**found, **decision.payload})
                except ValidationFailed as exc:
                    raise _refused(exc, f"updating debtor {decision.customer_number}") from exc
                updated = True
        else:
            debtor = found or {}
        memo.put(email, dict(debtor))
        return _summary(debtor, decision, created=created, updated=updated, dry=dry)
