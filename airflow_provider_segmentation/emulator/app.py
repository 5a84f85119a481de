"""The emulator's FastAPI application: AEP Segmentation + IMS behind an emulated Adobe I/O gateway."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.routing import Route

from airflow_provider_segmentation.emulator import (
    routes_admin,
    routes_audiences,
    routes_exports,
    routes_segments,
    schedules,
)
from airflow_provider_segmentation.emulator.aep_rules import RuleRefused, refusal_response
from airflow_provider_segmentation.emulator.body_limit import BodySizeLimit
from airflow_provider_segmentation.emulator.engine import AudienceEngine
from airflow_provider_segmentation.emulator.gateway import GatewayMiddleware
from airflow_provider_segmentation.emulator.settings import EmulatorSettings
from airflow_provider_segmentation.emulator.state import EmulatorState
from airflow_provider_segmentation.emulator.wire import AEPHttpError, problem, upapi_error


def default_engine(settings: EmulatorSettings) -> AudienceEngine:
    from airflow_provider_segmentation.emulator.profiles import PQLEngine, ProfileStore

    return PQLEngine(ProfileStore(settings.profiles, settings.seed))


async def aep_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AEPHttpError)
    return upapi_error(request, exc.status, exc.code, exc.message, exc.headers)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return upapi_error(request, 400, "UPAPI-113434-400", f"Invalid request: {exc.errors()}")


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route of ``app`` answers at ``path`` (a literal path such as
    ``/segment/jobs/bulk-get`` is also an id of ``/segment/jobs/{job_id}``, so both count)."""
    return sorted(
        {
            method
            for route in app.routes
            if isinstance(route, Route) and route.methods and route.path_regex.match(path)
            for method in route.methods
        }
    )


async def method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    """405 with ``Allow`` from the whole routes table: Starlette's names only the first route that
    matched the path, though several routes (one per method) share it. Adobe documents no 405 answer;
    the body is the Platform's generic problem shape."""
    allowed = allowed_methods(request.app, request.url.path)
    answer = problem(
        405, "MethodNotAllowed", f"{request.method} is not allowed here; use {', '.join(allowed)}"
    )
    answer.headers["Allow"] = ", ".join(allowed)
    return answer


def create_app(settings: EmulatorSettings | None = None, engine: AudienceEngine | None = None) -> FastAPI:
    settings = settings or EmulatorSettings()
    state = EmulatorState(settings, engine or default_engine(settings))
    app = FastAPI(
        title="AEP Segmentation emulator",
        docs_url="/_emulator/docs",
        openapi_url="/_emulator/openapi.json",
        redoc_url=None,
    )
    app.state.emulator = state
    for router in (
        routes_admin.ims_router,
        routes_admin.admin_router,
        routes_segments.router,
        routes_exports.router,
        schedules.router,
        routes_audiences.router,
    ):
        app.include_router(router)
    app.add_exception_handler(AEPHttpError, aep_error)
    app.add_exception_handler(RuleRefused, refusal_response)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(405, method_not_allowed)
    app.add_middleware(BodySizeLimit, state=state)  # inside the gateway: headers are checked first
    app.add_middleware(GatewayMiddleware, state=state)
    return app
