"""No Python repr in what a person reads: the templates run on the sandbox — dry (the test run) and for real, with
mapping tables that lack values (records wait), filters that skip and an application that fails — and every log
message, which is also the inbox's reason and the test run's text, reads as plain words in English and in Dutch:
no value in Python's quotes ('klarna'), no None/True/False/[], no internal step id."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import select

from engine.db import Database
from engine.models import LogEntry
from engine.service import create_run, execute_run
from engine.templates import get_template
from tests.sandbox.server import running_sandbox
from tests.templates.sandbox_runs import connections
from web.i18n import translate_message

REPR_QUOTE = re.compile(r"(?<![A-Za-z])'[^'\s][^']{0,80}'(?![A-Za-z])")
PYTHON_WORDS = re.compile(r"(?<![\w\"„])(None|True|False|\[\]|\{\})(?![\w\"])")
TEMPLATES = (
    "orders-to-sales-invoices",
    "payments-to-financial-mutations",
    "customers-to-debtors",
    "products-to-articles",
    "stock-to-woocommerce",
)


def _without_fallbacks(document: dict[str, Any]) -> dict[str, Any]:
    """The template with the catch-all rows ("*") taken out of its mapping tables: unknown values wait."""
    for node in document["nodes"]:
        config = node.get("config") or {}
        for key in ("payment_conditions", "payment_accounts", "shipping_accounts"):
            table = config.get(key)
            if isinstance(table, dict):
                config[key] = {k: v for k, v in table.items() if k != "*"}
        if node["type"] == "woocommerce.orders":
            config["start_date"] = None
    return document


def _step_ids(document: dict[str, Any]) -> set[str]:
    """The template's step ids that are no English word ("book_credit", "refund_debtor")."""
    return {str(n["id"]) for n in document["nodes"] if "_" in str(n["id"])}


def _problems(text: str, ids: set[str]) -> list[str]:
    found = REPR_QUOTE.findall(text) + PYTHON_WORDS.findall(text)
    found += [step for step in ids if re.search(rf"\b{re.escape(step)}\b", text)]
    return found


async def _messages(db: Database, document: dict[str, Any], base: str, **params: Any) -> list[tuple[str, str]]:
    run = await create_run(db, document=document, trigger="test", params=params, connections=connections(base))
    finished = await execute_run(db, run.id)
    assert finished is not None
    async with db.session() as session:
        rows = (await session.execute(select(LogEntry).where(LogEntry.run_id == run.id))).scalars().all()
    return [(row.status, row.message or "") for row in rows]


async def test_every_message_reads_as_plain_words(db: Database) -> None:
    seen: dict[str, set[str]] = {}
    bad: list[tuple[str, str, list[str]]] = []
    with running_sandbox(orders=60, customers=20, products=15, seed=3) as base:
        control = httpx.AsyncClient(base_url=f"{base}/_sandbox")
        for name in TEMPLATES:
            document = _without_fallbacks(get_template(name))
            ids = _step_ids(document)
            runs = [{"dry_run": True, "limit": 40}, {"limit": 40}]
            for params in runs:
                for status, message in await _messages(db, document, base, **params):
                    seen.setdefault(status, set()).add(message)
                    for text in (message, translate_message("nl", message)):
                        if _problems(text, ids):
                            bad.append((name, text, _problems(text, ids)))
        # an application that fails: the records fail with a readable reason
        await control.put("/faults", json={"fail_rate": 1, "target": "asperion"})
        document = {**_without_fallbacks(get_template("customers-to-debtors")), "name": "Customers, Asperion down"}
        for status, message in await _messages(db, document, base, limit=2):
            seen.setdefault(status, set()).add(message)
            for text in (message, translate_message("nl", message)):
                if _problems(text, set()):
                    bad.append(("faults", text, _problems(text, set())))
        await control.put("/faults", json={"fail_rate": 0, "target": "all"})
        await control.aclose()
    assert not bad, bad[:20]
    # the runs did show every kind of outcome, so the check above read each kind of message
    assert {"ok", "skipped", "waiting", "failed"} <= set(seen), {k: sorted(v)[:3] for k, v in seen.items()}
    assert any(m.startswith("Booked as sales invoice ") for m in seen["ok"])
    assert any(m.startswith("Would be booked as sales invoice ") for m in seen["ok"])
    assert "not paid yet" in seen["skipped"]
    assert any('"' in m for m in seen["waiting"]), seen["waiting"]
