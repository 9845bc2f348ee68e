"""The Mollie (API v2) simulator: the payment provider's side of the store's orders paid through Mollie."""

from __future__ import annotations

from sandbox.mollie.sim import MollieSim

__all__ = ("MollieSim",)
