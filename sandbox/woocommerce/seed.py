"""Deterministic seeding of a realistic Dutch shop in EUR.

Customers in NL, BE, DE, FR, GB and US (a quarter are companies with VAT numbers); guest orders; simple,
virtual (some downloadable) and variable products with variations, EAN-13 in ``global_unique_id``, HTML and
non-ASCII names (one product name carries a ``<script>`` tag and ``&amp;`` entities); percent, fixed-cart and
fixed-product coupons; fees (also a negative one); flat-rate, free and local-pickup shipping; every order
status; partial and full refunds. Orders are built by the same code path as ``POST /orders`` so their totals
are consistent to the cent. The same ``seed`` always gives the same data.
"""

from __future__ import annotations

import random
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sandbox.woocommerce.objects import SITE, date_pair, new_coupon, new_customer, new_product, new_variation
from sandbox.woocommerce.orders import build_order
from sandbox.woocommerce.refunds import create_refund
from sandbox.woocommerce.totals import r2

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("default_customers", "ean13", "seed_store")

END = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)
BIG_STORE = 20_000

_FIRST = {
    "NL": ["Jan", "Sanne", "Pieter", "Eva", "Daan", "Lotte", "Bram", "Femke", "Sem", "Noor", "Joris", "Marloes"],
    "BE": ["Lucas", "Emma", "Arthur", "Louise", "Wout", "Elise", "Jules", "Marie"],
    "DE": ["Jürgen", "Anna", "Lukas", "Sophie", "Maximilian", "Lena", "Björn", "Käthe"],
    "FR": ["Léa", "Hugo", "Chloé", "Théo", "Zoé", "Benoît", "Hélène", "François"],
    "GB": ["Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Siobhán", "Owen"],
    "US": ["James", "Olivia", "Liam", "Emma", "Noah", "Mia", "José", "Zoë"],
}
_LAST = {
    "NL": ["de Vries", "Jansen", "van den Berg", "Bakker", "Visser", "Smit", "de Jong", "van Dijk", "Meijer", "Mulder"],
    "BE": ["Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens"],
    "DE": ["Müller", "Schmidt", "Schneider", "Fischer", "Weiß", "Wagner", "Becker", "Schäfer"],
    "FR": ["Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent", "Girard", "Rousseau"],
    "GB": ["Smith", "Jones", "Taylor", "Brown", "Williams", "O'Brien", "Davies", "Evans"],
    "US": ["Johnson", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Wilson", "Anderson"],
}
_CITIES = {
    "NL": [
        ("Amsterdam", "1012 AB"),
        ("Utrecht", "3511 AA"),
        ("Rotterdam", "3011 AD"),
        ("Groningen", "9711 AA"),
        ("Den Haag", "2511 CV"),
        ("Eindhoven", "5611 AZ"),
        ("Zwolle", "8011 AA"),
        ("'s-Hertogenbosch", "5211 AA"),
    ],
    "BE": [("Antwerpen", "2000"), ("Gent", "9000"), ("Brussel", "1000"), ("Leuven", "3000"), ("Liège", "4000")],
    "DE": [("Berlin", "10115"), ("München", "80331"), ("Köln", "50667"), ("Hamburg", "20095"), ("Düsseldorf", "40213")],
    "FR": [("Paris", "75001"), ("Lyon", "69001"), ("Lille", "59000"), ("Montréal-la-Cluse", "01460")],
    "GB": [("London", "SW1A 1AA"), ("Manchester", "M1 1AE"), ("Edinburgh", "EH1 1YZ"), ("Bristol", "BS1 4DJ")],
    "US": [("New York", "10001"), ("San Francisco", "94103"), ("Austin", "73301"), ("Seattle", "98101")],
}
_STATES = {"US": {"New York": "NY", "San Francisco": "CA", "Austin": "TX", "Seattle": "WA"}}
_STREETS = {
    "NL": ["Kerkstraat", "Dorpsstraat", "Stationsweg", "Molenweg", "Prinsengracht", "Laan van Meerdervoort"],
    "BE": ["Meir", "Kouter", "Rue Neuve", "Bondgenotenlaan"],
    "DE": ["Hauptstraße", "Schillerstraße", "Goethestraße", "Bahnhofstraße"],
    "FR": ["Rue de Rivoli", "Rue de la République", "Avenue des Champs-Élysées"],
    "GB": ["High Street", "Station Road", "Church Lane"],
    "US": ["Market Street", "Main Street", "5th Avenue", "Congress Avenue"],
}
_COMPANIES = [
    "Bakkerij {l}",
    "{l} & Zn. B.V.",
    "Koffiebranderij {l}",
    "{l} Horeca V.O.F.",
    "Atelier {l}",
    "{l} GmbH",
    "{l} SARL",
    "{l} Ltd",
    "Studio {l}",
]
_COUNTRY_WEIGHTS = [("NL", 50), ("BE", 15), ("DE", 12), ("FR", 8), ("GB", 8), ("US", 7)]
_EU = {"NL", "BE", "DE", "FR"}
_PHONE = {
    "NL": "+31 6 {n}",
    "BE": "+32 470 {n}",
    "DE": "+49 151 {n}",
    "FR": "+33 6 {n}",
    "GB": "+44 7700 {n}",
    "US": "+1 555 {n}",
}

# (name, category, tax_class, price incl. VAT, kind)
_CATALOG = [
    ("Koffiebonen Espresso Blend 1 kg", "Koffie", "reduced-rate", "24.95", "simple"),
    ("Koffie &amp; Thee <script>alert(1)</script> proefpakket", "Cadeaus", "reduced-rate", "19.95", "simple"),
    ("Crème brûlée-set „Délice“", "Keuken", "", "34.50", "simple"),
    ("Stroopwafels – ‘Oud-Hollands’ (12 st.)", "Lekkernijen", "reduced-rate", "6.49", "simple"),
    ("Handmolen Ø 5 cm – RVS", "Keuken", "", "49.00", "simple"),
    ("E-book: Barista thuis", "Boeken", "reduced-rate", "12.99", "virtual"),
    ("Cadeaubon € 25", "Cadeaus", "zero-rate", "25.00", "virtual"),
    ("Workshop latte art (online)", "Workshops", "", "45.00", "virtual"),
    ("T-shirt <b>Koppel</b> Barista", "Kleding", "", "24.95", "variable"),
    ('Schort "Pro" – canvas', "Kleding", "", "39.95", "variable"),
    ("Melkkan 600 ml", "Keuken", "", "17.95", "simple"),
    ("Theeglas set (4×)", "Keuken", "", "22.50", "simple"),
    ("Groene thee Sencha 250 g", "Thee", "reduced-rate", "9.95", "simple"),
    ('Kookboek "Smaken van Zeeland"', "Boeken", "reduced-rate", "29.95", "simple"),
    ("Sokken Koffieboon", "Kleding", "", "12.50", "variable"),
    ("Weegschaal 0,1 g precisie", "Keuken", "", "27.95", "simple"),
]
_CATEGORY_IDS = {name: 15 + n for n, name in enumerate(sorted({c[1] for c in _CATALOG}))}
_SIZES = ["S", "M", "L", "XL"]
_COLORS = ["Zwart", "Crème", "Groen"]
_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"


def ean13(rng: random.Random) -> str:
    """A valid EAN-13 with the Dutch GS1 prefix 87."""
    digits = [8, 7] + [rng.randrange(10) for _ in range(10)]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return "".join(map(str, digits)) + str(check)


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text.lower().replace("ß", "ss"))
    return re.sub(r"[^a-z0-9.-]", "", plain.encode("ascii", "ignore").decode()).strip("-")


