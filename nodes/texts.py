"""Values and field paths as a person reads them in messages: never a Python repr.

``shown("klarna")`` is ``"klarna"`` (in double quotes, which the Dutch catalogue turns into „klarna"), ``shown(None)``
is ``nothing``, ``shown([])`` is ``an empty list``, ``shown(True)`` is ``yes``; ``friendly_path("billing.country")`` is
``Billing → Country`` (``countryCode`` is ``Country code``); with a ``word`` function each part is rendered in a
language (the web's catalogue: ``Factuuradres → Land``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

__all__ = ("friendly_path", "shown")


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def friendly_path(path: str, word: Callable[[str], str] | None = None) -> str:
    """A record path as a person reads it: ``billing.country`` → "Billing → Country", ``[*]`` dropped, ``date_paid``
    and ``paidAt`` as words ("Date paid", "Paid at"); ``word`` renders each part in a language ("Factuuradres")."""
    parts = [_CAMEL.sub(" ", p).replace("_", " ").strip().capitalize() for p in str(path).replace("[*]", "").split(".")]
    return " → ".join(word(p) if word else p for p in parts if p)


def shown(value: Any, limit: int = 80) -> str:
    """``value`` in a message: text in double quotes, numbers as they are, lists as a comma list, no repr."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        text = str(value)
    elif isinstance(value, str):
        text = f'"{value}"'
    elif isinstance(value, list | tuple | set | frozenset):
        if not value:
            return "an empty list"
        text = ", ".join(shown(item, limit) for item in value)
    elif isinstance(value, dict):
        text = "a group of fields" if value else "an empty group"
    else:
        text = f'"{value}"'
    return text if len(text) <= limit else text[: limit - 1] + "…"
