"""The emulator as a stranger sees it: plain HTTP, Adobe's status codes, codes and envelopes."""

from __future__ import annotations

import base64
import logging
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import pytest
import requests

from airflow_provider_segmentation.emulator.server import EmulatorServer
from airflow_provider_segmentation.emulator.settings import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_ORG_ID,
    EmulatorSettings,
)
from tests.conftest import mint_token

BASE = "/data/core/ups"


@pytest.fixture
def token(emulator, emulator_admin) -> str:
    response = requests.post(
        f"{emulator.url}/ims/token/v3",
        data={
            "grant_type": "client_credentials",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "scope": "openid,AdobeID",
        },
        timeout=5,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 86399
    return str(body["access_token"])


def headers(token: str, **changes: str | None) -> dict[str, str]:
    base = {
        "Authorization": f"Bearer {token}",
        "x-api-key": DEFAULT_CLIENT_ID,
        "x-gw-ims-org-id": DEFAULT_ORG_ID,
        "x-sandbox-name": "prod",
    }
    base.update({k: v for k, v in changes.items() if v is not None})
    return {k: v for k, v in base.items() if changes.get(k, "") is not None}


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_secret": "nope"}, 401, "invalid_client"),
        ({"client_secret": "nöpe-秘密"}, 401, "invalid_client"),
        ({"client_id": "clïent"}, 400, "invalid_client"),
        ({"client_id": "other"}, 400, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"scope": ""}, 400, "invalid_scope"),
    ],
)
def test_ims_rejects_bad_credentials(emulator, emulator_admin, form, status, error) -> None:
    data = {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "scope": "openid",
        **form,
    }
    response = requests.post(f"{emulator.url}/ims/token/v3", data=data, timeout=5)
    assert (response.status_code, response.json()["error"]) == (status, error)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"Authorization": None}, 401, "403010"),
        ({"Authorization": "Bearer forged"}, 401, "401013"),
        ({"x-api-key": None}, 403, "403000"),
        ({"x-api-key": "someone-else"}, 403, "403003"),
        ({"x-gw-ims-org-id": None}, 400, "400003"),
        ({"x-gw-ims-org-id": "OTHER@AdobeOrg"}, 403, "403025"),
    ],
)
def test_gateway_header_checks(emulator, token, change, status, code) -> None:
    response = requests.get(
        f"{emulator.url}{BASE}/segment/definitions", headers=headers(token, **change), timeout=5
    )
    assert response.status_code == status and response.json()["error_code"] == code


def test_sandbox_header_is_required_and_checked(emulator, token) -> None:
    missing = requests.get(
        f"{emulator.url}{BASE}/config/schedules",
        headers=headers(token, **{"x-sandbox-name": None}),
        timeout=5,
    )
    assert missing.status_code == 400
    assert missing.json()["errors"]["400"][0]["code"] == "UPAPI-113001-400"
    unknown = requests.get(
        f"{emulator.url}{BASE}/config/schedules",
        headers=headers(token, **{"x-sandbox-name": "qa"}),
        timeout=5,
    )
    assert unknown.status_code == 403 and unknown.json()["type"].endswith("UPAPI-113752-403")


