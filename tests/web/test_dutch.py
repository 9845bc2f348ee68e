"""Complete Dutch: every text of the English catalogue has its Dutch translation, every text a node type shows is
in the catalogue, and no page rendered in Dutch still shows a text of the English catalogue."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

from tests.web.conftest import Site
from tests.web.test_pages import _create_from_template, _seed_run, seed_log

ROOT = Path(__file__).resolve().parents[2]


def english_ids() -> list[str]:
    """The UI catalogue's texts and those a connector package brings in its own ``locale/`` catalogue."""
    from web.i18n import contributed_catalogues

    ids: list[str] = []
    for path in [ROOT / "web" / "i18n" / "en" / "LC_MESSAGES" / "messages.po", *contributed_catalogues("nl")]:
        with path.open("rb") as handle:
            ids += [str(m.id) for m in read_po(handle) if m.id and isinstance(m.id, str)]
    return list(dict.fromkeys(ids))


def node_texts() -> list[str]:
    """Every text a node type puts on the canvas, the palette or its settings form."""
    from nodes.registry import all_node_types
    from web.ui.editor import CANVAS_WORDS, KIND_LABELS, KIND_ORDER
    from web.ui.forms import OPERATORS, build_widgets

    texts = [*CANVAS_WORDS, *KIND_LABELS.values(), *(label for _, label in KIND_ORDER), *(t for _, t in OPERATORS)]
    for cls in all_node_types().values():
        if cls.__module__.startswith("tests."):
            continue  # node types other tests register for themselves
        described = cls.describe()
        texts += [described["title"], described["description"]]
        texts += [output["title"] for output in described["outputs"]]  # the labels of a step's outputs
        widgets = build_widgets(described["config_schema"], {}, node_app=cls.app, connections={}, problems=[])
        for widget in widgets:
            texts += [widget.title, widget.description or ""]
            texts += [text for _, text in (widget.options or [])]
    return [t for t in dict.fromkeys(texts) if t]


def test_every_english_text_has_a_dutch_translation() -> None:
    from web.i18n import catalogue

    dutch = catalogue("nl")
    missing = [text for text in english_ids() if text not in dutch]
    assert not missing, missing


def test_every_node_text_is_in_both_catalogues() -> None:
    from web.i18n import catalogue

    english, dutch = set(english_ids()), catalogue("nl")
    assert [t for t in node_texts() if t not in english] == []
    assert [t for t in node_texts() if t not in dutch] == []


