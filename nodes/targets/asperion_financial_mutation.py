"""``asperion.financial_mutation``: book a journal entry once; same description in a journal = done."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from nodes.base import Port, Record, RecordFailed
from nodes.connectors.asperion import JOURNAL_ENTRIES, lines_of
from nodes.targets._documents import AsperionDocumentTarget

__all__ = ("FinancialMutationTarget",)


class FinancialMutationTarget(AsperionDocumentTarget):
    """Creates the journal entry a map node built, unless the journal has an entry with the same description."""

    type = "asperion.financial_mutation"
    title = "Asperion financial mutation"
    description = (
        "Books the record as a journal entry (e.g. a payment in the bank journal). An entry with the same "
        "description in the same journal is already booked: the record is skipped."
    )
    inputs = (Port("in", "asperion.journal_entry"),)
    what = "journal entry"
    creates = "journalentry"
    collection = JOURNAL_ENTRIES
    required = {"journalId": "journal", "description": "description"}

    async def find(self, client: Any, record: Record, description: str) -> Mapping[str, Any] | None:
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

    async def create(self, client: Any, payload: dict[str, Any]) -> Any:
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
