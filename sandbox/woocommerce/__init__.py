"""The WooCommerce (wc/v3) simulator."""

from __future__ import annotations

from sandbox.woocommerce.sim import WooSim

__all__ = ("WooSim",)
