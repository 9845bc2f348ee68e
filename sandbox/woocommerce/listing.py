"""Collection parameters shared by every list endpoint: paging, ordering, date/id filters, headers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from sandbox.http import Request, Response, json_response
from sandbox.woocommerce.errors import invalid_param
from sandbox.woocommerce.objects import SITE, parse_date

__all__ = (
    "cache_key",
    "check_enum",
    "date_filters",
    "id_filters",
    "int_arg",
    "list_response",
    "page_params",
    "remember",
    "sort_ids",
)


_SITE_B = SITE.encode()


_NOT_FILTERS = frozenset({"page", "per_page", "offset", "consumer_key", "consumer_secret", "_fields", "context"})


def cache_key(req: Request, resource: str, version: int) -> tuple[Any, ...]:
    """A key for the filtered and ordered id list of a request (paging and credentials left out)."""
    return (resource, version, tuple(sorted((k, v) for k, v in req.query if k not in _NOT_FILTERS)))


def remember(cache: dict[tuple[Any, ...], list[int]], key: tuple[Any, ...], ids: list[int]) -> None:
    """Keep ``ids`` under ``key``; forget everything from older versions when the cache grows."""
    if len(cache) >= 256:
        cache.clear()
    cache[key] = ids


def int_arg(req: Request, name: str, default: int | None = None) -> int | None:
    """An integer query parameter (400 ``rest_invalid_param`` when not an integer)."""
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid_param(name, f"{name} is not of type integer.", "rest_invalid_type") from None


def page_params(req: Request) -> tuple[int, int, int | None]:
    """``(page, per_page, offset)`` validated as WordPress does."""
    per_page = int_arg(req, "per_page", 10)
    assert per_page is not None
    if not 1 <= per_page <= 100:
        raise invalid_param(
            "per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)", "rest_out_of_bounds"
        )
    page = int_arg(req, "page", 1)
    assert page is not None
    if page < 1:
        raise invalid_param("page", "page must be greater than or equal to 1", "rest_out_of_bounds")
    offset = int_arg(req, "offset")
    if offset is not None and offset < 0:
        raise invalid_param("offset", "offset must be greater than or equal to 0", "rest_out_of_bounds")
    return page, per_page, offset


def _id_list(req: Request, name: str) -> list[int]:
    out = []
    for v in req.arg_list(name):
        try:
            out.append(int(v))
        except ValueError:
            raise invalid_param(name, f"{name}[0] is not of type integer.", "rest_invalid_type") from None
    return out


def id_filters(req: Request, ids: Iterable[int]) -> list[int]:
    """Apply ``include`` and ``exclude``."""
    result = list(ids)
    include = _id_list(req, "include")
    if include:
        wanted = set(include)
        result = [i for i in result if i in wanted]
    exclude = set(_id_list(req, "exclude"))
    if exclude:
        result = [i for i in result if i not in exclude]
    return result


def date_filters(req: Request, ids: list[int], index: dict[int, dict[str, Any]]) -> list[int]:
    """Apply ``after``/``before`` (created) and ``modified_after``/``modified_before`` with ``dates_are_gmt``."""
    gmt = (req.arg("dates_are_gmt") or "").lower() in ("1", "true", "yes")
    suffix = "_gmt" if gmt else ""
    for param, field, op in (
        ("after", "created", ">"),
        ("before", "created", "<"),
        ("modified_after", "modified", ">"),
        ("modified_before", "modified", "<"),
    ):
        raw = req.arg(param)
        if not raw:
            continue
        value = parse_date(raw, gmt)
        if value is None:
            raise invalid_param(param, "Invalid date.", "rest_invalid_date")
        key = field + suffix
        after = op == ">"
        ids = [i for i in ids if (index[i][key] > value if after else index[i][key] < value)]
    return ids


def sort_ids(
    req: Request,
    ids: list[int],
    index: dict[int, dict[str, Any]],
    allowed: dict[str, str | None],
    default_orderby: str = "date",
    default_order: str = "desc",
) -> list[int]:
    """Order ``ids`` by ``orderby`` (mapped to an index key; None = id) with the id as tie-breaker (stable paging)."""
    order = (req.arg("order") or default_order).lower()
    if order not in ("asc", "desc"):
        raise invalid_param("order", "order is not one of asc and desc.", "rest_not_in_enum")
    orderby = req.arg("orderby") or default_orderby
    if orderby not in allowed:
        names = ", ".join(allowed)
        raise invalid_param("orderby", f"orderby is not one of {names}.", "rest_not_in_enum")
    reverse = order == "desc"
    if orderby == "include":
        wanted = [int(v) for v in req.arg_list("include") if v.isdigit()]
        pos = {v: n for n, v in enumerate(wanted)}
        return sorted(ids, key=lambda i: pos.get(i, len(pos)), reverse=reverse)
    key = allowed[orderby]
    if key is None:
        return sorted(ids, reverse=reverse)
    if key == "price":
        return sorted(ids, key=lambda i: (float(index[i]["price"] or 0), i), reverse=reverse)
    return sorted(ids, key=lambda i: (index[i][key], i), reverse=reverse)


def _page_url(req: Request, page: int) -> str:
    params = [(k, v) for k, v in req.query if k != "page"]
    params.append(("page", str(page)))
    return f"{req.base_url}{req.path}?{urlencode(params)}"


def list_response(req: Request, ids: list[int], render: Callable[[int], bytes | None]) -> Response:
    """The page of ``ids`` asked for, as a JSON array spliced from stored record bytes, with the WP headers.

    ``render`` gives a record's bytes; the site placeholder is replaced once over the whole page.
    """
    page, per_page, offset = page_params(req)
    total = len(ids)
    pages = (total + per_page - 1) // per_page
    start = offset if offset is not None else (page - 1) * per_page
    chunk = [b for b in (render(i) for i in ids[start : start + per_page]) if b is not None]
    body = b"[" + b",".join(chunk) + b"]"
    if _SITE_B in body:
        body = body.replace(_SITE_B, req.base_url.encode())
    headers = [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(pages))]
    link = []
    if page > 1:
        link.append(f'<{_page_url(req, min(page - 1, max(pages, 1)))}>; rel="prev"')
    if page < pages:
        link.append(f'<{_page_url(req, page + 1)}>; rel="next"')
    if link:
        headers.append(("Link", ", ".join(link)))
    return json_response(body, 200, headers)


def check_enum(req: Request, name: str, values: Iterable[str]) -> list[str]:
    """A list parameter whose items must be in ``values``."""
    allowed = list(values)
    got = req.arg_list(name)
    for v in got:
        if v not in allowed:
            raise invalid_param(name, f"{name}[0] is not one of {', '.join(allowed)}.", "rest_not_in_enum")
    return got
