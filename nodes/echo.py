"""Koppel's own writing, recognised when it comes back (the echo guard's marks in the data itself).

The engine keeps a table of every record Koppel created and for which source record; these marks keep the same
knowledge inside the applications, so that it holds with a new Koppel database too:

- a WooCommerce order Koppel creates carries the order meta ``_koppel_source`` = ``<app>:<source id>``
  (``asperion:salesorder:5``);
- an Asperion document Koppel creates from a WooCommerce order is described "WooCommerce order {number}" (also
  "… refund …", "Payment WooCommerce order …"): that description is the mark.

A source asks :func:`woocommerce_origin` / :func:`asperion_origin` for each record it reads; a record with an origin
in another application is Koppel's echo, never new input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = (
    "MARK_META_KEY",
    "Origin",
    "asperion_origin",
    "describe_source",
    "mark_value",
    "woocommerce_origin",
)

MARK_META_KEY = "_koppel_source"
"""The WooCommerce order meta key holding where Koppel made the order from."""

_APPS = {"woocommerce": "WooCommerce", "asperion": "Asperion", "mollie": "Mollie"}
_KINDS = {
    "order": "order",
    "salesorder": "sales order",
    "invoice": "sales invoice",
    "customer": "customer",
    "product": "product",
    "article": "article",
}
_DESCRIBED = re.compile(r"^(?:payment\s+)?woocommerce\s+(?:order|refund\s+\S+\s+of\s+order)\s+#?(\S+)", re.IGNORECASE)


@dataclass(frozen=True)
class Origin:
    """Where a record Koppel wrote came from."""

    app: str
    """The application of the source record."""
    source_id: str = ""
    """The source record as its source names it (``order:263``), when known."""
    key: str = ""
    """What a person calls it (the order number), when known."""
    flow: str = ""
    """The flow that wrote it, when known."""

    def describe(self) -> str:
        """Plain words: "WooCommerce order 263"."""
        return describe_source(self.app, self.source_id, self.key)

    def message(self) -> tuple[str, str]:
        """Why the record is skipped, in English and in Dutch."""
        what = self.describe()
        if self.flow:
            return (
                f"came from {what} via flow {self.flow}: Koppel wrote this record, it is not new input",
                f"komt van {_dutch(what)} via flow {self.flow}: Koppel schreef dit record, het is geen nieuwe invoer",
            )
        return (
            f"came from {what} (marked by Koppel): Koppel wrote this record, it is not new input",
            f"komt van {_dutch(what)} (gemarkeerd door Koppel): Koppel schreef dit record, het is geen nieuwe invoer",
        )


def _dutch(what: str) -> str:
    for english, dutch in (
        ("sales order", "verkooporder"),
        ("sales invoice", "verkoopfactuur"),
        ("order", "bestelling"),
        ("customer", "klant"),
        ("product", "product"),
        ("article", "artikel"),
    ):
        if f" {english} " in f" {what} ":
            return what.replace(english, dutch, 1)
    return what


def describe_source(app: str, source_id: str, key: str = "") -> str:
    """ "WooCommerce order 263" from ``("woocommerce", "order:263")`` (the key, when given, names it)."""
    kind, _, number = source_id.partition(":")
    label = _KINDS.get(kind, kind or "record")
    return f"{_APPS.get(app, app)} {label} {key or number.split(':')[0] or '?'}".strip()


def mark_value(app: str, source_id: str) -> str:
    """The value of :data:`MARK_META_KEY` for a record made from ``source_id`` of ``app``."""
    return f"{app}:{source_id}"


def woocommerce_origin(order: Mapping[str, Any]) -> Origin | None:
    """The origin marked in a WooCommerce order's meta, or None for an order the shop made itself."""
    for meta in order.get("meta_data") or ():
        if isinstance(meta, Mapping) and meta.get("key") == MARK_META_KEY and meta.get("value"):
            app, _, source_id = str(meta["value"]).strip().partition(":")
            if app and app != "woocommerce":
                return Origin(app, source_id)
    return None


def asperion_origin(document: Mapping[str, Any]) -> Origin | None:
    """The WooCommerce order an Asperion document was booked for, by its description, or None."""
    match = _DESCRIBED.match(str(document.get("description") or "").strip())
    if match is None:
        return None
    return Origin("woocommerce", key=match.group(1))
