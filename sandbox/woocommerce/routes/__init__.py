"""The wc/v3 routes, one module per resource family."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.woocommerce.routes import catalog, config, customers, hooks, orders

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("register",)


def register(sim: WooSim) -> None:
    """Register every route on ``sim``."""
    for module in (orders, catalog, customers, config, hooks):
        module.register(sim)
