"""The wc/v3 routes, one module per resource family."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("register",)


def register(sim: WooSim) -> None:
    """Register every route on ``sim``."""
    from sandbox.woocommerce.routes import orders

    orders.register(sim)
    try:
        from sandbox.woocommerce.routes import catalog, config, customers, hooks
    except ImportError:  # pragma: no cover - during development
        return
    catalog.register(sim)
    customers.register(sim)
    config.register(sim)
    hooks.register(sim)
