"""``woocommerce.customer``: create a WooCommerce customer, or update the one with the same e-mail address."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from nodes.base import Delivery, Kind, NodeConfig, Port, Record, SkipRecord, TargetNode
from nodes.connectors.woocommerce import WooCommerceConnection
from nodes.lookups.debtor_rules import normalize_email
from nodes.targets._common import create_once, require, same_value, scratch, write

__all__ = ("CustomerConfig", "CustomerTarget", "customer_changes")

_NEVER_UPDATED = frozenset({"id", "email", "password", "username", "role", "date_created", "date_modified"})


class CustomerConfig(NodeConfig):
    """Settings of the customer target."""

    connection: WooCommerceConnection = WooCommerceConnection.field("The store to write to.")
    update_existing: bool = Field(
        True,
        title="Update existing customers",
        description="Update name and addresses of a customer found by e-mail; off: an existing customer is kept.",
    )


def customer_changes(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level fields of ``wanted`` whose values differ from ``existing`` (addresses compared per field)."""
    return {
        name: value
        for name, value in wanted.items()
        if name not in _NEVER_UPDATED and value is not None and not same_value(existing.get(name), value)
    }


class CustomerTarget(TargetNode):
    """Creates or updates a WooCommerce customer, matched by e-mail address."""

    type = "woocommerce.customer"
    kind = Kind.TARGET
    title = "WooCommerce customer"
    description = (
        "Writes the record as a WooCommerce customer: found by e-mail address it is updated (when configured and "
        "something differs), otherwise created."
    )
    app = "woocommerce"
    config_model = CustomerConfig
    inputs = (Port("in", "woocommerce.customer"),)
    what: ClassVar[str] = "customer"
    upsert: ClassVar[bool] = True

    config: CustomerConfig

    async def _find(self, email: str) -> dict[str, Any] | None:
        client = self.ctx.client(self.config.connection)
        for item in await client.get("customers", {"email": email, "role": "all"}) or []:
            if normalize_email(item.get("email")) == email:
                return dict(item)
        return None

    async def find_existing(self, record: Record) -> str | None:
        """The customer's id when it exists and must stay as it is; None to create or update.

        Raises:
            SkipRecord: the customer already has the record's values ("unchanged").
        """
        state = scratch(record, self.id)
        state["looked_up"] = True
        email = normalize_email(record.data.get("email"))
        found = await self._find(email) if email else None
        if found is None:
            return None
        if not self.config.update_existing:
            return str(found["id"])
        changes = customer_changes(found, record.data)
        if not changes:
            raise SkipRecord(f"customer {email} unchanged", target_id=str(found["id"]))
        state.update(found=found, changes=changes)
        return None

    async def build(self, record: Record) -> dict[str, Any]:
        """The new customer, or only the changed fields of the existing one."""
        require(record.data, {"email": "e-mail address"}, "The customer")
        state = scratch(record, self.id)
        if not state.get("looked_up"):
            existing = await self.find_existing(record)
            if existing is not None:
                raise SkipRecord(f"already exists as customer {existing}", target_id=existing)
        if "found" in state:
            return dict(state["changes"])
        return dict(record.data)

    async def send(self, record: Record, payload: dict[str, Any]) -> Delivery:
        """PUT the changes, or POST the new customer (a lost answer is checked by e-mail first)."""
        client = self.ctx.client(self.config.connection)
        state = scratch(record, self.id)
        email = normalize_email(record.data.get("email"))
        if "found" in state:
            customer_id = str(state["found"]["id"])
            answer = await write(client.put(f"customers/{customer_id}", payload), f"customer {email}")
            changed = ", ".join(payload)
            return Delivery(customer_id, f"customer {email} updated: {changed}", request=payload, response=answer)

        async def find() -> str | None:
            again = await self._find(email)
            return str(again["id"]) if again else None

        return await create_once(lambda: client.post("customers", payload), find, f"customer {email}", payload)
