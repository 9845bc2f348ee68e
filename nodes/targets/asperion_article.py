"""``asperion.article``: create an article by code (the SKU), or update it field by field as each field's owner says.

Per-field ownership makes the old "update" checkbox precise: a field is ``always`` written (default for price and
active state), ``create_only`` (written when the article is made, or while Asperion's value is still empty; default
for the long description, so texts edited in Asperion survive) or ``never`` written by this flow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field

from nodes.base import Delivery, Kind, NodeConfig, Port, Record, SkipRecord, TargetNode
from nodes.connectors.asperion import AsperionConnection
from nodes.targets._common import comparable, create_once, require, same_value, scratch, write

__all__ = ("DEFAULT_OWNERSHIP", "ArticleConfig", "ArticleTarget", "Ownership", "article_changes")

Ownership = Literal["always", "create_only", "never"]

DEFAULT_OWNERSHIP: dict[str, Ownership] = {
    "description": "always",
    "longDescription": "create_only",
    "ean": "always",
    "salesPrice": "always",
    "salesTypeId": "always",
    "unit": "always",
    "active": "always",
}
"""Field → owner; a field the table does not name is ``always``."""


class ArticleConfig(NodeConfig):
    """Settings of the article target."""

    connection: AsperionConnection = AsperionConnection.field("The administration to write to.")
    ownership: dict[str, Ownership] = Field(
        default_factory=lambda: dict(DEFAULT_OWNERSHIP),
        title="Who owns each field",
        description="always: this flow keeps it up to date; create_only: written when the article is made (or "
        "while empty in Asperion); never: left to Asperion. Articles in Asperion's API are inferred from its "
        "documentation, not its published reference.",
        json_schema_extra={"ui": {"widget": "table"}},
    )


def article_changes(
    existing: Mapping[str, Any], wanted: Mapping[str, Any], ownership: Mapping[str, Ownership]
) -> dict[str, list[Any]]:
    """Field → ``[old, new]`` that an update must write under ``ownership`` (never the code itself)."""
    changes: dict[str, list[Any]] = {}
    for name, new in wanted.items():
        owner = ownership.get(name, "always")
        if name in ("code", "id") or owner == "never":
            continue
        old = existing.get(name)
        if owner == "create_only" and (comparable(old) != "" or comparable(new) == ""):
            continue
        if not same_value(old, new):
            changes[name] = [old, new]
    return changes


class ArticleTarget(TargetNode):
    """Creates or updates an Asperion article, matched by code (the SKU)."""

    type = "asperion.article"
    kind = Kind.TARGET
    title = "Asperion article"
    description = (
        "Writes the record as an Asperion article with the SKU as its code: created when missing, else the fields "
        "this flow owns are updated; an article already up to date is skipped as unchanged."
    )
    app = "asperion"
    config_model = ArticleConfig
    inputs = (Port("in", "asperion.article"),)
    what: ClassVar[str] = "article"
    upsert: ClassVar[bool] = True
    """Delivered before is no reason to skip: a new price must reach the article."""

    config: ArticleConfig

    def _code(self, record: Record) -> str:
        code = str(record.data.get("code") or "").strip()
        if not code:
            raise SkipRecord("the product has no SKU, so it has no article code")
        return code

    async def _looked_up(self, record: Record) -> dict[str, Any]:
        # The engine may skip find_existing (e.g. when its idempotency map knows the record): look up anyway, so
        # that an update is never sent as a second create.
        state = scratch(record, self.id)
        if not state.get("looked_up"):
            await self.find_existing(record)
        return state

    async def find_existing(self, record: Record) -> str | None:
        """None when the article must be created or updated.

        Raises:
            SkipRecord: no SKU, or the article exists and every owned field already has the record's value.
        """
        code = self._code(record)
        scratch(record, self.id)["looked_up"] = True
        found = await self.ctx.client(self.config.connection).find_article_by_code(code)
        if found is None:
            return None
        changes = article_changes(found, record.data, self.config.ownership)
        if not changes:
            raise SkipRecord(f"article {code} unchanged", target_id=str(found["id"]))
        scratch(record, self.id).update(found=found, changes=changes)
        return None

    async def build(self, record: Record) -> dict[str, Any]:
        """The new article without ``never`` fields, or the found one with the changes applied."""
        self._code(record)
        state = await self._looked_up(record)
        if "found" in state:
            return {**state["found"], **{name: new for name, (_, new) in state["changes"].items()}}
        payload = {k: v for k, v in record.data.items() if self.config.ownership.get(k) != "never"}
        require(payload, {"description": "description"}, f"Article {payload['code']}")
        return payload

    async def send(self, record: Record, payload: dict[str, Any]) -> Delivery:
        """PUT the changed article, or POST a new one (a lost answer is checked by code first)."""
        client = self.ctx.client(self.config.connection)
        state = scratch(record, self.id)
        code = str(payload["code"])
        if "found" in state:
            article_id = str(state["found"]["id"])
            answer = await write(client.update_article(article_id, payload), f"article {code}")
            changed = ", ".join(state["changes"])
            return Delivery(article_id, f"article {code} updated: {changed}", request=payload, response=answer)

        async def find() -> str | None:
            again = await client.find_article_by_code(code)
            return str(again["id"]) if again else None

        return await create_once(lambda: client.create_article(payload), find, f"article {code}", payload)