def _person(rng: random.Random, country: str, idx: int) -> dict[str, Any]:
    first, last = rng.choice(_FIRST[country]), rng.choice(_LAST[country])
    city, postcode = rng.choice(_CITIES[country])
    tld = {"GB": "co.uk", "US": "com"}.get(country, country.lower())
    email = f"{_ascii(first)}.{_ascii(last).replace('-', '')}{idx}@example.{tld}"
    addr = {
        "first_name": first,
        "last_name": last,
        "company": "",
        "address_1": f"{rng.choice(_STREETS[country])} {rng.randint(1, 250)}",
        "address_2": "",
        "city": city,
        "state": _STATES.get(country, {}).get(city, ""),
        "postcode": postcode,
        "country": country,
        "email": email,
        "phone": _PHONE[country].format(n=rng.randint(1000000, 9999999)),
    }
    if rng.random() < 0.25:
        addr["company"] = rng.choice(_COMPANIES).format(l=last)
        if country in _EU or country == "GB":
            addr["_vat"] = _vat_number(rng, country)
    return addr


def _vat_number(rng: random.Random, country: str) -> str:
    n = "".join(str(rng.randrange(10)) for _ in range(9))
    return {"NL": f"NL{n}B01", "BE": f"BE0{n}", "DE": f"DE{n}", "FR": f"FR{rng.randint(10, 99)}{n}", "GB": f"GB{n}"}[
        country
    ]


