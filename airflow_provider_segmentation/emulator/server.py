"""Run the emulator in a background thread (tests, benchmarks, users' own CI) and describe how to reach it."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from types import TracebackType

import uvicorn

from airflow_provider_segmentation.emulator.app import create_app
from airflow_provider_segmentation.emulator.engine import AudienceEngine
from airflow_provider_segmentation.emulator.gateway import exposure_warning
from airflow_provider_segmentation.emulator.settings import EmulatorSettings

log = logging.getLogger(__name__)


def connection_json(settings: EmulatorSettings, url: str, sandbox: str = "prod") -> str:
    """The ``AIRFLOW_CONN_AEP_DEFAULT`` value that points a connection at an emulator on ``url``."""
    return json.dumps(
        {
            "conn_type": "adobe_experience_platform",
            "login": settings.client_id,
            "password": settings.client_secret,
            "schema": sandbox,
            "extra": {
                "ims_org_id": settings.org_id,
                "ims_host": url,
                "platform_host": url,
            },
        }
    )


def choose_port(settings: EmulatorSettings) -> None:
    """Port 0 means "any free port": pick one now, so that the printed URL and connection name it."""
    if settings.port == 0:
        with socket.socket() as sock:
            sock.bind((settings.host, 0))
            settings.port = sock.getsockname()[1]


class EmulatorServer:
    """``with EmulatorServer(settings) as server: ...`` serves the emulator on ``server.url``."""

    def __init__(
        self, settings: EmulatorSettings | None = None, engine: AudienceEngine | None = None
    ) -> None:
        self.settings = settings or EmulatorSettings(port=0)
        self.app = create_app(self.settings, engine)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    def connection_json(self, sandbox: str = "prod") -> str:
        return connection_json(self.settings, self.url, sandbox)

    def start(self) -> EmulatorServer:
        choose_port(self.settings)
        warning = exposure_warning(self.settings)
        if warning:
            log.warning(warning)
        config = uvicorn.Config(
            self.app,
            host=self.settings.host,
            port=self.settings.port,
            log_level="warning",
            access_log=False,
            date_header=False,  # the gateway dates answers on the emulator's clock
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="aep-emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the emulator did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
