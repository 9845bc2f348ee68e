"""``MollieSim``: the Mollie API v2 (read side) over a WooCommerce simulator's orders.

Routes (relative to the simulator's mount, e.g. ``/mollie``): ``GET /v2/payments``, ``/v2/payments/{id}``,
``/v2/payments/{id}/refunds``, ``/v2/payments/{id}/chargebacks``, ``/v2/refunds``, ``/v2/chargebacks``,
``/v2/settlements``, ``/v2/settlements/open``, ``/v2/settlements/{id}`` and ``/v2/settlements/{id}/payments``,
``/refunds``, ``/chargebacks``. Every request needs ``Authorization: Bearer <the demo test key>``. Lists are HAL:
``{"count", "_embedded": {"<kind>": [...]}, "_links": {"self", "previous", "next", "documentation"}}``, newest
first, paged with ``from`` (the id of the first item) and ``limit`` (1–250, default 50).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

from sandbox.credentials import MOLLIE_API_KEY
from sandbox.http import Request, Response, Router, dumps
from sandbox.mollie.ledger import Book, build_book
from sandbox.mollie.shapes import DOCS, HAL, error_body, link

if TYPE_CHECKING:
    from sandbox.woocommerce import WooSim

__all__ = ("MollieError", "MollieSim")

DEFAULT_LIMIT = 50
MAX_LIMIT = 250
_HEADERS = [(b"content-type", HAL.encode() + b"; charset=utf-8")]
_NOUN = {"payments": "payment", "refunds": "refund", "chargebacks": "chargeback", "settlements": "settlement"}


class MollieError(Exception):
    """An error answer in Mollie's shape."""

    def __init__(self, status: int, title: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.field = status, title, detail, field

    def response(self) -> Response:
        """As a response."""
        return Response(self.status, dumps(error_body(self.status, self.title, self.detail, self.field)), _HEADERS)


def _not_found(kind: str, oid: str) -> MollieError:
    return MollieError(404, "Not Found", f"No {kind} exists with token {oid}.")


class MollieSim:
    """The Mollie account of a :class:`~sandbox.woocommerce.WooSim`'s orders, derived lazily and cached."""

    name: ClassVar[str] = "mollie"

    @classmethod
    def connection(cls, base_url: str) -> dict[str, Any]:
        """The sandbox's Mollie connection."""
        return {"app": "mollie", "url": f"{base_url}/mollie", "api_key": MOLLIE_API_KEY}

    @classmethod
    def api_url(cls, base_url: str) -> str:
        """The API's address."""
        return f"{base_url}/mollie/v2"

    @classmethod
    def auth_hint(cls) -> str:
        """How a request signs."""
        return f"Authorization: Bearer {MOLLIE_API_KEY}"

    def __init__(self, woo: WooSim) -> None:
        self.woo = woo
        self._book: Book | None = None
        self._key: tuple[int, ...] = ()
        self.router = Router()
        for template, handler in (
            ("/v2/payments", self._list_payments),
            ("/v2/payments/{id}", self._payment),
            ("/v2/payments/{id}/refunds", self._payment_refunds),
            ("/v2/payments/{id}/chargebacks", self._payment_chargebacks),
            ("/v2/refunds", self._list_refunds),
            ("/v2/chargebacks", self._list_chargebacks),
            ("/v2/settlements", self._list_settlements),
            ("/v2/settlements/open", self._open_settlement),
            ("/v2/settlements/{id}", self._settlement),
            ("/v2/settlements/{id}/payments", self._settlement_members("payments")),
            ("/v2/settlements/{id}/refunds", self._settlement_members("refunds")),
            ("/v2/settlements/{id}/chargebacks", self._settlement_members("chargebacks")),
        ):
            self.router.add("GET", template, handler)

    @property
    def book(self) -> Book:
        """The account as the store stands now (rebuilt only after the store's orders or refunds changed)."""
        woo = self.woo
        key = (id(woo.orders), woo.orders.version, id(woo.refunds), len(woo.refunds))
        if self._book is None or key != self._key:
            self._book, self._key = build_book(woo), key
        return self._book

    def template_for(self, path: str) -> str:
        """The route template of ``path`` (for statistics)."""
        return self.router.template_for(path) or path

    def handle(self, req: Request) -> tuple[Response, str]:
        """Answer one request whose ``path`` is relative to the simulator's mount; returns it and its template."""
        template = self.template_for(req.path)
        try:
            auth = req.headers.get("authorization", "")
            scheme, _, key = auth.partition(" ")
            if scheme.lower() != "bearer" or key.strip() != MOLLIE_API_KEY:
                raise MollieError(401, "Unauthorized Request", "Missing authentication, or failed to authenticate")
            found = self.router.match("GET" if req.method == "HEAD" else req.method, req.path)
            if found is None:
                if self.router.template_for(req.path):
                    raise MollieError(405, "Method Not Allowed", f"The method {req.method} is not allowed here.")
                raise MollieError(404, "Not Found", "The resource does not exist.")
            route, params = found
            body = route.handler(req, **params)
            return Response(200, b"" if req.method == "HEAD" else dumps(body), list(_HEADERS)), template
        except MollieError as exc:
            return exc.response(), template

    # -- objects ------------------------------------------------------------------------------------------------

    @staticmethod
    def _with_links(base: str, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        out = dict(obj)
        oid = obj["id"]
        links: dict[str, Any] = {"self": link(f"{base}/v2/{kind}/{oid}")}
        if kind == "payments":
            links["dashboard"] = link(f"https://my.mollie.com/dashboard/payments/{oid}", "text/html")
            if obj["amountRefunded"]["value"] != "0.00":
                links["refunds"] = link(f"{base}/v2/payments/{oid}/refunds")
            if "amountChargedBack" in obj:
                links["chargebacks"] = link(f"{base}/v2/payments/{oid}/chargebacks")
        elif kind in ("refunds", "chargebacks"):
            links["self"] = link(f"{base}/v2/payments/{obj['paymentId']}/{kind}/{oid}")
            links["payment"] = link(f"{base}/v2/payments/{obj['paymentId']}")
        elif kind == "settlements":
            for member in ("payments", "refunds", "chargebacks"):
                links[member] = link(f"{base}/v2/settlements/{oid}/{member}")
            if obj.get("invoiceId"):
                links["invoice"] = link(f"{base}/v2/invoices/{obj['invoiceId']}")
        if obj.get("settlementId"):
            links["settlement"] = link(f"{base}/v2/settlements/{obj['settlementId']}")
        links["documentation"] = link(f"{DOCS}/get-{_NOUN[kind]}", "text/html")
        out["_links"] = links
        return out

    def _list(
        self, req: Request, kind: str, ids: list[str], lookup: Callable[[str], dict[str, Any]], path: str
    ) -> dict[str, Any]:
        raw_limit = req.arg("limit")
        try:
            limit = int(raw_limit) if raw_limit not in (None, "") else DEFAULT_LIMIT
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            raise MollieError(400, "Bad Request", f"The limit must be a number between 1 and {MAX_LIMIT}.", "limit")
        start = 0
        first = req.arg("from")
        if first:
            try:
                start = ids.index(first)
            except ValueError:
                raise MollieError(
                    400, "Bad Request", f"The {_NOUN[kind]} {first} to start from does not exist.", "from"
                ) from None
        chunk = ids[start : start + limit]
        base = req.base_url
        url = f"{base}{path}"

        def page_link(at: int) -> dict[str, str]:
            return link(f"{url}?{urlencode({'from': ids[at], 'limit': limit})}")

        query = urlencode([(k, v) for k, v in req.query])
        return {
            "count": len(chunk),
            "_embedded": {kind: [self._with_links(base, kind, lookup(oid)) for oid in chunk]},
            "_links": {
                "self": link(f"{url}?{query}" if query else url),
                "previous": page_link(max(0, start - limit)) if start > 0 else None,
                "next": page_link(start + limit) if start + limit < len(ids) else None,
                "documentation": link(f"{DOCS}/list-{kind}", "text/html"),
            },
        }

    def _get(self, kind: str, oid: str) -> dict[str, Any]:
        found = getattr(self.book, kind).get(oid)
        if found is None:
            raise _not_found(_NOUN[kind], oid)
        return dict(found)

    # -- handlers -----------------------------------------------------------------------------------------------

    def _list_payments(self, req: Request) -> dict[str, Any]:
        book = self.book
        return self._list(req, "payments", list(book.payments), book.payments.__getitem__, "/v2/payments")

    def _payment(self, req: Request, id: str) -> dict[str, Any]:
        return self._with_links(req.base_url, "payments", self._get("payments", id))

    def _payment_members(self, req: Request, pid: str, kind: str) -> dict[str, Any]:
        payment = self._get("payments", pid)
        store: dict[str, dict[str, Any]] = getattr(self.book, kind)
        ids = [oid for oid, obj in store.items() if obj["paymentId"] == payment["id"]]
        return self._list(req, kind, ids, store.__getitem__, f"/v2/payments/{pid}/{kind}")

    def _payment_refunds(self, req: Request, id: str) -> dict[str, Any]:
        return self._payment_members(req, id, "refunds")

    def _payment_chargebacks(self, req: Request, id: str) -> dict[str, Any]:
        return self._payment_members(req, id, "chargebacks")

    def _list_refunds(self, req: Request) -> dict[str, Any]:
        book = self.book
        return self._list(req, "refunds", list(book.refunds), book.refunds.__getitem__, "/v2/refunds")

    def _list_chargebacks(self, req: Request) -> dict[str, Any]:
        book = self.book
        return self._list(req, "chargebacks", list(book.chargebacks), book.chargebacks.__getitem__, "/v2/chargebacks")

    def _list_settlements(self, req: Request) -> dict[str, Any]:
        book = self.book
        return self._list(req, "settlements", list(book.settlements), book.settlements.__getitem__, "/v2/settlements")

    def _open_settlement(self, req: Request) -> dict[str, Any]:
        if self.book.open is None:
            raise MollieError(404, "Not Found", "There is no open settlement.")
        return self._with_links(req.base_url, "settlements", self.book.open)

    def _settlement(self, req: Request, id: str) -> dict[str, Any]:
        book = self.book
        found = book.settlements.get(id) or next((s for s in book.settlements.values() if s["reference"] == id), None)
        if found is None and book.open is not None and book.open["id"] == id:
            found = book.open
        if found is None:
            raise _not_found("settlement", id)
        return self._with_links(req.base_url, "settlements", found)

    def _settlement_members(self, kind: str) -> Callable[..., dict[str, Any]]:
        def handler(req: Request, id: str) -> dict[str, Any]:
            book = self.book
            if id not in book.settlements and (book.open is None or book.open["id"] != id):
                raise _not_found("settlement", id)
            store: dict[str, dict[str, Any]] = getattr(book, kind)
            ids = book.members.get(id, {}).get(kind, [])
            return self._list(req, kind, ids, store.__getitem__, f"/v2/settlements/{id}/{kind}")

        return handler