def test_body_without_json_content_type_is_rejected(emulator, token) -> None:
    response = requests.post(
        f"{emulator.url}{BASE}/segment/jobs",
        data=b"[]",
        headers={**headers(token), "Content-Type": "text/plain"},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json() == {
        "type": "/placeholder/type/uri",
        "status": 400,
        "title": "BadRequestError",
        "detail": "A valid content-type must be specified",
    }


def test_search_needs_its_version_header(emulator, token) -> None:
    url = f"{emulator.url}{BASE}/search/namespaces"
    assert requests.get(url, headers=headers(token), timeout=5).status_code == 400
    assert (
        requests.get(url, headers={**headers(token), "x-ups-search-version": "1.0"}, timeout=5).status_code
        == 200
    )


def test_expired_tokens_are_refused(emulator, emulator_admin, token) -> None:
    url = f"{emulator.url}{BASE}/config/schedules"
    assert requests.get(url, headers=headers(token), timeout=5).status_code == 200
    emulator_admin.expire_tokens()
    refused = requests.get(url, headers=headers(token), timeout=5)
    assert refused.status_code == 401 and refused.json()["error_code"] == "401013"


def test_too_many_processing_jobs_answer_429(emulator, emulator_admin, token) -> None:
    # one processing job at most: the second job is the 429, within the daily allowance of 2 runs
    emulator_admin.configure(max_processing_segment_jobs=1, job_step_seconds=30)
    h = {**headers(token), "Content-Type": "application/json"}
    seg = requests.post(
        f"{emulator.url}{BASE}/segment/definitions",
        headers=h,
        timeout=5,
        json={
            "name": "x",
            "expression": {"type": "PQL", "format": "pql/text", "value": "loyalty.points > 10"},
            "schema": {"name": "_xdm.context.profile"},
        },
    ).json()
    statuses = [
        requests.post(
            f"{emulator.url}{BASE}/segment/jobs", headers=h, json=[{"segmentId": seg["id"]}], timeout=5
        )
        for _ in range(2)
    ]
    assert [r.status_code for r in statuses] == [200, 429]
    assert statuses[1].headers["Retry-After"] == "30"
    assert "too many segmentation jobs" in statuses[1].json()["title"]


def test_definition_create_answers_x_location_and_rejects_bad_pql(emulator, token) -> None:
    h = {**headers(token), "Content-Type": "application/json"}
    body = {
        "name": "ok",
        "expression": {"type": "PQL", "format": "pql/text", "value": "loyalty.points > 10"},
        "schema": {"name": "_xdm.context.profile"},
    }
    created = requests.post(f"{emulator.url}{BASE}/segment/definitions", headers=h, json=body, timeout=5)
    assert created.status_code == 200 and created.headers["X-Location"].endswith(created.json()["id"])
    bad = requests.post(
        f"{emulator.url}{BASE}/segment/definitions",
        headers=h,
        timeout=5,
        json={**body, "name": "bad", "expression": {**body["expression"], "value": "loyalty.points >"}},
    )
    assert bad.status_code == 400 and "Invalid PQL expression" in bad.json()["title"]


def test_latency_fault_and_request_log(emulator, emulator_admin, token) -> None:
    emulator_admin.inject_fault(
        method="GET", path=f"{BASE}/config/*", kind="latency", latency_seconds=0.2, count=1
    )
    requests.get(f"{emulator.url}{BASE}/config/schedules", headers=headers(token), timeout=5)
    [entry] = emulator_admin.requests("GET", f"{BASE}/config/schedules")
    assert entry["duration_ms"] >= 200 and entry["status"] == 200 and entry["sandbox"] == "prod"


def test_seeded_probability_faults_are_reproducible(emulator, emulator_admin, token) -> None:
    def run() -> list[int]:
        emulator_admin.reset()
        emulator_admin.inject_fault(
            method="GET", path=f"{BASE}/config/schedules", kind="status", status=503, probability=0.5, seed=3
        )
        return [
            requests.get(
                f"{emulator.url}{BASE}/config/schedules", headers=headers(new_token()), timeout=5
            ).status_code
            for _ in range(10)
        ]

    def new_token() -> str:
        return mint_token(emulator.url, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)

    first = run()
    assert first == run() and 503 in first and 200 in first


def start_cli(*args: str, port: int | None = None, **popen: Any) -> tuple[subprocess.Popen[str], int]:
    """``aep-emulator --port <port> *args`` in a subprocess (a free port by default; 0 lets it choose)."""
    if port is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    command = [sys.executable, "-m", "airflow_provider_segmentation.emulator", "--port", str(port), *args]
    return subprocess.Popen(command, text=True, **popen), port


def wait_until_serving(proc: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            requests.get(f"http://127.0.0.1:{port}/_emulator/datasets", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    pytest.fail(f"the emulator CLI never served on port {port} (exit code {proc.poll()})")


def test_cli_prints_the_connection_and_stops_cleanly() -> None:
    proc, port = start_cli("--profiles", "100", stdout=subprocess.PIPE)
    try:
        lines = [proc.stdout.readline() for _ in range(4)]
        assert any("AIRFLOW_CONN_AEP_DEFAULT=" in line and f"127.0.0.1:{port}" in line for line in lines)
        wait_until_serving(proc, port)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        proc.kill()


def test_admin_routes_need_the_credential_beyond_loopback() -> None:
    settings = EmulatorSettings(host="0.0.0.0", port=0, profiles=50)
    with EmulatorServer(settings) as server:
        base = f"http://127.0.0.1:{server.settings.port}"
        anonymous = requests.get(f"{base}/_emulator/requests", timeout=10)
        assert anonymous.status_code == 401 and "credential" in anonymous.json()["error"]
        assert requests.post(f"{base}/_emulator/reset", timeout=10).status_code == 401
        wrong = requests.get(f"{base}/_emulator/requests", auth=(settings.client_id, "nope"), timeout=10)
        assert wrong.status_code == 401
        basic = requests.get(
            f"{base}/_emulator/requests", auth=(settings.client_id, settings.client_secret), timeout=10
        )
        assert basic.status_code == 200
        token = mint_token(base, settings.client_id, settings.client_secret)
        bearer = requests.get(
            f"{base}/_emulator/requests", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert bearer.status_code == 200


def test_admin_routes_answer_on_loopback_without_credentials(emulator) -> None:
    assert requests.get(f"{emulator.url}/_emulator/requests", timeout=10).status_code == 200


def basic(user: str, password: str) -> dict[str, str]:
    """A Basic header of UTF-8 bytes (``requests``' ``auth=`` would send latin-1)."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_non_ascii_credentials_are_compared_not_a_500() -> None:
    settings = EmulatorSettings(host="0.0.0.0", port=0, profiles=50, client_secret="sécret-秘密")
    with EmulatorServer(settings):
        base = f"http://127.0.0.1:{settings.port}"
        form = {"grant_type": "client_credentials", "client_id": settings.client_id, "scope": "openid"}
        right = requests.post(
            f"{base}/ims/token/v3", data={**form, "client_secret": "sécret-秘密"}, timeout=10
        )
        assert right.status_code == 200 and right.json()["access_token"]
        wrong = requests.post(f"{base}/ims/token/v3", data={**form, "client_secret": "sécret-秘"}, timeout=10)
        assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
        admin = f"{base}/_emulator/requests"
        assert (
            requests.get(admin, headers=basic(settings.client_id, "sécret-秘密"), timeout=10).status_code
            == 200
        )
        for user, password in [(settings.client_id, "sécret"), ("clïent", "sécret-秘密"), ("ü", "ü")]:
            refused = requests.get(admin, headers=basic(user, password), timeout=10)
            assert refused.status_code == 401 and "credential" in refused.json()["error"]


def test_serving_beyond_loopback_with_the_default_credential_warns(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="airflow_provider_segmentation.emulator")
    with EmulatorServer(EmulatorSettings(host="0.0.0.0", port=0, profiles=50)):
        pass
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "0.0.0.0" in warning and DEFAULT_CLIENT_SECRET in warning and "--client-secret" in warning
    assert ":0 " not in warning and "port 0" not in warning  # the port it really listens on
    assert "anyone who can reach" in warning


@pytest.mark.parametrize(
    "settings",
    [
        EmulatorSettings(host="0.0.0.0", port=0, profiles=50, client_secret="a-secret-of-our-own"),
        EmulatorSettings(host="127.0.0.1", port=0, profiles=50),
    ],
)
def test_no_warning_with_an_own_secret_or_on_loopback(caplog, settings) -> None:
    caplog.set_level(logging.WARNING, logger="airflow_provider_segmentation.emulator")
    with EmulatorServer(settings):
        pass
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_cli_on_port_0_prints_the_port_it_serves_on() -> None:
    proc, _ = start_cli("--profiles", "50", port=0, stdout=subprocess.PIPE)
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        port = int(first.split("http://127.0.0.1:")[1].split()[0])
        assert port != 0
        wait_until_serving(proc, port)
        assert requests.get(f"http://127.0.0.1:{port}/_emulator/datasets", timeout=5).status_code == 200
    finally:
        proc.kill()
        proc.communicate(timeout=15)


def test_the_cli_warns_beyond_loopback_with_the_default_credential() -> None:
    proc, port = start_cli(
        "--host", "0.0.0.0", "--profiles", "50", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_until_serving(proc, port)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert "listens on 0.0.0.0, beyond loopback, with the default client secret" in stderr
    assert "--client-id and --client-secret" in stderr


@pytest.mark.parametrize(
    "spec",
    [
        {"path": BASE + "/segment/definitions", "count": "3"},
        {"path": BASE + "/segment/definitions", "probability": "often"},
        {"path": BASE + "/segment/definitions", "probability": 2},
        {"path": BASE + "/segment/definitions", "html": "false"},
        {"path": BASE + "/segment/definitions", "kind": "latency", "latency_seconds": -1},
        {"path": BASE + "/segment/definitions", "kind": "latency", "latency_seconds": 1e9},
        {"path": BASE + "/segment/definitions", "status": True},
        {"path": BASE + "/segment/definitions", "seed": [1]},
        {"path": BASE + "/segment/definitions", "status": 429, "retry_after": "1\r\nX-Evil: 1"},
        {"path": BASE + "/segment/definitions", "method": 7},
        {"count": 1},
    ],
)
def test_a_bad_fault_spec_is_refused_and_requests_keep_their_answers(emulator, token, spec) -> None:
    refused = requests.post(f"{emulator.url}/_emulator/faults", json=spec, timeout=5)
    assert refused.status_code == 400 and refused.json()["error"].startswith("bad fault spec")
    answer = requests.get(f"{emulator.url}{BASE}/segment/definitions", headers=headers(token), timeout=5)
    assert answer.status_code == 200
