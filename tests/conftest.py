"""Shared fixtures: one emulator per test session on a free loopback port, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airflow_provider_segmentation.client.auth import PROCESS_TOKEN_CACHE
from airflow_provider_segmentation.emulator.server import EmulatorServer
from airflow_provider_segmentation.emulator.settings import EmulatorSettings


def mint_token(url: str, client_id: str, client_secret: str, scope: str = "openid") -> str:
    """A token from the emulator's IMS, minted over the wire as a client would (``url``: the emulator)."""
    response = requests.post(
        f"{url}/ims/token/v3",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": scope,
        },
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


class EmulatorAdmin:
    """The emulator's ``/_emulator/`` admin routes, for tests to count calls and inject faults."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.url}/_emulator{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._call("POST", "/reset")

    def requests(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"method": method, "path": path}.items() if v}
        return list(self._call("GET", "/requests", params=params)["requests"])

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def inject_fault(self, **spec: Any) -> str:
        return str(self._call("POST", "/faults", json=spec)["id"])

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def expire_tokens(self) -> None:
        self._call("POST", "/tokens/expire")

    def configure(self, **settings: Any) -> dict[str, Any]:
        return dict(self._call("PATCH", "/settings", json=settings))

    def batch(self, dataset_id: str, batch_id: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/datasets/{dataset_id}/batches/{batch_id}")["records"])

    def trigger_schedule(self, schedule_id: str) -> None:
        self._call("POST", f"/schedules/{schedule_id}/trigger")

    def advance_clock(self, seconds: float, *, frozen: bool | None = None) -> dict[str, Any]:
        """Step the emulator's clock (jobs, schedules and tokens move with it) instead of sleeping;
        ``frozen=True`` first stops it, ``frozen=False`` lets it run again. Reset puts it back."""
        change: dict[str, Any] = {"advance_seconds": seconds}
        if frozen is not None:
            change["frozen"] = frozen
        return dict(self._call("POST", "/clock", json=change))


TEST_SETTINGS = {
    "job_step_seconds": 0.05,
    "token_lifetime_seconds": 86399,
    "max_processing_segment_jobs": 10,
    "fail_segment_jobs": False,
    "fail_export_jobs": False,
    "capture_bodies": False,
    "max_job_bulk_get_ids": 1500,
}


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    settings = EmulatorSettings(port=0, profiles=2_000, seed=7, job_step_seconds=0.05)
    with pytest.MonkeyPatch.context() as env, EmulatorServer(settings) as server:
        # tokens shared between this session's processes only, not with the user's cache
        env.setenv("AEP_TOKEN_CACHE_DIR", str(tmp_path_factory.mktemp("ims-tokens")))
        yield server


@pytest.fixture
def emulator_admin(emulator: EmulatorServer) -> Iterator[EmulatorAdmin]:
    admin = EmulatorAdmin(emulator.url)
    admin.reset()
    admin.configure(**TEST_SETTINGS)
    PROCESS_TOKEN_CACHE.clear()
    yield admin
    admin.clear_faults()


@pytest.fixture
def aep_conn(emulator: EmulatorServer, emulator_admin: EmulatorAdmin, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_AEP_DEFAULT", emulator.connection_json("prod"))
    monkeypatch.setenv("AIRFLOW_CONN_AEP_DEV", emulator.connection_json("dev"))
    return "aep_default"
