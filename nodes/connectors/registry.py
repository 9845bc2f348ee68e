"""The connector registry: every package under ``nodes/connectors/`` that exports a ``CONNECTOR``, plus any
installed plugin that declares one under the ``koppel.connectors`` entry point group.

Adding an application is adding its package; nothing here names one.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from nodes.connectors.base import AppConnector, Connector, InvalidConnectionSpec, TokenStore
from nodes.connectors.http import ApiClient
from nodes.texts import shown

__all__ = ("ENTRY_POINT_GROUP", "connectors", "get_connector", "open_spec")

ENTRY_POINT_GROUP = "koppel.connectors"
_HERE = Path(__file__).resolve().parent
_PACKAGE = __name__.rpartition(".")[0]

AnyConnector = AppConnector[Any, Any]


def _accept(found: dict[str, AnyConnector], connector: Any, where: str) -> None:
    if not isinstance(connector, AppConnector) or not isinstance(connector, Connector):
        raise TypeError(f"{where}: CONNECTOR does not implement the connector protocol")
    if connector.app in found:
        raise ValueError(f"{where}: a connector for {shown(connector.app)} is registered twice")
    found[connector.app] = connector


@cache
def connectors() -> dict[str, AnyConnector]:
    """Every connector by application name, in list order (``position``, then name)."""
    found: dict[str, AnyConnector] = {}
    # The package's own search path (a plugin may extend it), read without importing the package here.
    search = list(getattr(sys.modules.get(_PACKAGE), "__path__", [str(_HERE)]))
    for info in pkgutil.iter_modules(search, _PACKAGE + "."):
        if not info.ispkg:
            continue
        module = importlib.import_module(info.name)
        connector = getattr(module, "CONNECTOR", None)
        if connector is not None:
            _accept(found, connector, info.name)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        _accept(found, point.load(), f"entry point {point.name}")
    return dict(sorted(found.items(), key=lambda item: (item[1].position, item[0])))


def get_connector(app: str) -> AnyConnector:
    """The connector of ``app``.

    Raises:
        InvalidConnectionSpec: no connector is registered for ``app``.
    """
    found = connectors().get(app)
    if found is None:
        known = ", ".join(connectors())
        raise InvalidConnectionSpec(app or "?", [f"unknown application {shown(app)} (known: {known})"])
    return found


def open_spec(spec: dict[str, Any], *, token_store: TokenStore | None = None, **opts: Any) -> ApiClient:
    """The client of a connection object (its ``app`` key picks the connector); close it with ``aclose``.

    Raises:
        InvalidConnectionSpec: unknown application, or the object is incomplete or invalid.
    """
    client: ApiClient = get_connector(str(spec.get("app") or "")).client(spec, token_store=token_store, **opts)
    return client
