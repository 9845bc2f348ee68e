"""Every word the Mollie connector, its nodes and its template show reads in Dutch, from the package's own catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.templates import TEMPLATE_INFO
from nodes.connectors.mollie import CONNECTOR
from tests.words import connection_form_words, node_form_words, untranslated
from web.i18n import HERE, catalogue, contributed_catalogues

MOLLIE_NODES = ("mollie.settlements", "mollie.payments", "map.mollie_settlement_to_mutation")
SAME_IN_DUTCH = {"Mollie"}


@pytest.mark.parametrize("node_type", MOLLIE_NODES)
def test_node_form_reads_in_dutch(node_type: str) -> None:
    assert untranslated(node_form_words(node_type), SAME_IN_DUTCH) == []


def test_connection_form_and_template_read_in_dutch() -> None:
    texts = connection_form_words(CONNECTOR)
    info = TEMPLATE_INFO["mollie-settlements-to-bank"]
    texts += [info["title"], info["description"], *(q["question"] for q in info["questions"])]
    assert untranslated(texts, SAME_IN_DUTCH) == []


def test_the_words_come_from_the_package_not_from_the_ui_catalogue() -> None:
    package = Path(__file__).resolve().parents[2] / "nodes" / "connectors" / "mollie" / "locale" / "nl.po"
    assert package in contributed_catalogues("nl")
    ui = (HERE / "nl" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    assert "Mollie settlements → bank" not in ui
    assert catalogue("nl")["Mollie settlements → bank"] == "Mollie-uitbetalingen → bank"
    assert catalogue("en") == {}
