"""Pagination, ordering and filters of the list endpoints (woocommerce-api.md §1 Pagination, List filters)."""

from __future__ import annotations

import re

import httpx

from tests.sandbox.server import SandboxURL


def seed(control: httpx.Client, **counts: int) -> dict:
    answer = control.post("/seed", json={"seed": 7, **counts})
    assert answer.status_code == 200, answer.text
    return answer.json()


def links(answer: httpx.Response) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', answer.headers.get("link", ""))}


def test_headers_links_and_empty_page_past_the_end(woo: httpx.Client, control: httpx.Client) -> None:
    seed(control, orders=25, customers=5)
    first = woo.get("/orders", params={"per_page": 10})
    assert first.headers["x-wp-total"] == "25" and first.headers["x-wp-totalpages"] == "3"
    assert set(links(first)) == {"next"}
    second = httpx.get(links(first)["next"], auth=woo.auth)
    assert set(links(second)) == {"prev", "next"} and "page=2" in links(first)["next"]
    third = httpx.get(links(second)["next"], auth=woo.auth)
    assert len(third.json()) == 5 and set(links(third)) == {"prev"}
    ids = [o["id"] for page in (first, second, third) for o in page.json()]
    assert len(set(ids)) == 25
    past = woo.get("/orders", params={"per_page": 10, "page": 9})
    assert past.status_code == 200 and past.json() == []
    assert past.headers["x-wp-total"] == "25"
    assert woo.get("/orders", params={"page": 0}).status_code == 400


def test_default_order_is_date_desc_and_id_tiebreak_keeps_paging_stable(
    woo: httpx.Client, control: httpx.Client
) -> None:
    seed(control, orders=30, customers=5)
    first = woo.get("/orders", params={"per_page": 10, "orderby": "date", "order": "asc"}).json()
    dates = [o["date_created"] for o in first]
    assert dates == sorted(dates)
    # records change between pages: the order of the rest does not
    for o in first[:5]:
        assert woo.put(f"/orders/{o['id']}", json={"customer_note": "gewijzigd"}).status_code == 200
    second = woo.get("/orders", params={"per_page": 10, "page": 2, "orderby": "date", "order": "asc"}).json()
    assert not {o["id"] for o in first} & {o["id"] for o in second}
    desc = woo.get("/orders", params={"per_page": 100}).json()
    keys = [(o["date_created"], o["id"]) for o in desc]
    assert keys == sorted(keys, reverse=True)
    by_id = woo.get("/orders", params={"per_page": 100, "orderby": "id", "order": "asc"}).json()
    assert [o["id"] for o in by_id] == sorted(o["id"] for o in desc)
    assert woo.get("/orders", params={"orderby": "colour"}).status_code == 400
    assert woo.get("/orders", params={"order": "up"}).status_code == 400


def test_order_filters(woo: httpx.Client, control: httpx.Client) -> None:
    seed(control, orders=80, customers=10)
    everything = woo.get("/orders", params={"per_page": 100}).json()
    statuses = {o["status"] for o in everything}
    assert statuses >= {"pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed"}
    some = woo.get("/orders", params={"status": "completed,refunded", "per_page": 100}).json()
    assert some and {o["status"] for o in some} <= {"completed", "refunded"}
    as_array = woo.get("/orders", params=[("status[]", "completed"), ("status[]", "refunded"), ("per_page", "100")])
    assert [o["id"] for o in as_array.json()] == [o["id"] for o in some]
    assert woo.get("/orders", params={"status": "shipped"}).status_code == 400
    customer = next(o["customer_id"] for o in everything if o["customer_id"])
    mine = woo.get("/orders", params={"customer": customer, "per_page": 100}).json()
    assert mine and all(o["customer_id"] == customer for o in mine)
    guests = woo.get("/orders", params={"customer": 0, "per_page": 100}).json()
    assert all(o["customer_id"] == 0 for o in guests)
    picked = [everything[3]["id"], everything[1]["id"]]
    included = woo.get("/orders", params={"include": ",".join(map(str, picked)), "orderby": "include", "order": "asc"})
    assert [o["id"] for o in included.json()] == picked
    excluded = woo.get("/orders", params={"exclude": picked[0], "per_page": 100}).json()
    assert picked[0] not in {o["id"] for o in excluded} and len(excluded) == len(everything) - 1
    middle = sorted(o["date_created"] for o in everything)[40]
    after = woo.get("/orders", params={"after": middle, "per_page": 100}).json()
    assert after and all(o["date_created"] > middle for o in after)
    before = woo.get("/orders", params={"before": middle, "per_page": 100}).json()
    assert len(after) + len(before) == len(everything) - 1
    middle_gmt = sorted(o["date_created_gmt"] for o in everything)[40]
    after_gmt = woo.get("/orders", params={"after": middle_gmt, "dates_are_gmt": "true", "per_page": 100}).json()
    assert {o["id"] for o in after_gmt} == {o["id"] for o in after}
    with_offset = woo.get("/orders", params={"after": middle_gmt + "+00:00", "per_page": 100}).json()
    assert {o["id"] for o in with_offset} == {o["id"] for o in after}
    changed = woo.put(f"/orders/{everything[-1]['id']}", json={"customer_note": "nu"}).json()
    recent = woo.get("/orders", params={"modified_after": everything[0]["date_modified"], "per_page": 100}).json()
    assert changed["id"] in {o["id"] for o in recent}
    product = everything[0]["line_items"][0]["product_id"]
    with_product = woo.get("/orders", params={"product": product, "per_page": 100}).json()
    assert with_product and all(any(li["product_id"] == product for li in o["line_items"]) for o in with_product)
    name = everything[0]["billing"]["last_name"]
    found = woo.get("/orders", params={"search": name, "per_page": 100}).json()
    assert everything[0]["id"] in {o["id"] for o in found}


