"""``http.get``: records from any JSON API — GET a URL, take the records from a JSON path of the answer, page by page.

Paging (by page number, offset, the ``Link`` header, or a cursor / next URL in the answer) and every HTTP concern
(authentication, retries, ``Retry-After``, concurrency) live in the generic HTTP API client
(:class:`~nodes.connectors.httpapi.HttpApiClient`); this node only says what to read and how to name each record.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pydantic import Field, field_validator

from nodes.base import ANY, Kind, NodeConfig, Port, Record, SourceNode
from nodes.connectors.httpapi import HttpApiConnection, Paging
from nodes.connectors.httpapi.client import PagingStyle
from nodes.paths import checked_path
from nodes.sources._json import items_of, record_of

__all__ = ("HttpGetConfig", "HttpGetSource")


class HttpGetConfig(NodeConfig):
    """What to read from the API and how to page through it."""

    connection: HttpApiConnection = HttpApiConnection.field("The API to read from.")
    path: str = Field(
        "", title="URL", description="The address to GET, relative to the connection's base URL (e.g. orders)."
    )
    params: dict[str, str] = Field(
        default_factory=dict,
        title="Query parameters",
        description="Sent with the first request, e.g. status → paid",
        json_schema_extra={"ui": {"widget": "table"}},
    )
    records_path: str = Field(
        "",
        title="Records at",
        description="Where the answer holds the records, e.g. data or results[*] (empty: the answer is the list).",
    )
    key_path: str = Field("id", title="Record id", description="The path of each record's own id, e.g. id")
    paging: PagingStyle = Field(
        "none",
        title="Paging",
        description="none, page (page number), offset, link (Link header), cursor or next_url (from the answer)",
    )
    page_size: int | None = Field(
        None, ge=1, le=10_000, title="Page size", description="Records per page (empty: the API's own page size)."
    )
    page_param: str = Field("page", title="Page parameter", description="For page: the page number's parameter.")
    size_param: str = Field("per_page", title="Page size parameter", description="For page: the page size's parameter.")
    offset_param: str = Field("offset", title="Offset parameter", description="For offset: the offset's parameter.")
    limit_param: str = Field("limit", title="Limit parameter", description="For offset: the page size's parameter.")
    next_path: str = Field(
        "next",
        title="Next page at",
        description="For cursor and next_url: where the answer holds the cursor or the next page's URL",
    )
    cursor_param: str = Field("cursor", title="Cursor parameter", description="For cursor: the parameter it goes in.")

    _check_paths = field_validator("records_path", "key_path", "next_path")(checked_path)


class HttpGetSource(SourceNode):
    """Reads records from a JSON API, page by page."""

    type = "http.get"
    kind = Kind.SOURCE
    app = "httpapi"
    title = "HTTP request (read)"
    description = (
        "Reads records from any JSON API: GETs a URL, takes the records from the answer and follows the pages "
        "(page number, offset, Link header, cursor or next URL)."
    )
    config_model = HttpGetConfig
    outputs = (Port("out", ANY),)

    config: HttpGetConfig

    def _items(self, body: Any) -> list[Any]:
        return items_of(body, self.config.records_path, whole=False)

    def _record(self, item: Any, number: int) -> Record:
        return record_of(item, self.config.key_path, f"#{number}", "http")

    async def read(self) -> AsyncIterator[list[Record]]:
        """The records, a page at a time."""
        config = self.config
        client = self.ctx.client(config.connection)
        paging = Paging(
            style=config.paging,
            page_size=config.page_size,
            page_param=config.page_param,
            size_param=config.size_param,
            offset_param=config.offset_param,
            limit_param=config.limit_param,
            next_path=config.next_path,
            cursor_param=config.cursor_param,
        )
        seen = 0
        async for page in client.pages(config.path, dict(config.params), paging, self._items):
            records = [self._record(item, seen + i + 1) for i, item in enumerate(page)]
            seen += len(records)
            yield records
