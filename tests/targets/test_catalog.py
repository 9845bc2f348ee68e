"""Every lookup and target type is registered with a form schema the canvas can render."""

from __future__ import annotations

import json

import pytest

from nodes.base import Kind
from nodes.registry import get_node_type

TYPES = {
    "asperion.lookup_debtor": Kind.LOOKUP,
    "asperion.sales_invoice": Kind.TARGET,
    "asperion.sales_order": Kind.TARGET,
    "asperion.debtor": Kind.TARGET,
    "asperion.article": Kind.TARGET,
    "asperion.financial_mutation": Kind.TARGET,
    "woocommerce.order_status": Kind.TARGET,
    "woocommerce.stock": Kind.TARGET,
    "woocommerce.customer": Kind.TARGET,
    "woocommerce.order": Kind.TARGET,
}


@pytest.mark.parametrize(("node_type", "kind"), sorted(TYPES.items()))
def test_node_type_is_registered_and_describes_itself(node_type: str, kind: Kind) -> None:
    cls = get_node_type(node_type)
    assert cls is not None, node_type
    assert cls.kind == kind
    description = json.loads(json.dumps(cls.describe()))
    schema = description["config_schema"]
    assert schema["properties"]["connection"]["default"] == cls.app
    for name, prop in schema["properties"].items():
        assert prop.get("title"), f"{node_type}.{name} has no title"
    cls.config_model()  # the defaults alone make a valid config
    with pytest.raises(ValueError, match="Extra inputs"):
        cls.config_model.model_validate({"conection": "typo"})


# The sales order target is asked every time: an open order is moved to delivered when its shop order completes.
UPSERT = {"asperion.debtor", "asperion.article", "woocommerce.stock", "woocommerce.customer", "asperion.sales_order"}


@pytest.mark.parametrize("node_type", sorted(t for t, k in TYPES.items() if k == Kind.TARGET))
def test_targets_say_what_they_write_and_whether_they_update(node_type: str) -> None:
    cls = get_node_type(node_type)
    assert cls is not None
    assert getattr(cls, "what", "document") != "document"
    assert getattr(cls, "upsert", False) is (node_type in UPSERT)
