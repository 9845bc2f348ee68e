"""``webhook.payload``: the records a generic incoming webhook delivered (``POST /hooks/generic/{flow_id}``).

The engine starts a run per verified delivery with the JSON payload in the run parameter ``webhook_payloads``; this
source turns it into records. A payload that is a list gives one record per item; an object gives one record, or —
with ``records_path`` — one per item found there (e.g. ``data.items``). A run started by hand has no payload and
reads nothing.

Each record's source id is ``webhook:<its id>`` (``key_path``): like any source, a record this flow already delivered
is not sent again when a later delivery repeats its id. A payload exists only for the run it started, so this
source does not read by id: a record that failed is not retried by a later run (send the delivery again).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from pydantic import Field, field_validator

from nodes.base import ANY, Kind, NodeConfig, Port, Record, SourceNode
from nodes.paths import checked_path
from nodes.sources._json import items_of, record_of

__all__ = ("PAYLOAD_PARAM", "WebhookPayloadConfig", "WebhookPayloadSource")

PAYLOAD_PARAM = "webhook_payloads"
"""The run parameter the engine puts the delivered payloads in (see engine.generic_hooks)."""


class WebhookPayloadConfig(NodeConfig):
    """Which part of the delivered payload holds the records."""

    records_path: str = Field(
        "",
        title="Records at",
        description="Where the payload holds the records, e.g. data.items (empty: the payload itself).",
    )
    key_path: str = Field("id", title="Record id", description="The path of each record's own id, e.g. id")

    _check_paths = field_validator("records_path", "key_path")(checked_path)


class WebhookPayloadSource(SourceNode):
    """The records of the delivery that started the run."""

    type = "webhook.payload"
    kind = Kind.SOURCE
    title = "Webhook payload"
    description = (
        "Starts the flow when an application posts JSON to the flow's webhook address (with the flow's secret) and "
        "reads the records from what it sent."
    )
    config_model = WebhookPayloadConfig
    outputs = (Port("out", ANY),)

    config: WebhookPayloadConfig

    async def read(self) -> AsyncIterator[list[Record]]:
        """One page per delivered payload."""
        payloads = self.ctx.params.get(PAYLOAD_PARAM) or []
        number = 0
        for payload in payloads:
            records = []
            for item in items_of(payload, self.config.records_path, whole=True):
                number += 1
                records.append(record_of(item, self.config.key_path, f"{self.ctx.run_id}#{number}", "webhook"))
            if records:
                yield records