def _seed_products(sim: WooSim, rng: random.Random, count: int, created: datetime) -> int:
    made = 0
    for n in range(count):
        name, cat, tax_class, price, kind = _CATALOG[n % len(_CATALOG)]
        if n >= len(_CATALOG):
            name = f"{name} #{n // len(_CATALOG) + 1}"
        dates = date_pair(created + timedelta(hours=n))
        pid = sim.post_id()
        sku = f"KP-{n + 1:04d}"
        data: dict[str, Any] = {
            "name": name,
            "type": "variable" if kind == "variable" else "simple",
            "sku": sku,
            "global_unique_id": "" if kind == "variable" else ean13(rng),
            "regular_price": "" if kind == "variable" else price,
            "tax_class": tax_class,
            "virtual": kind == "virtual",
            "downloadable": name.startswith("E-book"),
            "description": f"<p>{name} uit ons assortiment.</p>\n",
            "short_description": "<p>Snel geleverd vanuit Amsterdam.</p>\n",
            "categories": [{"id": _CATEGORY_IDS[cat], "name": cat, "slug": cat.lower()}],
            "images": [
                {
                    "id": 1000 + n,
                    "date_created": dates[0],
                    "date_created_gmt": dates[1],
                    "date_modified": dates[0],
                    "date_modified_gmt": dates[1],
                    "src": f"{SITE}/wp-content/uploads/2026/01/{sku.lower()}.jpg",
                    "name": sku.lower(),
                    "alt": "",
                }
            ],
            "weight": "" if kind == "virtual" else f"{rng.randint(1, 30) / 10:.1f}",
        }
        if data["downloadable"]:
            data["downloads"] = [
                {"id": f"dl-{sku.lower()}", "name": "PDF", "file": f"{SITE}/downloads/{sku.lower()}.pdf"}
            ]
        if n % 3 == 0 and kind != "virtual":
            data["manage_stock"], data["stock_quantity"] = True, rng.choice([0, 3, 12, 40, 120])
        if n % 7 == 4 and kind == "simple":
            data["sale_price"] = f"{Decimal(price) * Decimal('0.8'):.2f}"
        product = new_product(pid, data, dates, SITE)
        if kind == "variable":
            options = _SIZES if "Sokken" not in name else ["39-42", "43-46"]
            product["attributes"] = [
                {
                    "id": 1,
                    "name": "Maat",
                    "slug": "pa_maat",
                    "position": 0,
                    "visible": True,
                    "variation": True,
                    "options": options,
                },
                {
                    "id": 2,
                    "name": "Kleur",
                    "slug": "pa_kleur",
                    "position": 1,
                    "visible": True,
                    "variation": True,
                    "options": _COLORS[:2],
                },
            ]
            product["default_attributes"] = [{"id": 1, "name": "Maat", "option": options[0]}]
            product["has_options"] = True
            variation_ids, prices = [], []
            for size in options:
                for color in _COLORS[:2]:
                    vid = sim.post_id()
                    vprice = f"{Decimal(price) + (Decimal('2.00') if size in ('XL', '43-46') else 0):.2f}"
                    prices.append(vprice)
                    vdata = {
                        "sku": f"{sku}-{size}-{color[:2].upper()}",
                        "global_unique_id": ean13(rng),
                        "regular_price": vprice,
                        "tax_class": "parent" if tax_class == "" else tax_class,
                        "attributes": [
                            {"id": 1, "name": "Maat", "option": size},
                            {"id": 2, "name": "Kleur", "option": color},
                        ],
                        "manage_stock": True,
                        "stock_quantity": rng.choice([0, 2, 8, 25]),
                        "weight": "0.3",
                    }
                    variation = new_variation(vid, product, vdata, dates)
                    sim.variations.put(variation)
                    variation_ids.append(vid)
            product["variations"] = variation_ids
            product["price"] = min(prices, key=Decimal)
        sim.products.put(product)
        made += 1
    return made


