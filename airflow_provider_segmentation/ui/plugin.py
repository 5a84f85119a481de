"""The Airflow plugin behind the "AEP audiences" page, registered by the package's ``airflow.plugins``
entry point (pyproject.toml), which Airflow always loads: a plugin declared in provider info would load
only with ``[core] lazy_discover_providers = False`` (``airflow.plugins_manager._get_plugins``).

Airflow imports this module in every process that loads plugins, so it stays cheap: the FastAPI app is
built on its first request, in the api-server only.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/aep-audiences"
PAGE_TITLE = "AEP audiences"


class LazyApp:
    """An ASGI app that builds the real one (``ui.api.create_app``) on its first call."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            from airflow_provider_segmentation.ui.api import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class AEPAudiencesPlugin(AirflowPlugin):
    """Audience sizes over time and AEP job outcomes, per connection and sandbox."""

    name = "aep_audiences"
    fastapi_apps = [{"app": LazyApp(), "url_prefix": URL_PREFIX, "name": PAGE_TITLE}]
    # Airflow 3.1+ shows external views in its navigation (an iframe of the page); 3.0 ignores the
    # attribute: there the page is at its URL, /aep-audiences/.
    external_views = [
        {
            "name": PAGE_TITLE,
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "aep-audiences",
        }
    ]
