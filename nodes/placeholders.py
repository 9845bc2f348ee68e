"""Templates of a record: ``{{ expression }}`` placeholders in text and in JSON bodies.

The text between ``{{`` and ``}}`` is a safe expression (:mod:`nodes.expressions`) over the record: a path such as
``billing.email`` or a call such as ``number(total)``. In text, each placeholder becomes the value as text (numbers
without exponent, ``true``/``false``, nothing for null, lists and objects as JSON). In a JSON body, a string that is
exactly one placeholder keeps the value's own type (a number stays a number, an object an object); other strings are
filled in as text; keys are left as they are.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from nodes import jsoncodec
from nodes.expressions import ExpressionError, compile_expression
from nodes.texts import shown

__all__ = ("TemplateError", "check_template", "fill_json", "fill_text")

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


class TemplateError(ValueError):
    """A placeholder is malformed or cannot be evaluated for this record."""


def check_template(value: Any) -> Any:
    """``value`` unchanged when every placeholder in it compiles.

    Raises:
        TemplateError: a placeholder is not a valid expression (the message says which one and why).
    """
    if isinstance(value, str):
        if value.count("{{") != len(_PLACEHOLDER.findall(value)):
            raise TemplateError(f"a {{{{ placeholder is not closed with }}}} in {shown(value)}")
        for inner in _PLACEHOLDER.findall(value):
            try:
                compile_expression(inner.strip())
            except ExpressionError as exc:
                raise TemplateError(f"{{{{{inner.strip()}}}}}: {exc}") from None
    elif isinstance(value, dict):
        for item in value.values():
            check_template(item)
    elif isinstance(value, list):
        for item in value:
            check_template(item)
    return value


def _evaluate(inner: str, data: dict[str, Any]) -> Any:
    try:
        return compile_expression(inner.strip()).evaluate(data)
    except ExpressionError as exc:
        raise TemplateError(f"{{{{{inner.strip()}}}}}: {exc}") from None


def as_text(value: Any) -> str:
    """A value as it reads inside text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict | list):
        return jsoncodec.dumps(value)
    return str(value)


def fill_text(template: str, data: dict[str, Any]) -> str:
    """``template`` with each placeholder replaced by its value as text.

    Raises:
        TemplateError: a placeholder cannot be evaluated for ``data``.
    """
    return _PLACEHOLDER.sub(lambda match: as_text(_evaluate(match.group(1), data)), template)


def fill_json(template: Any, data: dict[str, Any]) -> Any:
    """A JSON body from ``template``: a string that is one placeholder keeps the value's type, others become text.

    Raises:
        TemplateError: a placeholder cannot be evaluated for ``data``.
    """
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template.strip())
        if whole is not None:
            return _evaluate(whole.group(1), data)
        return fill_text(template, data)
    if isinstance(template, dict):
        return {key: fill_json(value, data) for key, value in template.items()}
    if isinstance(template, list):
        return [fill_json(item, data) for item in template]
    return template
