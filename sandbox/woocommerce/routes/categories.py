"""``/products/categories``: the categories products carry (plus ones created through the API)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.http import Request, Response, dumps, json_response
from sandbox.woocommerce.errors import WooError
from sandbox.woocommerce.listing import id_filters, list_response
from sandbox.woocommerce.objects import links, slugify
from sandbox.woocommerce.routes.common import body_dict, created, rest_base

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("register",)


def _all(sim: WooSim) -> dict[int, dict[str, Any]]:
    """Every category: the stored ones and those products refer to, with their product counts."""
    out = {cid: {**cat, "count": 0} for cid, cat in sim.categories.items()}
    for pid in sim.products.ids():
        product = sim.products.peek(pid) or {}
        for ref in product.get("categories") or []:
            cid = int(ref.get("id") or 0)
            cat = out.setdefault(cid, _category(cid, str(ref.get("name", "")), str(ref.get("slug", ""))))
            cat["count"] += 1
    return out


def _category(cid: int, name: str, slug: str = "", parent: int = 0, description: str = "") -> dict[str, Any]:
    return {
        "id": cid,
        "name": name,
        "slug": slug or slugify(name),
        "parent": parent,
        "description": description,
        "display": "default",
        "image": None,
        "menu_order": 0,
        "count": 0,
    }


def _out(req: Request, cat: dict[str, Any]) -> dict[str, Any]:
    return {**cat, "_links": links(rest_base(req), "products/categories", cat["id"])}


def _missing() -> WooError:
    return WooError("woocommerce_rest_term_invalid", "Resource doesn't exist.", 404)


def register(sim: WooSim) -> None:
    """Register the category routes."""

    @sim.route("GET", "/products/categories", "list")
    def _list(sim: WooSim, req: Request) -> Response:
        cats = _all(sim)
        ids = id_filters(req, sorted(cats, key=lambda i: cats[i]["name"]))
        if req.arg("slug"):
            ids = [i for i in ids if cats[i]["slug"] == req.arg("slug")]
        if (req.arg("hide_empty") or "").lower() in ("1", "true"):
            ids = [i for i in ids if cats[i]["count"]]
        return list_response(req, ids, lambda i: dumps(_out(req, cats[i])))

    @sim.route("GET", "/products/categories/{id:int}", "view")
    def _get(sim: WooSim, req: Request, id: int) -> Response:
        cat = _all(sim).get(id)
        if cat is None:
            raise _missing()
        return json_response(_out(req, cat))

    @sim.route("POST", "/products/categories", "create")
    def _create(sim: WooSim, req: Request) -> Response:
        data = body_dict(req)
        name = str(data.get("name") or "").strip()
        if not name:
            raise WooError("rest_missing_callback_param", "Missing parameter(s): name", 400, params=["name"])
        slug = str(data.get("slug") or slugify(name))
        if any(c["slug"] == slug for c in _all(sim).values()):
            raise WooError("term_exists", "A term with the name provided already exists with this parent.", 400)
        cid = max([*_all(sim), 100]) + 1
        sim.categories[cid] = _category(
            cid, name, slug, int(data.get("parent") or 0), str(data.get("description") or "")
        )
        out = _out(req, {**sim.categories[cid]})
        return created(out, out["_links"]["self"][0]["href"])