def _seed_coupons(sim: WooSim, created: datetime) -> None:
    local, gmt = date_pair(created)
    for code, kind, amount, desc in (
        ("welkom10", "percent", "10", "10% korting voor nieuwe klanten"),
        ("korting5", "fixed_cart", "5.00", "€ 5 korting op je bestelling"),
        ("sokken2", "fixed_product", "2.00", "€ 2 korting per paar sokken"),
    ):
        if any(c["code"] == code for c in sim.coupons.values()):
            continue
        cid = sim.post_id()
        sim.coupons[cid] = new_coupon(cid, code, kind, amount, desc, local, gmt)


_STATUS_WEIGHTS = [
    ("completed", 48),
    ("processing", 20),
    ("on-hold", 5),
    ("pending", 7),
    ("cancelled", 5),
    ("refunded", 5),
    ("failed", 3),
    ("checkout-draft", 2),
]
_ALL_STATUSES = [s for s, _ in _STATUS_WEIGHTS]
_ONLINE = {"paypal", "stripe", "mollie_wc_gateway_ideal"}


def _shipping(country: str, subtotal_incl: Decimal, rng: random.Random) -> dict[str, Any]:
    if country == "NL":
        if rng.random() < 0.1:
            return {
                "method_id": "local_pickup",
                "method_title": "Afhalen in de winkel",
                "instance_id": "3",
                "total": "0.00",
            }
        if subtotal_incl >= 50:
            return {
                "method_id": "free_shipping",
                "method_title": "Gratis verzending",
                "instance_id": "2",
                "total": "0.00",
            }
        return {"method_id": "flat_rate", "method_title": "PostNL", "instance_id": "1", "total": "4.95"}
    if country in ("BE", "DE"):
        if subtotal_incl >= 100:
            return {
                "method_id": "free_shipping",
                "method_title": "Gratis verzending",
                "instance_id": "5",
                "total": "0.00",
            }
        return {"method_id": "flat_rate", "method_title": "DHL", "instance_id": "4", "total": "7.95"}
    if country == "FR":
        return {"method_id": "flat_rate", "method_title": "PostNL EU", "instance_id": "6", "total": "12.50"}
    return {"method_id": "flat_rate", "method_title": "Internationaal", "instance_id": "7", "total": "24.95"}


def _payment(rng: random.Random, country: str) -> tuple[str, str]:
    options = [
        ("mollie_wc_gateway_ideal", 45 if country == "NL" else 0),
        ("paypal", 15),
        ("stripe", 18),
        ("bacs", 15),
        ("cod", 5 if country in ("NL", "BE", "DE") else 0),
        ("cheque", 1),
    ]
    method = _pick(rng, [o for o in options if o[1]])
    txn = (
        ""
        if method in ("bacs", "cod", "cheque")
        else {"mollie_wc_gateway_ideal": "tr_", "paypal": "PAY-", "stripe": "pi_"}[method]
        + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(14))
    )
    return method, txn


