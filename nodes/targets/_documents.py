"""The shape shared by Asperion documents that are created once and never changed: invoices, orders, journal entries.

Such a document is found again by its description (Asperion filters with "contains", so the match is re-checked
exactly), validated minimally before sending (so a dry run shows the problem), and posted with
:func:`~nodes.targets._common.create_once` so that a lost answer never leads to a second post.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from nodes.base import Delivery, Kind, NodeConfig, Record, TargetNode
from nodes.connectors.asperion import AsperionConnection, lines_of
from nodes.targets._common import create_once, holds_any, require

__all__ = ("AsperionConfig", "AsperionDocumentTarget")


class AsperionConfig(NodeConfig):
    """Settings of a target that only needs the Asperion connection."""

    connection: AsperionConnection = Field(
        AsperionConnection("asperion"), title="Asperion connection", description="The administration to book in."
    )


class AsperionDocumentTarget(TargetNode):
    """Base of the create-once Asperion targets (subclasses name the client calls)."""

    kind = Kind.TARGET
    app = "asperion"
    config_model = AsperionConfig
    config: AsperionConfig
    what: ClassVar[str] = "document"
    verb: ClassVar[str] = "Booked"
    required: ClassVar[Mapping[str, str]] = {"description": "description"}
    """Payload fields that must have a value (name → how a person calls it)."""
    find_only_in_doubt = True
    collection: ClassVar[str | None] = None
    """The API list of these documents: counted once to tell whether the administration holds any yet."""

    @abstractmethod
    async def find(self, client: Any, record: Record, description: str) -> Mapping[str, Any] | None:
        """The document the application returns for the description search (or None)."""

    @abstractmethod
    async def create(self, client: Any, payload: dict[str, Any]) -> Any:
        """POST the document and return the created object."""

    async def holds_records(self) -> bool | None:
        """Whether the administration holds any document of this kind (None: no list to count)."""
        if self.collection is None:
            return None
        return await holds_any(self.ctx.client(self.config.connection), self.collection)

    def check(self, payload: Mapping[str, Any]) -> None:
        """Extra validation of the payload (raise :class:`~nodes.base.RecordFailed`)."""

    async def find_existing(self, record: Record) -> str | None:
        """The id of the document whose description equals the record's, exactly."""
        description = str(record.data.get("description") or "").strip()
        if not description:
            return None
        found = await self.find(self.ctx.client(self.config.connection), record, description)
        if found is None or str(found.get("description") or "").strip() != description:
            return None
        return str(found["id"])

    async def build(self, record: Record) -> dict[str, Any]:
        """The payload as the map made it, checked for the required fields and at least one line."""
        payload = record.data
        name = f"The {self.what}"
        require(payload, self.required, name)
        require({"lines": lines_of(payload)}, {"lines": "lines"}, name)
        self.check(payload)
        return payload

    async def send(self, record: Record, payload: dict[str, Any]) -> Delivery:
        """POST the document; a lost answer is checked by description before anything is posted again."""
        client = self.ctx.client(self.config.connection)
        return await create_once(
            lambda: self.create(client, payload), lambda: self.find_existing(record), self.what, payload
        )
