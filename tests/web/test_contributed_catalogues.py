"""A connector package's own catalogue is read beside the UI's; the UI's translation wins where both have one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import web.i18n as i18n


@pytest.fixture
def fresh_catalogue() -> Iterator[None]:
    i18n.catalogue.cache_clear()
    yield
    i18n.catalogue.cache_clear()


def test_a_package_catalogue_adds_words_but_does_not_override_the_ui(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_catalogue: None
) -> None:
    ui_word = "Settings"
    ui_dutch = i18n.translate("nl", ui_word)
    assert ui_dutch != ui_word  # the UI translates it itself
    package = tmp_path / "nl.po"
    package.write_text(
        'msgid ""\nmsgstr ""\n"Language: nl\\n"\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        f'msgid "{ui_word}"\nmsgstr "Overschreven"\n\nmsgid "Zz payouts"\nmsgstr "Zz-uitbetalingen"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(i18n, "contributed_catalogues", lambda language: [package] if language == "nl" else [])
    i18n.catalogue.cache_clear()
    assert i18n.translate("nl", "Zz payouts") == "Zz-uitbetalingen"
    assert i18n.translate("nl", ui_word) == ui_dutch
    assert i18n.translate("en", "Zz payouts") == "Zz payouts"
