"""Lists as Asperion answers them: PascalCase filters, paging, ``fields``, ``orderBy``, ``metaOnly``, envelope.

Filters are field names as query keys, matched without regard to case. Strings compare with ``Contains`` (or
``<Field>_comparison`` = ``Equals``/``NotEquals``/``StartsWith``/``EndsWith``), case-insensitively as SQL Server
does; numbers, booleans and dates compare equal; ``<Field>_from``/``<Field>_to`` are inclusive ranges (a date-only
bound covers the whole day). Unknown query keys are ignored, as ASP.NET model binding does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlencode

from sandbox.asperion.problems import Errors
from sandbox.asperion.schema import FieldType, Schema, normalize_date, pascal
from sandbox.asperion.state import Record, Tenant

__all__ = (
    "DEFAULT_PAGE_SIZE",
    "INDEXED_FIELDS",
    "MAX_PAGE_SIZE",
    "ListQuery",
    "Resource",
    "envelope",
    "note_mutation",
    "parse_list_query",
    "render",
)

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 250
_RESERVED = {"page", "pagesize", "fields", "orderby", "metaonly", "validateonly", "activestate"}
_COMPARISONS = {"contains", "equals", "notequals", "startswith", "endswith"}

Predicate = Callable[[Record], bool]
ExtraFilter = Callable[[Tenant, str, Errors, str], Predicate | None]
"""Builds a predicate for a filter that is not a plain field: ``(tenant, value, errors, key) → predicate``."""


@dataclass(frozen=True, slots=True)
class Resource:
    """How one resource is listed and rendered."""

    path: str
    """URL segment under ``/v1`` used in ``_meta.self`` links, e.g. ``"debtors"``."""
    label: dict[str, str]
    """The resource's name in both languages, for "not found" messages."""
    collection: str
    """The :class:`~sandbox.asperion.state.Tenant` attribute holding the records."""
    fields: Schema
    """Field types: what can be filtered, ordered and selected."""
    with_lines: bool = False
    """Render ``lines`` wrapped in ``{_data, _meta}`` (``False`` drops stored lines: header-only lists)."""
    extra_filters: Mapping[str, ExtraFilter] = field(default_factory=dict)
    """Lower-cased query key → builder of a filter that is not a plain field."""


@dataclass(slots=True)
class ListQuery:
    """A parsed list request."""

    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    fields: frozenset[str] | None = None
    order: list[tuple[str, bool]] = field(default_factory=list)
    meta_only: bool = False
    predicates: list[Predicate] = field(default_factory=list)
    equals: dict[str, str] = field(default_factory=dict)
    """Field → lower-cased value of the ``Equals`` string filters (answered from an index where there is one)."""


INDEXED_FIELDS = {
    ("debtors", "emailAddress"),
    ("debtors", "customerNumber"),
    ("invoices", "description"),
    ("journal_entries", "description"),
    ("articles", "code"),
    ("sales_orders", "description"),
}
"""Fields that lookups filter with ``Equals`` all the time: a benchmark's thousands of lookups must not each scan."""


@dataclass(slots=True)
class _Index:
    collection: dict[Any, Record]
    size: int
    epoch: int
    values: dict[str, list[Record]]


_INDEXES: dict[tuple[int, str], _Index] = {}
_epoch = 0


def note_mutation() -> None:
    """Records changed in place (a PUT): indexes are rebuilt at their next use."""
    global _epoch
    _epoch += 1


def _text(value: Any) -> str:
    return "" if value is None else str(value).lower()


def _candidates(collection: dict[Any, Record], name: str, needle: str) -> list[Record]:
    """Records whose ``name`` may equal ``needle``: from an index kept up to date with appended records."""
    key = (id(collection), name)
    index = _INDEXES.get(key)
    if index is None or index.collection is not collection or index.epoch != _epoch or len(collection) < index.size:
        index = _Index(collection, 0, _epoch, {})
        _INDEXES[key] = index
    added = len(collection) - index.size
    if added:
        newest = reversed(collection.values())  # records are only ever appended: the new ones are at the end
        for record in [next(newest) for _ in range(added)]:
            index.values.setdefault(_text(record.get(name)), []).append(record)
        index.size = len(collection)
    return index.values.get(needle, [])


def _parse_number(raw: str, field_type: FieldType) -> int | Decimal | None:
    try:
        return int(raw) if field_type == "int" else Decimal(raw)
    except (ValueError, InvalidOperation):
        return None


