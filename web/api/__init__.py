"""The JSON API under ``/api`` (OpenAPI at ``/schema``)."""

from __future__ import annotations

from web.api.automation import ROUTES as AUTOMATION_ROUTES
from web.api.connections import ConnectionController
from web.api.flows import FlowController
from web.api.meta import MetaController
from web.api.runs import RunController
from web.api.users import ROUTES as USER_ROUTES

__all__ = ("ROUTES",)

ROUTES = [ConnectionController, FlowController, RunController, MetaController, *AUTOMATION_ROUTES, *USER_ROUTES]
