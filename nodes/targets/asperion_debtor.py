"""``asperion.debtor``: create a debtor, or update the one with the same e-mail address (customers → debtors)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from nodes.base import Delivery, Kind, NodeConfig, Port, Record, SkipRecord, TargetNode
from nodes.connectors.asperion import AsperionConnection
from nodes.lookups.debtor_rules import debtor_changes, normalize_email
from nodes.targets._common import create_once, require, scratch, write

__all__ = ("DebtorConfig", "DebtorTarget")


class DebtorConfig(NodeConfig):
    """Settings of the debtor target."""

    connection: AsperionConnection = AsperionConnection.field("The administration to write to.")
    always_update: bool = Field(
        True,
        title="Always update",
        description="Update name, contact, address, phone, VAT number and kind of a debtor found by e-mail; "
        "off: a debtor that exists is left alone.",
    )


class DebtorTarget(TargetNode):
    """Creates or updates an Asperion debtor, matched by e-mail address."""

    type = "asperion.debtor"
    kind = Kind.TARGET
    title = "Asperion debtor"
    description = (
        "Writes the record as an Asperion debtor: found by e-mail address (case-insensitive) it is updated when "
        "'always update' is on and something differs; otherwise created."
    )
    app = "asperion"
    config_model = DebtorConfig
    inputs = (Port("in", "asperion.debtor"),)
    what: ClassVar[str] = "debtor"
    upsert: ClassVar[bool] = True
    """Delivered before is no reason to skip: a changed customer must update its debtor (see the report)."""

    config: DebtorConfig

    async def _find(self, email: str) -> dict[str, Any] | None:
        return await self.ctx.client(self.config.connection).find_debtor_by_email(email)

    async def _looked_up(self, record: Record) -> dict[str, Any]:
        # The engine may skip find_existing (e.g. when its idempotency map knows the record): look up anyway, so
        # that an update is never sent as a second create.
        state = scratch(record, self.id)
        if not state.get("looked_up"):
            existing = await self.find_existing(record)
            if existing is not None:
                raise SkipRecord(f"already exists as debtor {existing}", target_id=existing)
        return state

    async def find_existing(self, record: Record) -> str | None:
        """The debtor's customer number when there is nothing to do; None when it must be created or updated.

        Raises:
            SkipRecord: the debtor exists and already says what the record says ("unchanged").
        """
        email = normalize_email(record.data.get("emailAddress"))
        scratch(record, self.id)["looked_up"] = True
        found = await self._find(email) if email else None
        if found is None:
            return None
        number = str(found.get("customerNumber") or found.get("id"))
        if not self.config.always_update:
            return number
        changes = debtor_changes(found, record.data)
        if not changes:
            raise SkipRecord(f"debtor {number} unchanged", target_id=number)
        scratch(record, self.id).update(found=found, changes=changes)
        return None

    async def build(self, record: Record) -> dict[str, Any]:
        """The new debtor, or the found debtor with the changed fields (Asperion replaces the whole object)."""
        require(record.data, {"emailAddress": "e-mail address", "name": "name"}, "The debtor")
        state = await self._looked_up(record)
        if "found" in state:
            return {**state["found"], **{name: new for name, (_, new) in state["changes"].items()}}
        return dict(record.data)

    async def send(self, record: Record, payload: dict[str, Any]) -> Delivery:
        """PUT the changed debtor, or POST a new one (a lost answer is checked by e-mail first)."""
        client = self.ctx.client(self.config.connection)
        state = scratch(record, self.id)
        if "found" in state:
            found = state["found"]
            number = str(found.get("customerNumber") or found.get("id"))
            answer = await write(client.update_debtor(found["id"], payload), f"debtor {number}")
            changed = ", ".join(state["changes"])
            return Delivery(number, f"debtor {number} updated: {changed}", request=payload, response=answer)

        async def find() -> str | None:
            again = await self._find(normalize_email(payload.get("emailAddress")))
            return str(again.get("customerNumber")) if again else None

        delivery = await create_once(lambda: client.create_debtor(payload), find, "debtor", payload)
        if isinstance(delivery.response, dict) and delivery.response.get("customerNumber"):
            delivery.target_id = str(delivery.response["customerNumber"])
            delivery.message = ""  # told by the engine: Created as debtor <number> for <name>
        return delivery
