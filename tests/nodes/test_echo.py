"""Koppel's marks in the data (the echo guard without Koppel's database): recognised, described in English and Dutch."""

from __future__ import annotations

from nodes.echo import MARK_META_KEY, Origin, asperion_origin, mark_value, woocommerce_origin


def test_asperion_documents_booked_for_woocommerce_orders_are_recognised() -> None:
    for description, number in (
        ("WooCommerce order 263", "263"),
        ("WooCommerce order 263 (correction 1)", "263"),
        ("WooCommerce order 263 cancelled", "263"),
        ("WooCommerce refund 88 of order 263", "263"),
        ("Payment WooCommerce order 263 (pi_123)", "263"),
    ):
        assert asperion_origin({"description": description}) == Origin("woocommerce", key=number), description
    for description in ("Telefonische bestelling 12", "Order 263 via WooCommerce", "", None):
        assert asperion_origin({"description": description}) is None


def test_woocommerce_orders_made_by_koppel_carry_their_origin() -> None:
    order = {"meta_data": [{"key": "_asperion_order_id", "value": "5"}]}
    assert woocommerce_origin(order) is None  # the shop's own orders (or older ones) are new input
    order["meta_data"].append({"key": MARK_META_KEY, "value": mark_value("asperion", "salesorder:5")})
    assert woocommerce_origin(order) == Origin("asperion", "salesorder:5")
    # A mark naming WooCommerce itself is no echo for a WooCommerce source.
    assert woocommerce_origin({"meta_data": [{"key": MARK_META_KEY, "value": "woocommerce:order:1"}]}) is None


def test_the_reason_is_plain_english_and_dutch() -> None:
    english, dutch = Origin("woocommerce", "order:263", "263", "orders-to-sales-orders").message()
    assert english.startswith("came from WooCommerce order 263 via flow orders-to-sales-orders")
    assert dutch.startswith("komt van WooCommerce bestelling 263 via flow orders-to-sales-orders")
    english, dutch = Origin("asperion", "salesorder:5").message()
    assert english.startswith("came from Asperion sales order 5 (marked by Koppel)")
    assert dutch.startswith("komt van Asperion verkooporder 5 (gemarkeerd door Koppel)")
