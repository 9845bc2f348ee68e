"""The ``filter`` node: lets a record through only when its condition group holds.

A record that passes leaves by the ``kept`` output. One that does not leaves by ``discarded`` when a wire leads from
it; otherwise it is logged as skipped, with the filter's own reason or the first failing condition as the reason
(``Billing → Country is "DE", expected "NL"``). The rules of the conditions are in :mod:`nodes.conditions`.

Version 2 brought the two outputs (version 1 had one, which old flows' wires now mean ``kept``) and stores its
conditions as a group only: version 1's shorthand, a bare list of conditions, becomes ``{"all": [...]}``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from nodes.base import ANY, SAME, Kind, NodeConfig, Port, ProcessNode, Record, SkipRecord
from nodes.conditions import ConditionGroup, invalid

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

    @field_validator("conditions", mode="before")
    @classmethod
    def _a_group(cls, value: Any) -> Any:
        if isinstance(value, list):
            raise invalid('conditions are a group: {"all": [...]} or {"any": [...]}')
        return value

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


def _v1_to_v2(config: dict[str, Any]) -> dict[str, Any]:
    """Version 1 accepted a bare list of conditions (meaning all of them); version 2 stores the group."""
    if isinstance(config.get("conditions"), list):
        config["conditions"] = {"all": config["conditions"]}
    return config


class FilterNode(ProcessNode):
    """Pass records that satisfy the conditions (``kept``); send the others down ``discarded`` or skip them with
    the failing condition as reason."""

    type = "filter"
    kind = Kind.FILTER
    title = "Filter"
    description = (
        "Keep only the records that match conditions on their fields; the others go down the discarded output, "
        "or are skipped with a reason when nothing is wired there."
    )
    config_model = FilterConfig
    inputs = (Port("in", ANY),)
    outputs = (Port("kept", SAME, "kept"), Port("discarded", SAME, "discarded"))
    version = 2
    upgrades = {1: _v1_to_v2}

    async def process(self, record: Record) -> Record:
        """Return ``record`` unchanged when the conditions hold.

        Raises:
            SkipRecord: the conditions do not hold; the message names the first failing condition, and the record
                may go on by the ``discarded`` output.
        """
        config = self.config
        assert isinstance(config, FilterConfig)
        result = config.conditions.evaluate(record.data)
        if result:
            return record
        reason = f"{config.label}: {result.reason}" if config.label else result.reason
        detail: dict[str, Any] = {**result.detail, "rule": result.reason}
        raise SkipRecord(config.skip_reason or reason, detail=detail, port="discarded")
