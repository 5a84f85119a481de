"""The emulator's FastAPI application: AEP Segmentation + IMS behind an emulated Adobe I/O gateway."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from airflow_provider_segmentation.emulator import (
    routes_admin,
    routes_audiences,
    routes_exports,
    routes_segments,
    schedules,
)
from airflow_provider_segmentation.emulator.engine import AudienceEngine
from airflow_provider_segmentation.emulator.gateway import GatewayMiddleware
from airflow_provider_segmentation.emulator.settings import EmulatorSettings
from airflow_provider_segmentation.emulator.state import EmulatorState
from airflow_provider_segmentation.emulator.wire import AEPHttpError, upapi_error


def default_engine(settings: EmulatorSettings) -> AudienceEngine:
    from airflow_provider_segmentation.emulator.profiles import PQLEngine, ProfileStore

    return PQLEngine(ProfileStore(settings.profiles, settings.seed))


async def aep_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AEPHttpError)
    return upapi_error(request, exc.status, exc.code, exc.message, exc.headers)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return upapi_error(request, 400, "UPAPI-113434-400", f"Invalid request: {exc.errors()}")


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
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_middleware(GatewayMiddleware, state=state)
    return app
