"""The data of one Asperion administration (tenant) held by the simulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ("Counters", "Record", "Tenant")

Record = dict[str, Any]
"""A stored object: the API's field names, money as ``Decimal``, dates as ``YYYY-MM-DDTHH:MM:SS`` strings.

Keys starting with ``_`` are the simulator's own bookkeeping and never leave it (e.g. an invoice's
``_vatByCode`` and ``_paidAmount``); ``lines`` is a plain list, wrapped in ``{_data, _meta}`` on output.
"""


@dataclass(slots=True)
class Tenant:
    """One administration: its reference data and its transactional data, each a dict ``id → record``."""

    id: int
    name: str
    package: str
    """``"inTrade"`` (bookkeeping + trade and stock) or ``"inBalance"`` (bookkeeping only)."""
    vat_codes: dict[str, Record] = field(default_factory=dict)
    ledger_accounts: dict[int, Record] = field(default_factory=dict)
    journals: dict[str, Record] = field(default_factory=dict)
    payment_conditions: dict[int, Record] = field(default_factory=dict)
    cost_centers: dict[int, Record] = field(default_factory=dict)
    cost_units: dict[int, Record] = field(default_factory=dict)
    sales_types: dict[int, Record] = field(default_factory=dict)
    debtor_kinds: dict[str, Record] = field(default_factory=dict)
    debtors: dict[int, Record] = field(default_factory=dict)
    invoices: dict[int, Record] = field(default_factory=dict)
    journal_entries: dict[int, Record] = field(default_factory=dict)
    articles: dict[int, Record] = field(default_factory=dict)
    sales_orders: dict[int, Record] = field(default_factory=dict)
    files: dict[str, Record] = field(default_factory=dict)
    """Uploaded invoice files: id → metadata plus ``_content`` (bytes) and ``_invoiceId``."""
    debtor_numbers: dict[str, int] = field(default_factory=dict)
    """Index ``customerNumber`` → debtor id."""
    free_number_from: int = 0
    """No customer number below this one (and at or above the first) is free: where the search for the next starts."""
    article_codes: dict[str, int] = field(default_factory=dict)
    """Index lower-cased article ``code`` → article id (codes are unique regardless of case)."""
    invoice_sequence: int = 0
    """The last invoice number handed out by :meth:`AsperionSim.process_invoice`."""

    @property
    def in_trade(self) -> bool:
        """Whether the administration has the inTrade package (sales orders, stock)."""
        return self.package == "inTrade"

    def debtor_by_number(self, customer_number: str) -> Record | None:
        """The debtor with this customer number, if any.

        Args:
            customer_number: The debtor's ``customerNumber``.

        Returns:
            The debtor record or ``None``.
        """
        debtor_id = self.debtor_numbers.get(customer_number)
        return None if debtor_id is None else self.debtors.get(debtor_id)

    def article_by_code(self, code: str) -> Record | None:
        """The article with this code (compared without regard to case), if any.

        Args:
            code: The article's ``code`` (the shop's SKU).

        Returns:
            The article record or ``None``.
        """
        article_id = self.article_codes.get(code.lower())
        return None if article_id is None else self.articles.get(article_id)


class Counters:
    """Id sequences shared by all administrations (ids never repeat across tenants, as in one database)."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        """Start every sequence at 0, so that the first id handed out is 1."""
        self._last: dict[str, int] = {}

    def next(self, kind: str) -> int:
        """Hand out the next id of a sequence.

        Args:
            kind: The sequence, e.g. ``"debtor"`` or ``"invoice"``.

        Returns:
            The new id.
        """
        value = self._last.get(kind, 0) + 1
        self._last[kind] = value
        return value