def test_product_filters_and_sku_finds_variations(woo: httpx.Client, control: httpx.Client) -> None:
    seed(control, products=16)
    products = woo.get("/products", params={"per_page": 100}).json()
    assert len(products) == 16
    assert {p["type"] for p in products} == {"simple", "variable"}
    variable = next(p for p in products if p["type"] == "variable")
    variations = woo.get(f"/products/{variable['id']}/variations", params={"per_page": 100}).json()
    assert [v["id"] for v in sorted(variations, key=lambda v: v["id"])] == sorted(variable["variations"])
    skus = [variations[0]["sku"], products[0]["sku"]]
    by_sku = woo.get("/products", params={"sku": ",".join(skus)}).json()
    assert {p["sku"] for p in by_sku} == set(skus)
    assert {p["type"] for p in by_sku} == {"variation", products[0]["type"]}
    found = next(p for p in by_sku if p["type"] == "variation")
    assert found["parent_id"] == variable["id"] and found["_links"]["up"][0]["href"].endswith(
        f"/products/{variable['id']}"
    )
    simple = woo.get("/products", params={"type": "simple", "per_page": 100}).json()
    assert simple and all(p["type"] == "simple" for p in simple)
    virtual = woo.get("/products", params={"virtual": "true", "per_page": 100}).json()
    assert virtual and all(p["virtual"] for p in virtual)
    out = woo.get("/products", params={"stock_status": "outofstock", "per_page": 100}).json()
    assert all(p["stock_status"] == "outofstock" for p in out)
    ean = next(p["global_unique_id"] for p in products if p["global_unique_id"])
    assert [p["global_unique_id"] for p in woo.get("/products", params={"global_unique_id": ean}).json()] == [ean]
    changed = woo.put(f"/products/{products[-1]['id']}", json={"stock_quantity": 3, "manage_stock": True}).json()
    recent = woo.get("/products", params={"modified_after": products[0]["date_modified"]}).json()
    assert changed["id"] in {p["id"] for p in recent}
    assert woo.get("/products", params={"type": "bundle"}).status_code == 400
    asc = woo.get("/products", params={"orderby": "title", "order": "asc", "per_page": 100}).json()
    assert [p["name"] for p in asc] == sorted(p["name"] for p in products)


def test_customer_filters(woo: httpx.Client, control: httpx.Client, sandbox: SandboxURL) -> None:
    seed(control, customers=12)
    customers = woo.get("/customers", params={"per_page": 100}).json()
    assert len(customers) == 12
    assert {c["billing"]["country"] for c in customers} <= {"NL", "BE", "DE", "FR", "GB", "US"}
    email = customers[3]["email"]
    assert [c["email"] for c in woo.get("/customers", params={"email": email}).json()] == [email]
    assert woo.get("/customers", params={"role": "administrator"}).json() == []
    assert len(woo.get("/customers", params={"role": "all", "per_page": 100}).json()) == 12
    assert woo.get("/customers", params={"role": "wizard"}).status_code == 400
    by_id = woo.get("/customers", params={"orderby": "id", "order": "asc", "per_page": 100}).json()
    assert [c["id"] for c in by_id] == sorted(c["id"] for c in customers)


def test_modified_keyset_paging_in_gmt(woo: httpx.Client, control: httpx.Client) -> None:
    seed(control, orders=60, customers=10)
    params = {"orderby": "modified", "order": "asc", "dates_are_gmt": "true", "per_page": 100}
    every = woo.get("/orders", params=params).json()
    stamps = [o["date_modified_gmt"] for o in every]
    assert stamps == sorted(stamps)
    boundary = stamps[29]
    later = woo.get("/orders", params={**params, "modified_after": boundary}).json()
    assert later and all(o["date_modified_gmt"] > boundary for o in later)
    assert [o["id"] for o in later] == [o["id"] for o in every if o["date_modified_gmt"] > boundary]

    # Each keyset page is answered from the list without the stamp (shared between pages): it must still be the
    # exact tail, with its own total, and follow changes made between two pages.
    answer = woo.get("/orders", params={**params, "modified_after": boundary, "per_page": 5})
    assert answer.headers["X-WP-Total"] == str(len(later)) and [o["id"] for o in answer.json()] == [
        o["id"] for o in later[:5]
    ]
    early = every[0]["id"]
    assert woo.put(f"/orders/{early}", json={"customer_note": "changed"}).status_code == 200
    again = woo.get("/orders", params={**params, "modified_after": boundary}).json()
    assert [o["id"] for o in again] == [o["id"] for o in later] + [early]
