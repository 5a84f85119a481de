"""The FastAPI app the api-server mounts at ``/aep-audiences``: the page, its script, its JSON.

Airflow does not protect a plugin's app: every route here depends on ``reader``, which takes the user
the way the api-server does (bearer token, else the UI's ``_token`` cookie) and requires read access to
DAGs; 401 without a valid login, 403 without that access. The JSON answer is cached per connection and
sandbox (``[aep_audiences] cache_ttl``, 5 minutes by default), so reloading the page costs AEP nothing.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from airflow_provider_segmentation.compat import can_read_dags, conf, plugin_user_dependency
from airflow_provider_segmentation.ui.cache import TTLCache
from airflow_provider_segmentation.ui.overview import Settings, Source, parse_sources, read_overview

STATIC = Path(__file__).with_name("static")
ERROR_TTL = 30.0  # a failed read (AEP down, rate limited) is tried again after this many seconds
MAX_CACHED = 64  # connection/sandbox pairs kept
SECTION = "aep_audiences"


def read_settings() -> Settings:
    """``[aep_audiences]``: ``connections`` (``aep_default, aep_default:dev``), ``folder``, ``project``,
    ``max_jobs``, ``cache_ttl`` (seconds); each optional."""
    sources = parse_sources(conf.get(SECTION, "connections", fallback="aep_default") or "aep_default")
    return Settings(
        sources=sources or (Source("aep_default"),),
        folder=conf.get(SECTION, "folder", fallback=None) or None,
        project=conf.get(SECTION, "project", fallback="default") or "default",
        max_jobs=max(1, min(conf.getint(SECTION, "max_jobs", fallback=200), 1000)),
        cache_ttl=max(0.0, conf.getfloat(SECTION, "cache_ttl", fallback=300.0)),
    )


AirflowUser = Annotated[Any, Depends(plugin_user_dependency())]


def reader(user: AirflowUser) -> Any:
    """The logged-in user, when allowed to read DAGs (403 otherwise; 401 came before, from get_user)."""
    if not can_read_dags(user):
        raise HTTPException(
            status_code=403, detail="Forbidden: reading the AEP audiences needs read access to DAGs"
        )
    return user


Reader = Annotated[Any, Depends(reader)]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or read_settings()
    cache: TTLCache[dict[str, Any]] = TTLCache(
        ttl=settings.cache_ttl, error_ttl=ERROR_TTL, max_keys=MAX_CACHED
    )
    app = FastAPI(title="AEP audiences", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.cache = cache
    app.state.settings = settings

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException) -> Response:
        """The page itself says why and links to the login; the JSON routes answer JSON."""
        if "/api/" in request.url.path:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        login = f"/auth/login?next={html.escape(str(request.url), quote=True)}"
        body = (
            "<!doctype html><meta charset=utf-8><title>AEP audiences</title>"
            f'<p id="refused" data-status="{exc.status_code}">{html.escape(str(exc.detail))}. '
            f'<a href="{login}" target="_top">Log in to Airflow</a> to see the AEP audiences.</p>'
        )
        return HTMLResponse(body, status_code=exc.status_code)

    @app.get("/", response_class=HTMLResponse)
    def page(user: Reader) -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/static/{name}")
    def static(name: str) -> FileResponse:
        """The page's script and style: code, no data (so not behind the login)."""
        files = {p.name: p for p in STATIC.iterdir() if p.suffix in (".js", ".css")}
        if name not in files:
            raise HTTPException(status_code=404, detail="Not found")
        return FileResponse(files[name])

    @app.get("/api/sources")
    def sources(user: Reader) -> dict[str, Any]:
        return {
            "sources": [
                {"key": s.key, "connection": s.conn_id, "sandbox": s.sandbox} for s in settings.sources
            ]
        }

    @app.get("/api/overview")
    def overview(user: Reader, source: str | None = None) -> dict[str, Any]:
        """One source's audiences, sizes and jobs (``source``: a key from ``/api/sources``; default the
        first). Only configured sources: a reader cannot point the api-server at another connection."""
        chosen = {s.key: s for s in settings.sources}.get(source or settings.sources[0].key)
        if chosen is None:
            raise HTTPException(status_code=404, detail=f"no such source {source!r}: see /api/sources")
        entry, cached = cache.get(chosen.key, lambda: read_overview(chosen, settings))
        fetched = datetime.fromtimestamp(
            datetime.now(timezone.utc).timestamp() - (cache.clock() - entry.fetched_at), tz=timezone.utc
        )
        meta = {"source": chosen.key, "cached": cached, "fetched_at": fetched.isoformat(timespec="seconds")}
        if entry.error is not None:
            return {
                **meta,
                "error": f"{type(entry.error).__name__}: {entry.error}",
                "audiences": [],
                "jobs": [],
            }
        return {**meta, **(entry.value or {})}

    return app
