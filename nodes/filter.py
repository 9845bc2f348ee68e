"""The ``filter`` node: lets a record through only when its condition group holds.

A record that does not pass is logged as skipped, with the first failing condition as the reason
(``Billing → Country is "DE", expected "NL"``). The rules of the conditions are in :mod:`nodes.conditions`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from nodes.base import ANY, SAME, Kind, NodeConfig, Port, ProcessNode, Record, SkipRecord
from nodes.conditions import ConditionGroup

__all__ = ("FilterConfig", "FilterNode")


class FilterConfig(NodeConfig):
    """Which records may pass."""

    conditions: ConditionGroup = Field(
        default_factory=lambda: ConditionGroup(all=[]),
        title="Conditions",
        description=(
            'A group {"all": [...]} or {"any": [...]} of conditions {"field", "op", "value"} and nested groups. '
            "A path with [*] matches when any of its values matches (quantifier: all asks every value)."
        ),
        json_schema_extra={"ui": {"widget": "conditions"}},
    )
    label: str | None = Field(
        None,
        title="Label",
        description="A name for this filter, shown before the reason of each skipped record",
        max_length=200,
    )
    skip_reason: str | None = Field(
        None,
        title="Reason for skipped records",
        description="What the log says of a record that does not pass, e.g. not paid yet (empty: the rule it failed)",
        max_length=200,
    )


class FilterNode(ProcessNode):
    """Pass records that satisfy the conditions; skip the others with the failing condition as reason."""

    type = "filter"
    kind = Kind.FILTER
    title = "Filter"
    description = "Keep only the records that match conditions on their fields; the others are skipped with a reason."
    config_model = FilterConfig
    inputs = (Port("in", ANY),)
    outputs = (Port("out", SAME),)

    async def process(self, record: Record) -> Record:
        """Return ``record`` unchanged when the conditions hold.

        Raises:
            SkipRecord: the conditions do not hold; the message names the first failing condition.
        """
        config = self.config
        assert isinstance(config, FilterConfig)
        result = config.conditions.evaluate(record.data)
        if result:
            return record
        reason = f"{config.label}: {result.reason}" if config.label else result.reason
        detail: dict[str, Any] = {"rule": result.reason}
        if result.condition is not None:
            detail["condition"] = result.condition.model_dump()
        raise SkipRecord(config.skip_reason or reason, detail=detail)
