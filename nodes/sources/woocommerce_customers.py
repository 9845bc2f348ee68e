"""``woocommerce.customers``: the store's registered customers (guests are not customers), incrementally."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from nodes.base import Kind, Port, Record
from nodes.sources._common import amount_field, incremental_field
from nodes.sources._woocommerce import WooCommerceSource, WooCommerceSourceConfig

__all__ = ("CustomersConfig", "CustomersSource", "customer_record")


class CustomersConfig(WooCommerceSourceConfig):
    """Settings of the customers source."""

    role: str = Field(
        "customer",
        title="Role",
        description="The WordPress role of the users to read ('customer'; 'all' = every role).",
    )
    incremental: bool = incremental_field(True, "customers")
    amount_per_run: int | None = amount_field()


def customer_record(customer: dict[str, Any]) -> Record:
    """The record of a customer: key = e-mail, source id = ``customer:<id>``."""
    email = str(customer.get("email") or (customer.get("billing") or {}).get("email") or "").strip()
    return Record(key=email or f"customer {customer['id']}", source_id=f"customer:{customer['id']}", data=customer)


class CustomersSource(WooCommerceSource):
    """Reads WooCommerce customers page by page (by id; changes are picked out by ``date_modified_gmt``)."""

    type = "woocommerce.customers"
    kind = Kind.SOURCE
    title = "WooCommerce customers"
    description = "Reads the store's registered customers, only those changed since the last run by default."
    config_model = CustomersConfig
    outputs = (Port("out", "woocommerce.customer"),)
    path = "customers"
    prefixes = ("customer",)
    server_filters_modified = False  # the customers endpoint has no modified_after: filtered while reading

    config: CustomersConfig

    def filters(self) -> dict[str, Any]:
        return {"role": self.config.role or "customer"}

    def countable(self) -> bool:
        # X-WP-Total counts every customer of the role; changes are picked out while reading
        window = self.ctx.params.get("modified_after") or self.ctx.params.get("modified_before")
        return not self.config.incremental and not window

    async def to_records(self, items: list[dict[str, Any]]) -> list[Record]:
        return [customer_record(customer) for customer in items]