def _string_predicate(name: str, wanted: str, comparison: str) -> Predicate:
    needle = wanted.lower()

    def text_of(record: Record) -> str:
        value = record.get(name)
        return "" if value is None else str(value).lower()

    if comparison == "equals":
        return lambda record: text_of(record) == needle
    if comparison == "notequals":
        return lambda record: text_of(record) != needle
    if comparison == "startswith":
        return lambda record: text_of(record).startswith(needle)
    if comparison == "endswith":
        return lambda record: text_of(record).endswith(needle)
    return lambda record: needle in text_of(record)


def _date_predicate(name: str, bound: str, kind: str) -> Predicate:
    date_only = len(bound) <= 10
    width = 10 if date_only else 19

    def key(record: Record) -> str | None:
        value = record.get(name)
        return None if value is None else str(value)[:width]

    wanted = bound[:width]
    if kind == "from":
        return lambda record: (k := key(record)) is not None and k >= wanted
    if kind == "to":
        return lambda record: (k := key(record)) is not None and k <= wanted
    return lambda record: key(record) == wanted


def _value_predicate(
    name: str, field_type: FieldType, raw: str, kind: str, errors: Errors, key: str
) -> Predicate | None:
    if field_type == "date":
        normalized = normalize_date(raw.strip())
        if normalized is None:
            errors.add(key, "list.value", value=raw, field=key)
            return None
        return _date_predicate(name, raw.strip() if len(raw.strip()) <= 10 else normalized, kind)
    if field_type == "bool":
        lowered = raw.strip().lower()
        if lowered not in ("true", "false", "1", "0"):
            errors.add(key, "list.value", value=raw, field=key)
            return None
        wanted_bool = lowered in ("true", "1")
        return lambda record: record.get(name) is wanted_bool
    number = _parse_number(raw.strip(), field_type)
    if number is None:
        errors.add(key, "list.value", value=raw, field=key)
        return None
    if kind == "from":
        return lambda record: (v := record.get(name)) is not None and v >= number
    if kind == "to":
        return lambda record: (v := record.get(name)) is not None and v <= number
    return lambda record: record.get(name) == number


def parse_list_query(params: list[tuple[str, str]], resource: Resource, tenant: Tenant) -> ListQuery:
    """Parse the query string of a list request.

    Args:
        params: The query parameters in order.
        resource: The listed resource.
        tenant: The administration (for filters that look up other records).

    Returns:
        The parsed query.

    Raises:
        ProblemError: 400 with field errors for invalid paging, comparisons, filter values or ordering.
    """
    errors = Errors()
    query = ListQuery()
    lookup = {name.lower(): name for name in resource.fields}
    comparisons: dict[str, str] = {}
    for key, raw in params:
        lowered = key.lower()
        if lowered.endswith("_comparison"):
            comparison = raw.strip().lower()
            if comparison not in _COMPARISONS:
                errors.add(key, "list.comparison", value=raw)
            comparisons[lowered[: -len("_comparison")]] = comparison
    for key, raw in params:
        lowered = key.lower()
        if lowered == "page" or lowered == "pagesize":
            number = _parse_number(raw.strip(), "int")
            if not isinstance(number, int):
                errors.add(pascal(key), "list.value", value=raw, field=pascal(key))
            elif lowered == "page":
                if number < 1:
                    errors.add("Page", "list.page")
                query.page = number
            else:
                if not 1 <= number <= MAX_PAGE_SIZE:
                    errors.add("PageSize", "list.page_size", max=MAX_PAGE_SIZE)
                query.page_size = number
            continue
        if lowered == "fields":
            wanted = {part.strip().lower() for part in raw.split(",") if part.strip()}
            query.fields = frozenset(wanted) if wanted else None
            continue
        if lowered == "orderby":
            for part in raw.split(","):
                tokens = part.split()
                if not tokens:
                    continue
                name_token, descending = tokens[0], False
                if name_token.startswith("-"):
                    name_token, descending = name_token[1:], True
                direction = tokens[1].lower() if len(tokens) > 1 else "asc"
                name = lookup.get(name_token.lower())
                if name is None or len(tokens) > 2 or direction not in ("asc", "desc"):
                    errors.add("OrderBy", "list.order_by", value=part.strip())
                    continue
                query.order.append((name, descending or direction == "desc"))
            continue
        if lowered == "metaonly":
            query.meta_only = raw.strip().lower() in ("true", "1")
            continue
        if lowered in _RESERVED or lowered.endswith("_comparison"):
            continue
        base, kind = lowered, "eq"
        for suffix in ("_from", "_to"):
            if lowered.endswith(suffix):
                base, kind = lowered[: -len(suffix)], suffix[1:]
        name = lookup.get(base)
        if name is None:
            builder = resource.extra_filters.get(lowered)
            if builder is not None:
                extra = builder(tenant, raw, errors, key)
                if extra is not None:
                    query.predicates.append(extra)
            continue
        field_type = resource.fields[name]
        predicate: Predicate | None
        if field_type in ("str", "any") and kind == "eq":
            comparison = comparisons.get(base, "contains")
            predicate = _string_predicate(name, raw, comparison)
            if comparison == "equals":
                query.equals[name] = raw.lower()
        elif field_type in ("str", "any"):
            predicate = None
        else:
            predicate = _value_predicate(name, field_type, raw, kind, errors, key)
        if predicate is not None:
            query.predicates.append(predicate)
    errors.raise_if_any()
    return query


