"""The Airflow plugin: the ledger app in the API server and its page in the UI's navigation.

Registered by the ``airflow.plugins`` entry point, so installing the provider enables it.
Every Airflow process loads plugins, so this module stays cheap: the FastAPI app (and the
API server's security code it uses) is built on its first request.
"""

from __future__ import annotations

import threading
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_connectsafely.plugins import MOUNT
from airflow_provider_connectsafely.plugins.address import page_href


class LazyApp:
    """An ASGI app that builds the real one (``api.create_app()``) when first called."""

    def __init__(self) -> None:
        self._app: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "airflow_provider_connectsafely.plugins.api:create_app()"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    from airflow_provider_connectsafely.plugins.api import create_app

                    self._app = create_app()
        await self._app(scope, receive, send)


class ConnectSafelyPlugin(AirflowPlugin):
    """The send ledger page: numbers, a 30-day chart, campaigns, sends, and settling."""

    name = "connectsafely"
    fastapi_apps = [{"app": LazyApp(), "url_prefix": MOUNT, "name": "ConnectSafely"}]
    # Airflow 3.1+: an entry in the navigation's Plugins menu, showing the page in the UI.
    # The href is a path from the site's root: under ``[api] base_url``'s path, so the page
    # is found when Airflow is served under a sub-path.
    external_views = [
        {
            "name": "ConnectSafely ledger",
            "href": page_href(),
            "destination": "nav",
            "url_route": "connectsafely",
        }
    ]
