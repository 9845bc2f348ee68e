"""A log entry's detail never shows a secret, whatever the letters around it (the quick pre-check works on bytes)."""

from __future__ import annotations

import json

import pytest

from engine.logsink import encode_detail, snapshot


@pytest.mark.parametrize(
    "key",
    ["token", "Consumer_Secret", "ACCESS_TOKEN", "Authorization", "to\u212aen"],  # the last: a KELVIN SIGN "k"
)
def test_secret_keys_are_hidden_beside_non_ascii_text(key: str) -> None:
    detail = {"input": {"name": "Zoë Müller", "note": "vóór vrijdag € 12 × 2", "auth": {key: "s3cr3t"}}}
    text = encode_detail(detail)
    assert "s3cr3t" not in text
    assert json.loads(text)["input"]["name"] == "Zoë Müller"
    assert "s3cr3t" not in json.dumps(snapshot(detail), ensure_ascii=False)


def test_words_alone_are_not_secrets() -> None:
    detail = {"input": {"tokens_left": 3, "description": "password reset for Zoë", "İtem": "ok"}}
    assert json.loads(encode_detail(detail)) == detail
