"""The soak test drives the web app's pages too: the logged-in site of the web tests."""

from tests.web.conftest import app_client, site

__all__ = ("app_client", "site")
