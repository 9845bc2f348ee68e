"""Simulated Asperion (Dutch online accounting): the ``/v1`` REST API and its OAuth 2.0 identity host.

Faithful to ``asperion-api.md``; see :class:`AsperionSim` for the interface the sandbox and the tests use.
"""

from __future__ import annotations

from sandbox.asperion.sim import AsperionSim

__all__ = ("AsperionSim",)
