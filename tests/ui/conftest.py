"""A real ``airflow api-server`` for the UI plugin's tests: throwaway AIRFLOW_HOME on SQLite, the
session emulator as ``aep_default``, the provider's plugin loaded through its airflow.plugins entry
point, and a plugin of the test's own (an unprotected endpoint) in the plugins folder."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.compat import AIRFLOW_V_3_1_PLUS
from tests.e2e.services import LOOPBACK, Process, free_port, wait_for

BIN = Path(sys.executable).parent
UNPROTECTED_PLUGIN = """
from fastapi import FastAPI
from airflow.plugins_manager import AirflowPlugin

app = FastAPI()

@app.get("/hello")
def hello():
    return {"hello": "anyone"}

class Unprotected(AirflowPlugin):
    name = "unprotected_test_plugin"
    fastapi_apps = [{"app": app, "url_prefix": "/unprotected", "name": "unprotected"}]
"""


@dataclass
class ApiServer:
    url: str
    passwords: dict[str, str]
    home: Path

    def token(self, username: str = "admin") -> str:
        response = requests.post(
            f"{self.url}/auth/token",
            json={"username": username, "password": self.passwords[username]},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["access_token"])


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory, emulator) -> Iterator[ApiServer]:
    home = tmp_path_factory.mktemp("ui_airflow_home")
    (home / "plugins").mkdir()
    (home / "plugins" / "unprotected.py").write_text(UNPROTECTED_PLUGIN)
    port = free_port()
    users = {"admin": "admin", "viewer": "viewer"}
    if (
        AIRFLOW_V_3_1_PLUS
    ):  # Airflow 3.0's simple auth manager answers 500 to every login with a roleless user
        users["nobody"] = ""
    passwords = {name: secrets.token_urlsafe(12) for name in users}
    (home / "passwords.json").write_text(__import__("json").dumps(passwords))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in users.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
        # Airflow 3.0 signs logins with [api_auth] jwt_issuer and answers 500 while it is unset
        "AIRFLOW__API_AUTH__JWT_ISSUER": "airflow",
        "AIRFLOW__API__BASE_URL": f"http://{LOOPBACK}:{port}",
        "AIRFLOW_CONN_AEP_DEFAULT": emulator.connection_json("prod"),
        "AIRFLOW__AEP_AUDIENCES__CONNECTIONS": "aep_default, aep_default:dev",
    }
    subprocess.run(
        [str(BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True, timeout=300
    )
    process = Process(
        "api-server",
        [str(BIN / "airflow"), "api-server", "--host", LOOPBACK, "--port", str(port), "--workers", "1"],
        env,
        home / "api-server.log",
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        wait_for(
            "the api-server",
            lambda: requests.get(f"{url}/api/v2/monitor/health", timeout=5).ok,
            180,
            0.5,
            process.check_alive,
        )
        yield ApiServer(url, passwords, home)
    finally:
        process.stop()
