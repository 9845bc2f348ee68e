"""Simulators derived from the store, mounted beside WooCommerce and Asperion: one line each in :data:`MOUNTED`.

Each is served at ``/<name>/...``, is a fault ``target`` of its own, counts in the statistics, adds a connection
``<name>`` to the sandbox's connections file and a line to ``GET /_sandbox`` and the ``koppel sandbox`` banner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from sandbox.mollie import MollieSim

if TYPE_CHECKING:
    from sandbox.http import Request, Response
    from sandbox.woocommerce import WooSim

__all__ = ("MOUNTED", "MountedSimulator", "mounted_names")


class MountedSimulator(Protocol):
    """What a mounted simulator class offers (built from the store it is derived from)."""

    name: ClassVar[str]
    """Path prefix, fault target and connection name (``mollie``)."""

    def __init__(self, woo: WooSim) -> None: ...

    def template_for(self, path: str) -> str:
        """The path template of ``path`` (relative to ``/<name>``), for the statistics."""
        ...

    def handle(self, req: Request) -> tuple[Response, str]:
        """The answer and the path template of a request (relative to ``/<name>``)."""
        ...

    @classmethod
    def connection(cls, base_url: str) -> dict[str, Any]:
        """Its connection in the sandbox's connections file (contracts.md format)."""
        ...

    @classmethod
    def api_url(cls, base_url: str) -> str:
        """The API's address (``GET /_sandbox`` and the ``koppel sandbox`` banner)."""
        ...

    @classmethod
    def auth_hint(cls) -> str:
        """How a request signs, for the banner (``Authorization: Bearer …``)."""
        ...


MOUNTED: tuple[type[MountedSimulator], ...] = (MollieSim,)


def mounted_names() -> tuple[str, ...]:
    """The names of the mounted simulators."""
    return tuple(simulator.name for simulator in MOUNTED)
