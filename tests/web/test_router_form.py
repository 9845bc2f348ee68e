"""The router's form on the canvas (its outputs, each with conditions), and the upgrade offered for an old step."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from engine.flow import validate_flow
from tests.web.conftest import Site

ROUTES = [
    {"output": "netherlands", "conditions": {"all": [{"field": "billing.country", "op": "equals", "value": "NL"}]}},
    {"output": "business", "conditions": {"any": [{"field": "billing.company", "op": "not_empty"}]}},
]


def _form(site: Site, node_type: str, config: dict[str, Any], **extra: str) -> str:
    answer = site.client.post(
        "/ui/node-form",
        data={"type": node_type, "node_id": "split", "flow_id": "x", "config": json.dumps(config), **extra},
        headers=site.htmx(),
    )
    assert answer.status_code == 200, answer.text[:300]
    return answer.text


def _flow(routes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": "koppel.flow/1",
        "name": "Split orders",
        "nodes": [
            {"id": "orders", "type": "woocommerce.orders", "config": {"connection": "shop"}},
            {"id": "split", "type": "router", "config": {"routes": routes}},
            {"id": "book", "type": "email.send", "config": {"to": "a@example.com", "subject": "s", "body": "b"}},
        ],
        "edges": [
            {"from": "orders", "to": "split"},
            {"from": "split", "from_port": "netherlands", "to": "book", "to_port": "in"},
        ],
    }


def test_the_router_form_shows_each_output_with_its_conditions(site: Site) -> None:
    page = _form(site, "router", {"routes": ROUTES})
    names = re.findall(r'class="route-output" value="([^"]*)"', page)
    assert names == ["netherlands", "business", ""]  # the two outputs, and the empty one "Add output" clones
    assert "billing.country" in page and "billing.company" in page
    assert "Records go down this output when they match" in page and ">Add output<" in page
    assert 'Records no output takes go down "otherwise"' in html.unescape(page)


def test_the_router_is_validated_and_its_problems_shown_at_the_output(site: Site) -> None:
    assert validate_flow(_flow(ROUTES)) == []
    broken = [ROUTES[0], {"output": "netherlands", "conditions": {"all": []}}]
    problems = [p.as_dict() for p in validate_flow(_flow(broken))]
    assert problems == [
        {
            "node": "split",
            "field": "routes[1].conditions",
            "message": "add a condition to this output: without one it would take every record",
        }
    ]
    same_name = [ROUTES[0], {**ROUTES[1], "output": "Netherlands"}]
    assert [p.message for p in validate_flow(_flow(same_name))] == [
        'two outputs are named "Netherlands": give each output its own name'
    ]
    assert [p.message for p in validate_flow(_flow([]))] == ["add at least one output with its conditions"]
    page = _form(site, "router", {"routes": broken}, problems=json.dumps(problems))
    second = page.split('class="route-row"')[2]
    assert "add a condition to this output" in second and "add a condition" not in page.split('class="route-row"')[1]


def test_the_router_form_reads_in_dutch(site: Site) -> None:
    site.client.post("/lang", data={"lang": "nl", "next": "/", "csrf_token": site.csrf})
    page = _form(site, "router", {"routes": ROUTES})
    for dutch in ("Verdeler", "Naam van de uitgang", "Uitgang toevoegen", "Records gaan naar deze uitgang"):
        assert dutch in page, dutch


def test_an_old_step_offers_its_upgrade_and_a_current_one_does_not(site: Site) -> None:
    old = {"conditions": [{"field": "status", "op": "equals", "value": "completed"}]}
    page = _form(site, "filter", old, version="1")
    assert "This step uses an older version of its type." in page and ">Upgrade<" in page
    button = re.search(r'class="upgrade-node" data-version="(\d+)" data-config="([^"]*)"', page)
    assert button is not None and button.group(1) == "2"
    assert json.loads(html.unescape(button.group(2))) == {
        "conditions": {"all": [{"field": "status", "op": "equals", "value": "completed"}]}
    }
    current = _form(site, "filter", {"conditions": {"all": []}}, version="2")
    assert "older version" not in current
    unversioned = _form(site, "filter", {"conditions": {"all": []}})  # saved before versions: version 1
    assert "older version" in unversioned


def test_port_and_version_messages_read_in_dutch() -> None:
    from web.i18n import translate_message

    messages = [
        'the wire to Test map leaves by an output "rejected" this step does not have (its outputs: kept, discarded)',
        'the wire from Filter enters by an input "second" this step does not have (its input: in)',
        "this step was saved by a newer Koppel (version 7): this one knows up to version 2",
        'two outputs are named "nl": give each output its own name',
        'Split: no output of the router matched (first: Billing → Country is "DE", expected "NL")',
        'Split: the record leaves by "nl", where no wire leads',
    ]
    dutch = [translate_message("nl", m) for m in messages]
    assert dutch == [
        'de verbinding naar Test map vertrekt uit een uitgang „rejected" die deze stap niet heeft '
        "(zijn uitgangen: kept, discarded)",
        'de verbinding van Filter komt binnen via een ingang „second" die deze stap niet heeft (zijn ingang: in)',
        "deze stap is opgeslagen door een nieuwere Koppel (versie 7): deze kent tot en met versie 2",
        'twee uitgangen heten „nl": geef elke uitgang een eigen naam',
        'Split: geen uitgang van de verdeler paste (eerste: Factuuradres → Land is „DE", verwacht: „NL")',
        'Split: het record verlaat de stap via „nl", waar geen verbinding op aansluit',
    ]
