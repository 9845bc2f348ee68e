"""What every target shares: refusals as readable failures, "created once" writes, per-record scratch, comparisons.

Errors from the connectors (:mod:`nodes.connectors.http`) are handled by one rule:

- a **refusal** (400/409/413/422, :class:`ValidationFailed`) becomes :class:`RecordFailed` whose message names the
  fields the application complained about;
- a write whose answer was **lost** (no answer, or a 5xx, after the request may have arrived) is checked by looking
  the record up again: found → delivered (not posted twice); not found → the error stands and the record fails, to be
  retried by a later run, where ``find_existing`` guards again;
- authentication errors and unreachable hosts propagate unchanged: the engine fails the record with their message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from nodes.base import Delivery, Record, RecordFailed
from nodes.connectors.http import ServerError, Unreachable, ValidationFailed

__all__ = (
    "LOST_ANSWER",
    "comparable",
    "create_once",
    "holds_any",
    "refused",
    "require",
    "same_value",
    "scratch",
    "write",
)

LOST_ANSWER = (Unreachable, ServerError)
"""Errors after which a POST may or may not have been stored."""


def refused(exc: ValidationFailed, what: str) -> RecordFailed:
    """A readable failure for a refusal: ``<what> refused by <app>: <message>`` with the field errors in detail."""
    return RecordFailed(
        f"{what} refused: {exc.message}",
        detail={"status": exc.status, "errors": exc.field_errors, "response": exc.body},
    )


async def write(call: Awaitable[Any], what: str) -> Any:
    """Await a write (PUT/POST that is safe to repeat), turning a refusal into :class:`RecordFailed`."""
    try:
        return await call
    except ValidationFailed as exc:
        raise refused(exc, what) from exc


async def create_once(
    create: Callable[[], Awaitable[Any]],
    find: Callable[[], Awaitable[str | None]],
    what: str,
    payload: Mapping[str, Any],
) -> Delivery:
    """POST through ``create``; when the answer is lost, ask ``find`` whether it arrived instead of posting again.

    Args:
        create: makes the object and returns it (a dict with ``id``).
        find: the id of the object if the application has it (the same check as ``find_existing``).
        what: the kind of object in messages ("sales invoice").
        payload: the request body, for the log.

    Returns:
        The delivery with the new id.

    Raises:
        RecordFailed: the application refused the object.
        ApiError: the request failed and the object is not there.
    """
    try:
        created = await create()
    except ValidationFailed as exc:
        raise refused(exc, what) from exc
    except LOST_ANSWER:
        try:
            found = await find()
        except LOST_ANSWER:
            found = None
        if found is None:
            raise
        return Delivery(found, f"{what} {found} created (confirmed after the answer was lost)", request=payload)
    target_id = created.get("id") if isinstance(created, Mapping) else None
    if target_id is None:
        raise RecordFailed(f"{what} was sent but the answer has no id: {str(created)[:200]}")
    # no message: the engine tells it in the target's own sentence (TargetNode.outcome)
    return Delivery(str(target_id), "", request=payload, response=created)


async def holds_any(client: Any, path: str) -> bool:
    """Whether the list at ``path`` has any object (one request: the connector's count of a one-item page)."""
    return bool(await client.total(path))


def scratch(record: Record, node_id: str) -> dict[str, Any]:
    """A per-record, per-target dict to carry what ``find_existing`` learned to ``build`` and ``send``."""
    key = f"_target:{node_id}"
    value = record.context.get(key)
    if not isinstance(value, dict):
        value = {}
        record.context[key] = value
    return value


def require(payload: Mapping[str, Any], fields: Mapping[str, str], what: str) -> None:
    """Fail the record unless every field of ``fields`` (name → how a person calls it) has a value."""
    missing = [label for name, label in fields.items() if payload.get(name) in (None, "", [], {})]
    if missing:
        raise RecordFailed(f"{what} has no {' and no '.join(missing)}")


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value)).normalize()
    return None


def comparable(value: Any) -> Any:
    """A value normalised for "did it change": numbers as Decimal, text stripped, None and "" alike."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return ("bool", value)  # True must not equal 1
    number = _number(value)
    if number is not None:
        return number
    return value.strip() if isinstance(value, str) else value


def _is_meta(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(m, Mapping) and "key" in m for m in value)


def same_value(old: Any, new: Any) -> bool:
    """Whether ``old`` and ``new`` mean the same (``12.5`` = ``"12.50"``, ``None`` = ``""``)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        return all(same_value(old.get(k), v) for k, v in new.items())
    if _is_meta(old) and _is_meta(new):  # WooCommerce meta_data: compare values by key, ignore meta ids
        values = {m["key"]: m.get("value") for m in old}
        return all(m["key"] in values and same_value(values[m["key"]], m.get("value")) for m in new)
    if isinstance(old, str) != isinstance(new, str) and (_number(old) is not None or _number(new) is not None):
        # A number against its text ("12.50" from WooCommerce, 12.5 from Asperion); text against text stays text,
        # so that "0612" and "612" differ.
        try:
            return Decimal(str(old).strip()).normalize() == Decimal(str(new).strip()).normalize()
        except InvalidOperation:
            return False
    return bool(comparable(old) == comparable(new))
