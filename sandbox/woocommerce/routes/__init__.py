"""The wc/v3 routes, one module per resource family."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.woocommerce.routes import catalog, categories, coupons, customers, hooks, orders, settings, shipping, taxes

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("register",)


def register(sim: WooSim) -> None:
    """Register every route on ``sim``."""
    for module in (orders, categories, catalog, coupons, customers, taxes, shipping, settings, hooks):
        module.register(sim)
