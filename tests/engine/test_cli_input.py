"""The command line refuses a bad connections file or flow file with exit 2 and the field named; nothing runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from engine.templates import get_template

CONNECTIONS: dict[str, Any] = {
    "woocommerce": {
        "app": "woocommerce",
        "url": "http://127.0.0.1:9/woocommerce",
        "consumer_key": "ck_x",
        "consumer_secret": "cs_x",
    },
    "asperion": {
        "app": "asperion",
        "url": "http://127.0.0.1:9/asperion",
        "identity_url": "http://127.0.0.1:9/asperion",
        "client_id": "c",
        "client_secret": "s",
        "refresh_token": "r",
        "tenant_id": 1001,
    },
}


def _run(args: list[str]) -> int:
    try:
        return main(args)
    except SystemExit as exit_:
        return int(exit_.code or 0)


def _files(tmp_path: Path, flow: Any, connections: Any) -> tuple[str, str]:
    flow_file, conn_file = tmp_path / "flow.json", tmp_path / "conn.json"
    flow_file.write_text(flow if isinstance(flow, str) else json.dumps(flow))
    conn_file.write_text(connections if isinstance(connections, str) else json.dumps(connections))
    return str(flow_file), str(conn_file)


@pytest.mark.parametrize(
    ("connection", "change", "message"),
    [
        ("woocommerce", {"concurrency": 0}, "concurrency must be between 1 and 64"),
        ("woocommerce", {"concurrency": 2.5}, "concurrency must be a whole number"),
        ("asperion", {"timeout": -1}, "timeout must be between 0.1 and 600"),
        ("asperion", {"tenant_id": 1.5}, "(tenant_id) must be a whole number"),
        ("asperion", {"tenant_id": "1.5"}, "(tenant_id) must be a whole number"),
    ],
)
def test_bad_connections_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], connection: str, change: dict[str, Any], message: str
) -> None:
    connections = json.loads(json.dumps(CONNECTIONS))
    connections[connection].update(change)
    flow, conn = _files(tmp_path, get_template("orders-to-sales-invoices"), connections)
    assert _run(["flow", "run", flow, "--connections", conn]) == 2
    err = capsys.readouterr().err
    assert message in err and f'connection "{connection}"' in err


def test_flow_settings_are_validated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = {**get_template("orders-to-sales-invoices"), "settings": {"concurrency": "many"}}
    flow, _ = _files(tmp_path, document, CONNECTIONS)
    assert _run(["flow", "validate", flow]) == 2
    problems = json.loads(capsys.readouterr().out)
    assert {"node": None, "field": "settings.concurrency", "message": "must be a whole number from 1 to 64"} in problems


def test_deeply_nested_and_nul_files_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flow, conn = _files(tmp_path, "[" * 50_000 + "]" * 50_000, CONNECTIONS)
    assert _run(["flow", "validate", flow]) == 2
    assert "nested deeper than 64 levels" in capsys.readouterr().err
    document = get_template("orders-to-sales-invoices")
    document["name"] = "orders\u0000"
    flow, conn = _files(tmp_path, document, CONNECTIONS)
    assert _run(["flow", "run", flow, "--connections", conn]) == 2
    assert "name contains a NUL character" in capsys.readouterr().err