def visible_texts(page: str) -> list[str]:
    """The texts a person sees (or hears) on a page: text between tags and the title/label/placeholder attributes."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    texts = re.findall(r'\b(?:title|aria-label|placeholder|alt)="([^"]*)"', page)
    texts += re.split(r"<[^>]*>", page)
    return [html.unescape(t).strip() for t in texts if html.unescape(t).strip()]


def english_on(page: str, english: dict[str, str]) -> list[str]:
    """Texts of the English catalogue, or engine messages its patterns know ("delivered as 7"), left untranslated."""
    from web.i18n import translate_message

    return sorted({t for t in visible_texts(page) if t in english or translate_message("nl", t) != t})


def test_no_english_text_on_dutch_pages(site: Site) -> None:
    import asyncio

    from nodes.registry import all_node_types
    from web.i18n import catalogue

    dutch = catalogue("nl")
    # texts that read differently in Dutch; "Filter" or "status is" are the same words in both languages
    english = {text: dutch[text] for text in [*english_ids(), *node_texts()] if dutch.get(text, text) != text}
    site.client.post("/lang", data={"lang": "nl", "next": "/", "csrf_token": site.csrf})
    flow_id = _create_from_template(site)
    run_id, log_id = asyncio.run(_seed_run(site.database_url, flow_id))
    paths = [
        "/",
        "/connections",
        "/connections/new?app=asperion",
        "/connections/new?app=woocommerce",
        "/templates",
        "/templates/orders-to-sales-invoices/use",
        "/runs",
        f"/runs/{run_id}",
        f"/runs/{run_id}/rows",
        f"/logs/{log_id}",
        "/inbox",
        "/wizard",
        "/account/tokens",
        f"/flows/{flow_id}",
        f"/flows/{flow_id}/runs",
    ]
    found: dict[str, list[str]] = {}
    for path in paths:
        page = site.client.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        assert '<html lang="nl">' in page.text or "<html" not in page.text
        if english_on(page.text, english):
            found[path] = english_on(page.text, english)
    for node_type, cls in all_node_types().items():
        if cls.__module__.startswith("tests."):
            continue
        form = site.client.post(
            "/ui/node-form",
            data={"type": node_type, "node_id": "step", "flow_id": flow_id, "config": "{}", "problems": "[]"},
            headers=site.htmx(),
        )
        assert form.status_code == 200, form.text[:300]
        if english_on(form.text, english):
            found[f"form of {cls.title}"] = english_on(form.text, english)
    # the canvas's node names, kinds, summaries and wire names come from the page's data attributes
    editor = site.client.get(f"/flows/{flow_id}").text
    problems = re.search(r'data-problems="([^"]*)"', editor)
    assert problems
    shown_problems = [p["message"] for p in json.loads(html.unescape(problems.group(1)))]
    assert shown_problems  # the template's flow names connections this site does not have
    from web.i18n import translate_message

    if [m for m in shown_problems if translate_message("nl", m) != m]:
        found["data-problems"] = shown_problems
    for attr in ("data-types", "data-words", "data-operators"):
        match = re.search(attr + r'="([^"]*)"', editor)
        assert match, attr
        data = json.loads(html.unescape(match.group(1)))
        values: list[Any] = list(data.values())
        shown = [v.get("title") for v in values if isinstance(v, dict)] or values
        left = sorted({v for v in shown if isinstance(v, str) and v in english})
        if left:
            found[attr] = left
    assert not found, found


def test_engine_messages_are_translated_with_their_values() -> None:
    from web.i18n import translate_message

    assert translate_message("nl", "delivered as 146") == "geleverd als 146"
    assert translate_message("nl", 'needs mapping: payment_conditions has no row for "klarna"') == (
        'koppeling nodig: payment_conditions heeft geen rij voor „klarna"'
    )
    assert translate_message("nl", 'unknown node type "x"; the flow has no source node') == (
        'onbekend soort stap „x"; de flow heeft geen bron'
    )
    # a sentence's values are translated too: the kind of record, a filter's reason, amounts
    assert translate_message("nl", "Booked as sales invoice 146 for Daan Bakker, €55.94") == (
        "Geboekt als verkoopfactuur 146 voor Daan Bakker, €\u00a055,94"
    )
    assert translate_message("nl", "Created as debtor 10016 for Daan van Dijk") == (
        "Aangemaakt als debiteur 10016 voor Daan van Dijk"
    )
    assert translate_message(
        "nl", 'Order status: Status is "cancelled", expected one of "processing", "completed"'
    ) == ('Order status: Status is „cancelled", verwacht: een van „processing", „completed"')
    assert translate_message("nl", "something no catalogue knows") == "something no catalogue knows"
    assert translate_message("en", "delivered as 146") == "delivered as 146"


async def test_a_dutch_run_log_names_the_skipped_field_in_dutch(site: Site) -> None:
    """A filter that skips on ``date_paid``: the run log of a Dutch page says "Betaaldatum", an English one
    "Date paid"."""
    import pytest

    from nodes.base import Record, SkipRecord
    from nodes.filter import FilterConfig, FilterNode
    from tests.nodes.fakes import FakeContext

    conditions = {"all": [{"field": "date_paid", "op": "not_empty"}, {"field": "billing.country", "op": "is_set"}]}
    node = FilterNode("paid", FilterConfig.model_validate({"conditions": conditions}), FakeContext())
    records = ({"date_paid": None, "billing": {"country": "NL"}}, {"date_paid": "2026-12-01", "billing": {}})
    reasons = []
    for data in records:
        with pytest.raises(SkipRecord) as info:
            await node.process(Record(key="1", source_id="order:1", data=data))
        reasons.append(info.value.message)
    flow_id = _create_from_template(site)
    rows = [
        {"node_id": "paid", "record_key": str(n), "status": "skipped", "message": reason, "detail": {"input": data}}
        for n, (reason, data) in enumerate(zip(reasons, records, strict=True), start=1)
    ]
    run_id, (log_id, _) = await seed_log(
        site.database_url, flow_id, rows, document={"nodes": [{"id": "paid"}]}, status="succeeded"
    )
    english = html.unescape(site.client.get(f"/runs/{run_id}/rows").text)
    assert "Date paid is not set" in english and "Billing → Country is not set" in english
    site.client.post("/lang", data={"lang": "nl", "next": "/", "csrf_token": site.csrf})
    dutch = html.unescape(site.client.get(f"/runs/{run_id}/rows").text)
    assert "Betaaldatum is niet ingevuld" in dutch and "Factuuradres → Land is niet ingevuld" in dutch
    assert "Date paid" not in dutch and "Billing" not in dutch
    # the record drawer names the record's fields in Dutch too
    drawer = html.unescape(site.client.get(f"/logs/{log_id}", headers=site.htmx()).text)
    assert '<th scope="row">Factuuradres → Land</th><td>NL</td>' in drawer and "Billing" not in drawer


def test_the_field_picker_names_the_fields_in_the_page_language(site: Site, monkeypatch: Any) -> None:
    """The picker's options (and so its groups, by the first part) read "Factuuradres → Land" on a Dutch page;
    the value stays the record's path; a field no glossary knows keeps its own words."""
    from web.ui import editor

    async def paths(*_: Any, **__: Any) -> list[str]:
        return ["billing.country", "line_items[*].total", "meta_data[*].key", "date_paid", "_wc_custom_thing"]

    monkeypatch.setattr(editor, "sample_fields", paths)
    flow_id = _create_from_template(site)
    english = html.unescape(site.client.get(f"/flows/{flow_id}/sample-fields").text)
    assert 'value="billing.country" label="Billing → Country"' in english
    site.client.post("/lang", data={"lang": "nl", "next": "/", "csrf_token": site.csrf})
    dutch = html.unescape(site.client.get(f"/flows/{flow_id}/sample-fields").text)
    labels = re.findall(r'value="([^"]*)" label="([^"]*)"', dutch)
    assert labels == [
        ("date_paid", "Betaaldatum"),
        ("billing.country", "Factuuradres → Land"),
        ("meta_data[*].key", "Metagegevens → Sleutel"),
        ("line_items[*].total", "Orderregels → Totaal"),
        ("_wc_custom_thing", "Wc custom thing"),
    ]


def test_record_fields_of_every_connector_read_in_dutch() -> None:
    from web.i18n import field_name, translate_message

    assert field_name("nl", "refunds[*].reason") == "Terugbetalingen → Reden"
    assert field_name("nl", "shipping.postcode") == "Verzendadres → Postcode"
    assert field_name("nl", "countryCode") == "Landcode"  # Asperion's debtor
    assert field_name("nl", "settled.payments.order_ids") == "Verrekend → Betalingen → Order-ID's"  # Mollie
    assert field_name("nl", "paidAt") == "Betaald op"
    assert field_name("nl", "billing.vat_number_x") == "Factuuradres → Vat number x"
    assert field_name("en", "billing.country") == "Billing → Country"
    assert translate_message("nl", 'Paid: Status is "pending", expected "paid"') == (
        'Paid: Status is „pending", verwacht: „paid"'
    )