def render(record: Record, resource: Resource, base: str, fields: frozenset[str] | None = None) -> dict[str, Any]:
    """The public form of a stored record, with its ``_meta.self`` link.

    Args:
        record: The stored record.
        resource: Its resource.
        base: The API base URL (scheme, host and mount prefix, no trailing slash).
        fields: Lower-cased field names to keep (the ``fields`` parameter), or ``None`` for all.

    Returns:
        A JSON-ready dict (money still ``Decimal``).
    """
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key[0] == "_" or (fields is not None and key.lower() not in fields):
            continue
        if key == "lines":
            if not resource.with_lines:
                continue
            value = {
                "_data": [{k: v for k, v in line.items() if k[0] != "_"} for line in value],
                "_meta": {"totalCount": len(value)},
            }
        out[key] = value
    out["_meta"] = {"self": f"{base}/v1/{resource.path}/{record['id']}"}
    return out


def _sort_key(name: str) -> Callable[[Record], tuple[bool, Any]]:
    def key(record: Record) -> tuple[bool, Any]:
        value = record.get(name)
        if isinstance(value, str):
            value = value.lower()
        return (value is None, value if value is not None else 0)

    return key


def _page_url(base: str, path: str, params: list[tuple[str, str]], page: int) -> str:
    kept = [(key, value) for key, value in params if key.lower() != "page"]
    kept.append(("page", str(page)))
    return f"{base}{path}?{urlencode(kept, quote_via=quote)}"


def _is_all_of(records: Iterable[Record], collection: dict[Any, Record]) -> bool:
    """True when ``records`` is the whole collection (its values view), so an index may stand in for it."""
    values = collection.values()
    return type(records) is type(values) and len(values) == len(collection)


def envelope(
    records: Iterable[Record],
    query: ListQuery,
    resource: Resource,
    tenant: Tenant,
    *,
    base: str,
    path: str,
    params: list[tuple[str, str]],
    query_string: str,
    profile_name: str,
) -> dict[str, Any]:
    """Filter, order and page records into Asperion's list envelope.

    Args:
        records: Every record of the resource in the administration, in id order.
        query: The parsed list request.
        resource: The listed resource.
        tenant: The administration.
        base: The API base URL (no trailing slash).
        path: The request's path below the base, as the client wrote it.
        params: The query parameters.
        query_string: The raw query string, for ``_meta.self``.
        profile_name: The user's profile name.

    Returns:
        ``{"_data": [...], "_meta": {...}}``.
    """
    collection = getattr(tenant, resource.collection, None)
    indexed = [name for name in query.equals if (resource.collection, name) in INDEXED_FIELDS]
    if indexed and isinstance(collection, dict) and records is not None and _is_all_of(records, collection):
        records = sorted(_candidates(collection, indexed[0], query.equals[indexed[0]]), key=lambda r: r.get("id", 0))
    matched = [record for record in records if all(predicate(record) for predicate in query.predicates)]
    for name, descending in reversed(query.order):
        matched.sort(key=_sort_key(name), reverse=descending)
    total = len(matched)
    page_count = math.ceil(total / query.page_size)
    start = (query.page - 1) * query.page_size
    data = (
        []
        if query.meta_only
        else [render(record, resource, base, query.fields) for record in matched[start : start + query.page_size]]
    )
    next_page = _page_url(base, path, params, query.page + 1) if query.page < page_count else ""
    previous_page = (
        _page_url(base, path, params, min(query.page - 1, page_count)) if query.page > 1 and page_count else ""
    )
    return {
        "_data": data,
        "_meta": {
            "administrationId": tenant.id,
            "administrationName": tenant.name,
            "profileName": profile_name,
            "previousPage": previous_page,
            "nextPage": next_page,
            "totalCount": total,
            "pageCount": page_count,
            "self": f"{base}{path}" + (f"?{query_string}" if query_string else ""),
        },
    }
