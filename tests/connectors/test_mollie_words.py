"""Every word the Mollie connector, its nodes and its template show reads in Dutch, from the package's own catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.templates import TEMPLATE_INFO
from nodes.connectors.mollie import CONNECTOR
from nodes.registry import get_node_type
from web.i18n import HERE, catalogue, contributed_catalogues, translate

MOLLIE_NODES = ("mollie.settlements", "mollie.payments", "map.mollie_settlement_to_mutation")
SAME_IN_DUTCH = {"Mollie"}


def _untranslated(texts: list[str]) -> list[str]:
    return [t for t in texts if t and t not in SAME_IN_DUTCH and translate("nl", t) == t]


@pytest.mark.parametrize("node_type", MOLLIE_NODES)
def test_node_form_reads_in_dutch(node_type: str) -> None:
    cls = get_node_type(node_type)
    assert cls is not None
    texts = [cls.title, cls.description]
    for field in cls.config_model.model_fields.values():
        texts += [field.title or "", field.description or ""]
    assert _untranslated(texts) == []


def test_connection_form_and_template_read_in_dutch() -> None:
    texts = [CONNECTOR.label, CONNECTOR.description]
    for field in CONNECTOR.fields:
        texts += [field.label, field.help]
    info = TEMPLATE_INFO["mollie-settlements-to-bank"]
    texts += [info["title"], info["description"], *(q["question"] for q in info["questions"])]
    assert _untranslated(texts) == []


def test_the_words_come_from_the_package_not_from_the_ui_catalogue() -> None:
    package = Path(__file__).resolve().parents[2] / "nodes" / "connectors" / "mollie" / "locale" / "nl.po"
    assert package in contributed_catalogues("nl")
    ui = (HERE / "nl" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    assert "Mollie settlements → bank" not in ui
    assert catalogue("nl")["Mollie settlements → bank"] == "Mollie-uitbetalingen → bank"
    assert catalogue("en") == {}
