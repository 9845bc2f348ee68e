"""``asperion.financial_mutation``: book a journal entry once; same description in a journal = done.

With each entry the target keeps a fingerprint of what it booked: the amount per ledger account
(``nodes.bookings``). A record read again later whose entry now books other amounts (a paid order edited upward
whose correction asks more) gets one more entry with the difference, described "… (difference {k})", settling
the invoice the record names now; an unchanged one is skipped as already delivered.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from nodes.base import Booked, Delivery, Port, Record, RecordFailed, SkipRecord
from nodes.bookings import difference_description, entry_difference, entry_fingerprint
from nodes.connectors.asperion import JOURNAL_ENTRIES, AsperionClient, lines_of
from nodes.targets._common import create_once
from nodes.targets._documents import AsperionDocumentTarget

__all__ = ("FinancialMutationTarget",)


class FinancialMutationTarget(AsperionDocumentTarget):
    """Creates the journal entry a map node built, unless the journal has an entry with the same description."""

    type = "asperion.financial_mutation"
    title = "Asperion financial mutation"
    description = (
        "Books the record as a journal entry (e.g. a payment in the bank journal). An entry with the same "
        "description in the same journal is already booked: the record is skipped. A record read again whose "
        "entry now books other amounts gets one more entry with the difference."
    )
    inputs = (Port("in", "asperion.journal_entry"),)
    what = "journal entry"
    creates = "journalentry"
    collection = JOURNAL_ENTRIES
    required = {"journalId": "journal", "description": "description"}

    async def find(self, client: AsperionClient, record: Record, description: str) -> Mapping[str, Any] | None:
        """Asperion's entry in the record's journal for the description search."""
        journal = record.data.get("journalId")
        return await client.find_journal_entry(description=description, journal_id=str(journal) if journal else None)

    match_fields = ("journalId",)

    def same_document(self, record: Record, document: Mapping[str, Any]) -> bool:
        """An entry with the description counts only in the record's own journal."""
        journal = record.data.get("journalId")
        return not journal or str(document.get("journalId") or "").strip() == str(journal).strip()

    def list_filters(self, records: list[Record]) -> dict[str, Any]:
        """The journal, when every record books in the same one."""
        journals = {str(r.data.get("journalId") or "") for r in records}
        return {"JournalId": journals.pop()} if len(journals) == 1 and "" not in journals else {}

    async def create(self, client: AsperionClient, payload: dict[str, Any]) -> Any:
        """POST the journal entry with its lines."""
        return await client.create_journal_entry(payload)

    def check(self, payload: Mapping[str, Any]) -> None:
        """The lines must balance (debit positive, credit negative, summing to zero)."""
        try:
            total = sum((Decimal(str(line.get("amount") or 0)) for line in lines_of(payload)), Decimal(0))
        except (InvalidOperation, AttributeError) as exc:
            raise RecordFailed(f"The journal entry has a line without a valid amount ({exc})") from exc
        if total.quantize(Decimal("0.01")) != 0:
            raise RecordFailed(f"The journal entry does not balance: its lines sum to {total}, not 0")

    async def send(self, record: Record, payload: dict[str, Any]) -> Delivery:
        """POST the entry and keep its fingerprint."""
        delivery = await super().send(record, payload)
        delivery.fingerprint = entry_fingerprint(payload, modified=record.source.get("date_modified"))
        return delivery

    async def revisit(self, record: Record, booked: Booked) -> Delivery:
        """Unchanged amounts → skipped; other amounts → one more entry booking the difference, once."""
        payload = await self.build(record)
        lines = entry_difference(booked.fingerprint, payload)
        if not lines:
            raise SkipRecord(f"already delivered as {booked.target_id}", target_id=booked.target_id)
        k = int(booked.fingerprint.get("differences") or 0) + 1
        description = difference_description(str(payload["description"]), k)
        entry = {**payload, "description": description, "lines": [{**x, "description": description} for x in lines]}
        self.check(entry)
        if self.ctx.dry_run:
            return Delivery(booked.target_id, f"dry run: would book difference {k} of journal entry {booked.target_id}")
        client = self.ctx.client(self.config.connection)

        async def find() -> str | None:
            found = await client.find_journal_entry(description=description, journal_id=str(payload.get("journalId")))
            if found is None or str(found.get("description") or "").strip() != description:
                return None
            return str(found["id"])

        existing = await find()
        if existing is not None:  # a revisit interrupted after its post: the difference is there
            delivery = Delivery(existing)
        else:
            delivery = await create_once(lambda: self.create(client, entry), find, self.what, entry)
        delivery.message = (
            f"the amounts changed after journal entry {booked.target_id} was booked: the difference is booked as "
            f"journal entry {delivery.target_id}"
        )
        delivery.request = entry
        delivery.fingerprint = entry_fingerprint(payload, modified=record.source.get("date_modified"), differences=k)
        delivery.replaces = True
        return delivery
