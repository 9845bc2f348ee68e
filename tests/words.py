"""What the "reads in Dutch" tests share: the words a node form or a connection form shows, and which lack Dutch."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from nodes.connectors.base import Connector
from nodes.registry import get_node_type
from web.i18n import translate

__all__ = ("connection_form_words", "node_form_words", "untranslated")


def node_form_words(node_type: str) -> list[str]:
    """The node type's title and description and the title and help of each field of its settings form."""
    cls = get_node_type(node_type)
    assert cls is not None, node_type
    texts = [cls.title, cls.description]
    for field in cls.config_model.model_fields.values():
        texts += [field.title or "", field.description or ""]
    return texts


def connection_form_words(connector: Connector[Any]) -> list[str]:
    """The application's name and description and the label and help of each field of its connection form."""
    texts = [connector.label, connector.description]
    for field in connector.fields:
        texts += [field.label, field.help]
    return texts


def untranslated(texts: Iterable[str], same_in_dutch: Collection[str] = ()) -> list[str]:
    """The texts without a Dutch translation (empty ones and those spelled the same in Dutch aside)."""
    return [t for t in texts if t and t not in same_in_dutch and translate("nl", t) == t]
