"""``asperion.articles``: Asperion's articles (code = the shop's SKU, with stock), optionally only the changed ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from nodes.base import Kind, NodeConfig, Port, Record, SourceNode
from nodes.connectors.asperion import AsperionConnection
from nodes.sources._common import (
    OVERLAP,
    CursorTracker,
    amount_field,
    decode_cursor,
    effective_limit,
    gmt_stamp,
    incremental_field,
    record_ids,
    shift,
)

if TYPE_CHECKING:
    from nodes.connectors.asperion import AsperionClient

__all__ = ("ArticlesConfig", "ArticlesSource", "article_record")


class ArticlesConfig(NodeConfig):
    """Settings of the articles source."""

    connection: AsperionConnection = AsperionConnection.field("The administration to read from.")
    incremental: bool = incremental_field(False, "articles")
    amount_per_run: int | None = amount_field()


def article_record(article: dict[str, Any]) -> Record:
    """The record of an article: key = its code (the SKU), source id = ``article:<id>``."""
    key = str(article.get("code") or "").strip() or f"article #{article['id']}"
    return Record(key=key, source_id=f"article:{article['id']}", data=article)


class ArticlesSource(SourceNode):
    """Reads Asperion articles page by page."""

    reads_by_id = True

    type = "asperion.articles"
    kind = Kind.SOURCE
    title = "Asperion articles"
    description = (
        "Reads the administration's active articles with their stock (current and reserved). Articles are not in "
        "Asperion's public documentation: their shape is reconstructed (see the Asperion notes)."
    )
    app = "asperion"
    config_model = ArticlesConfig
    outputs = (Port("out", "asperion.article"),)

    config: ArticlesConfig
    _tracker: CursorTracker | None = None

    @property
    def client(self) -> AsperionClient:
        return self.ctx.client(self.config.connection)

    async def _window(self) -> tuple[str | None, str | None, bool]:
        params = self.ctx.params
        after, before = gmt_stamp(params.get("modified_after")), gmt_stamp(params.get("modified_before"))
        if after or before:
            return after, before, False
        if not self.config.incremental:
            return None, None, False
        stored, _ = decode_cursor(await self.ctx.cursor(self.id).get())
        return (shift(stored, -OVERLAP) if stored else None), None, True

    async def read(self) -> AsyncIterator[list[Record]]:
        """Pages of article records (all of them, the changed ones, or the run's chosen ids)."""
        ids = record_ids(self.ctx.params, ("article",))
        limit = effective_limit(self.ctx.params, self.config.amount_per_run)
        after, before, cursor_on = await self._window()
        if ids is not None:
            after, before, cursor_on = None, None, False
        self._tracker = tracker = CursorTracker(self.ctx.cursor(self.id) if cursor_on else None, ordered=False)
        if cursor_on:
            after = await tracker.start()
        emitted = 0
        async for page in self.client.article_pages(changed_from=after, changed_to=before):
            items = [a for a in page if ids is None or int(a.get("id") or 0) in ids]
            records = [article_record(a) for a in items]
            records = [r for r in records if not tracker.handled_before(r, r.data.get("changed"))]
            if limit is not None:
                records = records[: limit - emitted]
            if records:
                tracker.note(records, lambda r: r.data.get("changed"))
                emitted += len(records)
                yield records
            if limit is not None and emitted >= limit:
                return
        await tracker.finish()

    async def commit_cursor(self, records: list[Record]) -> None:
        """The cursor (newest change handled) moves only once a whole read was handled."""
        if self._tracker:
            await self._tracker.commit(records)

    async def expected(self) -> int | None:
        """``totalCount`` of the selection."""
        limit = effective_limit(self.ctx.params, self.config.amount_per_run)
        ids = record_ids(self.ctx.params, ("article",))
        if ids is not None:
            total = len(ids)
        else:
            after, before, _ = await self._window()
            total = await self.client.count_articles(changed_from=after, changed_to=before)
        return min(total, limit) if limit is not None else total
