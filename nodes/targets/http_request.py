"""``http.send``: sends each record to any JSON API — method, URL and body from a template of the record.

Placeholders ``{{ … }}`` (:mod:`nodes.placeholders`) fill the URL and the body from the record; with no body template
the record itself is sent. The id of the created record is read from a JSON path of the answer. Authentication,
retries (a POST only when the API says it did nothing: 429, or 503 with ``Retry-After``) and concurrency are the
generic HTTP API client's.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from nodes.base import ANY, Delivery, Kind, NodeConfig, Port, Record, RecordFailed, TargetNode
from nodes.connectors.httpapi import HttpApiConnection
from nodes.paths import checked_path, get_value
from nodes.placeholders import TemplateError, check_template, fill_json, fill_text
from nodes.targets._common import write

__all__ = ("HttpSendConfig", "HttpSendTarget")


class HttpSendConfig(NodeConfig):
    """Where and how each record is sent."""

    connection: HttpApiConnection = HttpApiConnection.field("The API to send to.")
    method: Literal["POST", "PUT", "PATCH", "DELETE"] = Field("POST", title="Method", description="The HTTP method.")
    path: str = Field(
        title="URL",
        description="Relative to the connection's base URL, with {{ }} placeholders, e.g. customers/{{ id }}",
    )
    body: dict[str, Any] | list[Any] | None = Field(
        None,
        title="Body",
        description='JSON with {{ }} placeholders, e.g. {"email": "{{ billing.email }}"} (empty: the record itself)',
        json_schema_extra={"ui": {"widget": "json"}},
    )
    id_path: str = Field(
        "id", title="Id in the answer", description="Where the answer holds the new record's id, e.g. id or data.id"
    )

    @field_validator("path", "body")
    @classmethod
    def _templates(cls, value: Any) -> Any:
        try:
            return check_template(value)
        except TemplateError as exc:
            raise ValueError(str(exc)) from None

    _check_id_path = field_validator("id_path")(checked_path)


class HttpSendTarget(TargetNode):
    """Sends one request per record to a JSON API."""

    type = "http.send"
    would: ClassVar[str] = "Would send the request for {key}"
    kind = Kind.TARGET
    app = "httpapi"
    title = "HTTP request (send)"
    description = (
        "Sends each record to any JSON API: the method, the URL and the body come from a template of the record; "
        "the id of the created record is read from the answer."
    )
    config_model = HttpSendConfig
    inputs = (Port("in", ANY),)
    outputs = (Port("out", ANY),)

    config: HttpSendConfig

    async def build(self, record: Record) -> dict[str, Any]:
        """The request: method, URL and body, filled in from the record.

        Raises:
            RecordFailed: a placeholder cannot be filled in for this record.
        """
        config = self.config
        try:
            path = fill_text(config.path, record.data)
            body = record.data if config.body is None else fill_json(config.body, record.data)
        except TemplateError as exc:
            raise RecordFailed(str(exc)) from None
        return {"method": config.method, "path": path, "body": None if config.method == "DELETE" else body}

    async def send(self, record: Record, payload: dict[str, Any]) -> Delivery:
        """Send the request; the answer's id (at ``id_path``) names the record in the API.

        Raises:
            RecordFailed: the API refused the request (4xx with its reason).
            ApiError: any other failure (the engine retries the transient ones in a later run).
        """
        client = self.ctx.client(self.config.connection)
        method, path, body = payload["method"], payload["path"], payload["body"]
        answer = await write(client.request_json(method, path, json=body), f"{method} {path}")
        found = get_value(answer, self.config.id_path) if self.config.id_path and answer is not None else None
        target_id = str(found) if found not in (None, "") else ""
        sent = f"Sent {method} {path}" + (f", answered with id {target_id}" if target_id else "")
        return Delivery(target_id=target_id, message=sent, request=payload, response=answer)
