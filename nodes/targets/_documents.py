"""The shape shared by Asperion documents that are created once and never changed: invoices, orders, journal entries.

Such a document is found again by its description (Asperion filters with "contains", so the match is re-checked
exactly), validated minimally before sending (so a dry run shows the problem), and posted with
:func:`~nodes.targets._common.create_once` so that a lost answer never leads to a second post.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from nodes.base import Delivery, Kind, NodeConfig, Record, TargetNode
from nodes.connectors.asperion import AsperionClient, AsperionConnection, lines_of
from nodes.connectors.http import NotFound
from nodes.targets._common import create_once, holds_any, require

__all__ = ("AsperionConfig", "AsperionDocumentTarget")


def _description(record: Record) -> str:
    return str(record.data.get("description") or "").strip()


def _date(record: Record) -> str:
    """The document's date (``YYYY-MM-DD``), or "" when it has none that a list can be filtered by."""
    value = str(record.data.get("date") or "").strip()[:10]
    return value if len(value) == 10 and value[4] == "-" and value[7] == "-" else ""


class AsperionConfig(NodeConfig):
    """Settings of a target that only needs the Asperion connection."""

    connection: AsperionConnection = AsperionConnection.field("The administration to book in.")


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
    """The API list of these documents: counted once to tell whether the administration holds any yet, listed to
    look for many records at once, and its newest id kept as the mark of what this database knows."""
    match_fields: ClassVar[tuple[str, ...]] = ()
    """More fields :meth:`same_document` compares, fetched with the list."""

    @abstractmethod
    async def find(self, client: AsperionClient, record: Record, description: str) -> Mapping[str, Any] | None:
        """The document the application returns for the description search (or None)."""

    @abstractmethod
    async def create(self, client: AsperionClient, payload: dict[str, Any]) -> Any:
        """POST the document and return the created object."""

    async def holds_records(self) -> bool | None:
        """Whether the administration holds any document of this kind (None: no list to count)."""
        if self.collection is None:
            return None
        return await holds_any(self.ctx.client(self.config.connection), self.collection)

    def check(self, payload: Mapping[str, Any]) -> None:
        """Extra validation of the payload (raise :class:`~nodes.base.RecordFailed`)."""

    async def find_document(self, record: Record) -> Mapping[str, Any] | None:
        """The document whose description equals the record's, exactly (the search itself matches "contains")."""
        description = _description(record)
        if not description:
            return None
        found = await self.find(self.ctx.client(self.config.connection), record, description)
        if found is None or str(found.get("description") or "").strip() != description:
            return None
        return found

    async def find_existing(self, record: Record) -> str | None:
        """The id of the document whose description equals the record's, exactly."""
        found = await self.find_document(record)
        return None if found is None else str(found["id"])

    def same_document(self, record: Record, document: Mapping[str, Any]) -> bool:
        """Whether a listed document with the record's description is the record's (a subclass compares more)."""
        return True

    async def find_existing_many(self, records: list[Record]) -> list[str | None]:
        """The records' documents from one list filtered by their dates and the start their descriptions share
        (Asperion has no "one of these descriptions" filter); records without a date or a description, or a list
        longer than asking one by one, are asked for one by one."""
        dated = [(r, _description(r), _date(r)) for r in records]
        listable = [(r, d, day) for r, d, day in dated if d and day]
        listed: dict[str, list[dict[str, Any]]] | None = None
        if self.collection is not None and len(listable) > 1:
            client = self.ctx.client(self.config.connection)
            try:
                listed = await client.described_between(
                    self.collection,
                    {d for _, d, _ in listable},
                    min(day for _, _, day in listable),
                    max(day for _, _, day in listable),
                    extra=self.list_filters([r for r, _, _ in listable]),
                    fields=("id", "description", *self.match_fields),
                    max_pages=max(1, len(listable) // 2),
                )
            except NotFound:  # the list is not offered (as the headers list of old administrations): one by one
                listed = None
        if listed is None:
            return await super().find_existing_many(records)
        answers: list[str | None] = []
        for record, description, day in dated:
            if not (description and day):
                answers.append(await self.find_existing(record))
                continue
            match = next((doc for doc in listed.get(description, []) if self.same_document(record, doc)), None)
            answers.append(str(match["id"]) if match is not None else None)
        return answers

    def list_filters(self, records: list[Record]) -> dict[str, Any]:
        """Filters all ``records`` share, for the list :meth:`find_existing_many` reads (a subclass adds some)."""
        return {}

    async def high_water(self) -> str | None:
        """The id of the newest document of this kind ("" when the administration holds none)."""
        if self.collection is None:
            return None
        return await self.ctx.client(self.config.connection).newest_id(self.collection)

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