def _seed_orders(sim: WooSim, rng: random.Random, count: int, start: datetime) -> tuple[int, int]:
    product_ids = [i for i, x in sim.products.index.items() if x["status"] == "publish"]
    variations: dict[int, list[int]] = {}
    for vid, x in sim.variations.index.items():
        variations.setdefault(x["parent_id"], []).append(vid)
    customers = [c for c in sim.customers.ids()]
    coupons = {c["code"]: c for c in sim.coupons.values()}
    span = (END - start).total_seconds()
    refunds = 0
    products_cache = {pid: sim.products.get(pid) for pid in product_ids}
    for n in range(count):
        created = start + timedelta(seconds=span * (n + rng.random() * 0.5) / max(count, 1))
        status = (
            _ALL_STATUSES[n] if n < len(_ALL_STATUSES) and count >= len(_ALL_STATUSES) else _pick(rng, _STATUS_WEIGHTS)
        )
        meta: list[dict[str, Any]] = []
        if customers and rng.random() < 0.8:
            customer = sim.customers.get(rng.choice(customers))
            assert customer is not None
            cid = customer["id"]
            billing = dict(customer["billing"])
            shipping = dict(customer["shipping"])
            vat = next((m["value"] for m in customer.get("meta_data", []) if m["key"] == "_billing_vat_number"), "")
        else:
            cid = 0
            person = _person(rng, _pick(rng, _COUNTRY_WEIGHTS), 100000 + n)
            vat = person.pop("_vat", "")
            billing = person
            shipping = {k: v for k, v in person.items() if k != "email"}
        country = shipping.get("country") or billing["country"]
        if vat:
            meta.append({"key": "_billing_vat_number", "value": vat})
            exempt = country != "NL" and country in _EU
            meta.append({"key": "is_vat_exempt", "value": "yes" if exempt else "no"})
        meta.append(
            {"key": "_wc_order_attribution_source_type", "value": rng.choice(["typein", "organic", "referral", "utm"])}
        )
        lines = []
        has_physical = False
        subtotal_incl = Decimal(0)
        for pid in rng.sample(product_ids, k=min(len(product_ids), rng.choice([1, 1, 1, 2, 2, 3, 4]))):
            product = products_cache[pid]
            assert product is not None
            qty = rng.choice([1, 1, 1, 2, 2, 3, 5])
            if product["type"] == "variable" and variations.get(pid):
                lines.append({"product_id": pid, "variation_id": rng.choice(variations[pid]), "quantity": qty})
                price = Decimal(product["price"] or "0")
            else:
                lines.append({"product_id": pid, "quantity": qty})
                price = Decimal(product["price"] or "0")
            subtotal_incl += price * qty
            has_physical = has_physical or not product.get("virtual")
        method, txn = _payment(rng, country)
        data: dict[str, Any] = {
            "status": status,
            "customer_id": cid,
            "billing": billing,
            "shipping": shipping if has_physical else {k: "" for k in shipping},
            "payment_method": method,
            "transaction_id": txn if status not in ("pending", "failed", "checkout-draft") else "",
            "line_items": lines,
            "meta_data": meta,
            "customer_ip_address": ".".join(str(rng.randint(1, 254)) for _ in range(4)),
            "customer_user_agent": _UA,
            "customer_note": rng.choice(
                [
                    "",
                    "",
                    "",
                    "Graag bij de buren afgeven.",
                    "Bitte vor die Tür stellen – danke!",
                    "Cadeauverpakking graag ✨",
                ]
            ),
        }
        if not has_physical:
            data["shipping"] = {}
        elif lines:
            data["shipping_lines"] = [_shipping(country, subtotal_incl, rng)]
        roll = rng.random()
        if roll < 0.07 and "welkom10" in coupons:
            data["coupon_lines"] = [{"code": "welkom10"}]
        elif roll < 0.11 and "korting5" in coupons and subtotal_incl > 20:
            data["coupon_lines"] = [{"code": "korting5"}]
        elif roll < 0.13 and "sokken2" in coupons:
            data["coupon_lines"] = [{"code": "sokken2"}]
        if method == "cod":
            data["fee_lines"] = [{"name": "Rembourskosten", "total": "2.50", "tax_status": "taxable", "tax_class": ""}]
        elif rng.random() < 0.04:
            data["fee_lines"] = [
                {"name": "Korting trouwe klant", "total": "-5.00", "tax_status": "none", "tax_class": ""}
            ]
        elif rng.random() < 0.04:
            data["fee_lines"] = [
                {"name": "Cadeauverpakking", "total": "1.65", "tax_status": "taxable", "tax_class": ""}
            ]
        dates = date_pair(created)
        order = build_order(sim, data, dates=dates, created_via="checkout")
        order["order_key"] = "wc_order_" + "".join(
            rng.choice("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(13)
        )
        order["payment_url"] = f"{SITE}/checkout/order-pay/{order['id']}/?pay_for_order=true&key={order['order_key']}"
        order["cart_hash"] = f"{rng.getrandbits(128):032x}"
        order["date_paid"] = order["date_paid_gmt"] = order["date_completed"] = order["date_completed_gmt"] = None
        last = created
        if status in ("processing", "completed", "refunded", "on-hold") and method not in ("bacs", "cheque", "cod"):
            last = created + timedelta(minutes=rng.randint(1, 15))
            order["date_paid"], order["date_paid_gmt"] = date_pair(last)
        if status in ("completed", "refunded"):
            last = last + timedelta(hours=rng.randint(2, 72))
            order["date_completed"], order["date_completed_gmt"] = date_pair(last)
            if not order["date_paid"]:
                order["date_paid"], order["date_paid_gmt"] = order["date_completed"], order["date_completed_gmt"]
        order["needs_payment"] = status in ("pending", "failed") and Decimal(order["total"]) > 0
        order["is_editable"] = status in ("pending", "on-hold", "checkout-draft")
        if status == "refunded" and Decimal(order["total"]) > 0:
            order["status"] = "completed"
            create_refund(
                sim,
                order,
                {"amount": order["total"], "reason": "Bestelling geretourneerd"},
                api=method in _ONLINE,
                dates=date_pair(last + timedelta(days=rng.randint(1, 10))),
            )
            order["status"] = "refunded"
            refunds += 1
        elif status == "completed" and rng.random() < 0.05 and order["line_items"]:
            line = order["line_items"][0]
            qty = int(line["quantity"])
            unit = r2(Decimal(line["total"]) / qty)
            taxes = [{"id": t["id"], "refund_total": f"{r2(Decimal(t['total']) / qty)}"} for t in line["taxes"]]
            amount = unit + sum((Decimal(t["refund_total"]) for t in taxes), Decimal(0))
            if Decimal(0) < amount <= Decimal(order["total"]):
                create_refund(
                    sim,
                    order,
                    {
                        "reason": "Beschadigd aangekomen – deelrestitutie",
                        "line_items": [
                            {"id": line["id"], "quantity": 1, "refund_total": f"{unit}", "refund_tax": taxes}
                        ],
                    },
                    api=method in _ONLINE,
                    dates=date_pair(last + timedelta(days=rng.randint(1, 10))),
                )
                refunds += 1
                order["status"] = "completed"
        order["date_modified"], order["date_modified_gmt"] = date_pair(max(last, created))
        sim.orders.put(order)
    return count, refunds


def default_customers(orders: int) -> int:
    """Customers to seed when only orders are asked for: a quarter of them, at least 10."""
    return max(orders // 4, 10) if orders else 0


def seed_store(sim: WooSim, *, orders: int = 0, customers: int = 0, products: int = 0, seed: int = 1) -> dict[str, int]:
    """Add products, customers and orders built from ``seed`` (products first; orders need some)."""
    rng = random.Random(seed)
    start = END - timedelta(days=365)
    if orders > BIG_STORE:
        sim.orders.compress = True
    if orders and not products and not len(sim.products):
        products = len(_CATALOG)
    made_products = _seed_products(sim, rng, products, start - timedelta(days=30)) if products else 0
    for n in range(customers):
        country = _pick(rng, _COUNTRY_WEIGHTS)
        person = _person(rng, country, n + 1)
        vat = person.pop("_vat", "")
        cid = sim.user_id()
        joined = date_pair(start + timedelta(minutes=n * 37 % (365 * 24 * 60)))
        customer = new_customer(
            cid,
            {
                "email": person["email"],
                "first_name": person["first_name"],
                "last_name": person["last_name"],
                "billing": person,
                "shipping": person,
                "is_paying_customer": True,
            },
            joined,
        )
        if vat:
            customer["meta_data"] = [{"id": sim.meta_id(), "key": "_billing_vat_number", "value": vat}]
        sim.customers.put(customer)
    if orders:
        _seed_coupons(sim, start)
    made_orders, refunds = _seed_orders(sim, rng, orders, start) if orders else (0, 0)
    return {"orders": made_orders, "customers": customers, "products": made_products, "refunds": refunds}
