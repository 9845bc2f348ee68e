"""The ``router`` node: sends each record down the first of its named outputs whose conditions hold.

Each rule names an output and holds a condition group (the filter's, :mod:`nodes.conditions`). A record leaves by
the first rule that matches, and by ``otherwise`` when none does; when no wire leads from ``otherwise`` it is logged
as skipped with the reason the first rule gave. Output names are unique, and every rule needs at least one condition.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nodes.base import ANY, SAME, Kind, NodeConfig, Port, ProcessNode, Record, SkipRecord
from nodes.conditions import ConditionGroup, Evaluation, invalid
from nodes.texts import shown

__all__ = ("OTHERWISE", "Route", "RouterConfig", "RouterNode")

OTHERWISE = "otherwise"
"""The output of the records no rule matches."""


class Route(BaseModel):
    """One output of the router and the conditions that send a record down it."""

    model_config = ConfigDict(extra="forbid")

    output: str = Field(
        title="Output name",
        description="The name of this output on the canvas, e.g. netherlands or business customers",
        max_length=60,
    )
    conditions: ConditionGroup = Field(
        title="Conditions",
        description="A record goes down this output when these conditions hold (and no output above matched)",
        json_schema_extra={"ui": {"widget": "conditions"}},
    )

    @field_validator("output")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise invalid("give this output a name")
        if value == OTHERWISE:
            raise invalid(f"{shown(OTHERWISE)} is the output of the records no rule matches: choose another name")
        return value

    @field_validator("conditions")
    @classmethod
    def _has_condition(cls, value: ConditionGroup) -> ConditionGroup:
        if not value.items:
            raise invalid("add a condition to this output: without one it would take every record")
        return value


class RouterConfig(NodeConfig):
    """The router's rules, in the order they are tried."""

    routes: list[Route] = Field(
        default_factory=list,
        title="Outputs",
        description="Tried from top to bottom: a record goes down the first output whose conditions hold",
        json_schema_extra={"ui": {"widget": "routes"}},
    )
    label: str | None = Field(
        None,
        title="Label",
        description="A name for this router, shown before the reason of each skipped record",
        max_length=200,
    )

    @field_validator("routes")
    @classmethod
    def _unique(cls, routes: list[Route]) -> list[Route]:
        if not routes:
            raise invalid("add at least one output with its conditions")
        seen: set[str] = set()
        for route in routes:
            if route.output.casefold() in seen:
                raise invalid(f"two outputs are named {shown(route.output)}: give each output its own name")
            seen.add(route.output.casefold())
        return routes


class RouterNode(ProcessNode):
    """Send each record down the first output whose conditions hold, else down ``otherwise``."""

    type = "router"
    kind = Kind.FILTER
    title = "Router"
    description = (
        "Send each record down the first of several named outputs whose conditions hold; records no output takes "
        "go down otherwise."
    )
    config_model = RouterConfig
    inputs = (Port("in", ANY),)
    outputs = (Port(OTHERWISE, SAME, OTHERWISE),)
    ports_field = "routes"

    async def route(self, record: Record) -> tuple[str, Record]:
        """The first output whose conditions hold on ``record``.

        Raises:
            SkipRecord: no output's conditions hold; the record may go on by ``otherwise``.
        """
        config = self.config
        assert isinstance(config, RouterConfig)
        first: Evaluation | None = None
        for route in config.routes:
            result = route.conditions.evaluate(record.data)
            if result:
                return route.output, record
            if first is None:
                first = result
        reason = (
            f"no output of the router matched (first: {first.reason})"
            if first is not None
            else "the router has no outputs"
        )
        reason = f"{config.label}: {reason}" if config.label else reason
        raise SkipRecord(reason, detail=first.detail if first is not None else {}, port=OTHERWISE)

    async def process(self, record: Record) -> Record:
        """The record, when an output takes it (see :meth:`route`)."""
        return (await self.route(record))[1]
