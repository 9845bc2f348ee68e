"""The Asperion simulator: its state, its ASGI app, and the hooks the sandbox and the tests use."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Litestar

from sandbox.asperion.articles import DEFAULT_SALES_TYPE, add_article
from sandbox.asperion.identity import identity_routes
from sandbox.asperion.invoices import process_invoice
from sandbox.asperion.listing import render
from sandbox.asperion.money import ZERO
from sandbox.asperion.mount import PrefixAware
from sandbox.asperion.resources import INVOICE_HEADERS, INVOICES_WITH_LINES
from sandbox.asperion.routes import api_routes
from sandbox.asperion.seed import ADMINISTRATIONS, seed_tenant
from sandbox.asperion.state import Counters, Record, Tenant
from sandbox.asperion.tokens import TokenStore
from sandbox.asperion.web import Ctx, begin, exception_handlers

if TYPE_CHECKING:
    from litestar import Request

__all__ = ("AsperionSim",)

_ENCODER = msgspec.json.Encoder(decimal_format="number")


class AsperionSim:
    """A simulated Asperion: the ``/v1`` API, the identity host's ``/connect`` endpoints, and two administrations.

    ``app`` is an ASGI app to mount anywhere (e.g. under ``/asperion``); absolute URLs in its answers carry the
    mount prefix. The state lives in memory: :meth:`tenant` gives plain read access for tests.
    """

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        """Create a freshly seeded simulator.

        Args:
            clock: Returns the current time in seconds (default :func:`time.time`); token expiry and
                timestamps follow it. :meth:`advance_clock` moves it on.
        """
        self._base_clock = clock or time.time
        self._offset = 0.0
        self.tokens = TokenStore(self._clock)
        self.counters = Counters()
        self.tenants: dict[int, Tenant] = {}
        self.default_tenant = ADMINISTRATIONS[0][0]
        self._seed()
        self.litestar = Litestar(
            route_handlers=[*api_routes(self), *identity_routes(self)],
            exception_handlers=exception_handlers,
            openapi_config=None,
        )
        self.app = PrefixAware(self.litestar)

    # -- state -------------------------------------------------------------------------------------------------

    def _clock(self) -> float:
        return self._base_clock() + self._offset

    def _seed(self) -> None:
        self.counters = Counters()
        self.tenants = {
            tenant_id: seed_tenant(
                tenant_id, name, package, self.counters.next("debtor"), self.counters.next("article")
            )
            for tenant_id, name, package in ADMINISTRATIONS
        }

    def reset(self) -> None:
        """Clear all transactional data and restore the seeded administrations.

        Debtors (but the default one), invoices, files, journal entries, sales orders and articles (but
        ``VERZEND``) are gone; ids start again; the initial refresh token is valid again.
        """
        self._seed()
        self.tokens.reset()

    def now(self) -> str:
        """The simulator's current local time as Asperion writes it.

        Returns:
            ``YYYY-MM-DDTHH:MM:SS``.
        """
        return datetime.fromtimestamp(self._clock()).isoformat(timespec="seconds")

    def advance_clock(self, seconds: float) -> None:
        """Move the simulator's clock on (e.g. past an access token's expiry).

        Args:
            seconds: How far.
        """
        self._offset += seconds

    def tenant(self, tenant_id: int = 1001) -> Tenant:
        """An administration's state, for tests: ``.debtors``, ``.invoices``, ``.articles``, … (dicts id → record).

        Records use the API's field names with money as ``Decimal``; an invoice also carries ``_vatByCode`` and
        ``_netByCode`` (VAT code → VAT / net amount) and ``_paidAmount``.

        Args:
            tenant_id: The administration id.

        Returns:
            The administration.
        """
        return self.tenants[tenant_id]

    def context(self, request: Request[Any, Any, Any]) -> Ctx:
        """Authenticate an API request and choose its administration.

        Args:
            request: The request.

        Returns:
            The request context.
        """
        return begin(request, self.tokens, self.tenants, self.default_tenant)

    # -- hooks for the sandbox and the tests ----------------------------------------------------------------------

    def issue_access_token(self) -> str:
        """An access token for the demo user without the OAuth dance (for tests and benchmarks).

        Returns:
            A bearer token valid for an hour of the simulator's clock.
        """
        return self.tokens.issue_access_token()

    def seed_articles(self, articles: Iterable[Mapping[str, Any]], tenant_id: int = 1001) -> list[Record]:
        """Add articles, e.g. the seeded store's products; codes already present are left as they are.

        Args:
            articles: Dicts with ``code``, ``description``, ``salesPrice`` (ex VAT; number or string), ``ean``,
                optionally ``salesTypeId`` (default 1, revenue NL at 21 %) and ``currentStock`` (the physical
                stock; ``None`` for an article without stock information; absent: 0).
            tenant_id: The administration.

        Returns:
            The articles added.
        """
        tenant = self.tenants[tenant_id]
        added: list[Record] = []
        for item in articles:
            code = str(item["code"]).strip()
            if not code or tenant.article_by_code(code) is not None:
                continue
            fields = {
                "code": code,
                "description": str(item.get("description") or code),
                "longDescription": str(item.get("longDescription") or ""),
                "ean": str(item.get("ean") or ""),
                "salesPrice": Decimal(str(item.get("salesPrice") or 0)),
                "salesTypeId": int(item.get("salesTypeId") or DEFAULT_SALES_TYPE),
                "unit": str(item.get("unit") or "stuk"),
                "active": bool(item.get("active", True)),
            }
            article = add_article(tenant, self.counters, fields, self.now())
            if "currentStock" in item:  # physical stock; None = an article without stock (a service, a download)
                stock = item["currentStock"]
                article["currentStock"] = None if stock is None else Decimal(str(stock))
            added.append(article)
        return added

    def process_invoice(self, invoice_id: int, tenant_id: int = 1001) -> dict[str, Any]:
        """Stand in for a bookkeeper: give a concept invoice the next invoice number and book it (status 3).

        Args:
            invoice_id: The invoice's id.
            tenant_id: The administration.

        Returns:
            The invoice as the API shows it (JSON-ready: plain numbers, lines wrapped), without ``_meta``.

        Raises:
            KeyError: when the invoice does not exist in that administration.
        """
        invoice = process_invoice(self.tenants[tenant_id], invoice_id)
        return self.public(invoice)

    def public(self, record: Record, *, with_lines: bool = True) -> dict[str, Any]:
        """A stored invoice (or other record) as JSON-ready data without the simulator's own fields.

        Args:
            record: The stored record.
            with_lines: Wrap ``lines`` as the API does (else they are dropped).

        Returns:
            The record with plain JSON types (numbers as ``float``/``int``).
        """
        rendered = render(record, INVOICES_WITH_LINES if with_lines else INVOICE_HEADERS, "")
        rendered.pop("_meta", None)
        decoded: dict[str, Any] = msgspec.json.decode(_ENCODER.encode(rendered))
        return decoded

    def set_stock(
        self,
        code: str,
        current: Decimal | int | str,
        reserved: Decimal | int | str | None = None,
        *,
        tenant_id: int = 1001,
    ) -> Record:
        """Set an article's stock directly (for tests of the stock flow).

        Args:
            code: The article code.
            current: The new ``currentStock``.
            reserved: The new ``reservedStock`` (unchanged when ``None``).
            tenant_id: The administration.

        Returns:
            The article.

        Raises:
            KeyError: when no article has this code.
        """
        article = self.tenants[tenant_id].article_by_code(code)
        if article is None:
            raise KeyError(code)
        article["currentStock"] = Decimal(str(current))
        if reserved is not None:
            article["reservedStock"] = Decimal(str(reserved))
        return article

    def invoice_totals(self, invoice_id: int, tenant_id: int = 1001) -> dict[str, Any]:
        """The totals booked for an invoice, to compare with the order it came from.

        Args:
            invoice_id: The invoice's id.
            tenant_id: The administration.

        Returns:
            ``{"amountExclVat", "vatAmount", "amountInclVat": Decimal, "vatByCode", "netByCode":
            {code: Decimal}, "paidAmount": Decimal, "status": int}``.
        """
        invoice = self.tenants[tenant_id].invoices[invoice_id]
        return {
            "amountExclVat": invoice["amountExclVat"],
            "vatAmount": invoice["vatAmount"],
            "amountInclVat": invoice["amountInclVat"],
            "vatByCode": dict(invoice["_vatByCode"]),
            "netByCode": dict(invoice["_netByCode"]),
            "paidAmount": invoice.get("_paidAmount", ZERO),
            "status": invoice["status"],
        }
