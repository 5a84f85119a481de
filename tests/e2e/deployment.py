"""A real Airflow 3 deployment in separate processes, against the AEP emulator, for the e2e suite.

``Deployment(workdir).start()`` brings up, all bound to 127.0.0.1 and on free ports:

* the AEP emulator (``aep-emulator --job-step-seconds 1``), whose printed ``export`` lines become the
  connection (``AIRFLOW_CONN_AEP_DEFAULT``) and the export dataset of the example DAGs;
* ``airflow api-server``, ``airflow scheduler`` (LocalExecutor), ``airflow dag-processor`` and
  ``airflow triggerer``, on a SQLite metadata database in a throwaway ``AIRFLOW_HOME``, with the
  repository's ``example_dags/`` as the DAGs folder.

Each process runs in its own process group and writes one log file under ``workdir/logs``;
``stop()`` terminates every group (SIGTERM, then SIGKILL) and is safe to call at any point.
Every Airflow setting the suite needs is in ``airflow_settings()``, each with the reason.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
BIN = Path(sys.executable).parent
DAG_IDS = ("aep_audience_pipeline", "aep_daily_schedule", "aep_definition_qa")
TERMINAL_RUN_STATES = ("success", "failed")
LOOPBACK = "127.0.0.1"
USERNAME = "e2e"


class DeploymentError(RuntimeError):
    """The harness could not bring the deployment up (not a product failure)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_for(
    what: str,
    check: Callable[[], Any],
    timeout: float,
    interval: float = 0.5,
    alive: Callable[[], None] | None = None,
) -> Any:
    """Call ``check`` until it returns something truthy; ``alive`` raises if a process died meanwhile."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if alive is not None:
            alive()
        try:
            result = check()
        except (requests.RequestException, ValueError, KeyError) as exc:
            last_error, result = exc, None
        if result:
            return result
        time.sleep(interval)
    raise DeploymentError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error})")


class Process:
    """One long-running command in its own process group, its output in one log file."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name, self.cmd, self.log_path = name, cmd, log_path
        with log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                cmd,
                env=env,
                cwd=log_path.parent,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() reaches every child it forks
            )

    def check_alive(self) -> None:
        code = self.popen.poll()
        if code is not None:
            raise DeploymentError(f"{self.name} exited with code {code}:\n{self.tail()}")

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the whole process group, SIGKILL what is left after ``grace`` seconds."""
        pgid = self.popen.pid  # start_new_session: the group id is the leader's pid
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break  # the whole group is gone
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                self.popen.poll()  # reap the leader, or its zombie keeps the group alive
                if not _group_exists(pgid):
                    return
                time.sleep(0.1)
        self.popen.poll()

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(text.splitlines()[-lines:])


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Emulator:
    """The emulator as a separate process, and its ``/_emulator/`` admin routes."""

    def __init__(self, logs: Path, job_step_seconds: float = 1.0) -> None:
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.http = requests.Session()
        self.http.trust_env = False  # loopback only: never through a proxy from the environment
        self.process = Process(
            "aep-emulator",
            [
                str(BIN / "aep-emulator"),
                "--host",
                LOOPBACK,
                "--port",
                str(self.port),
                "--job-step-seconds",
                str(job_step_seconds),
            ],
            dict(os.environ, PYTHONUNBUFFERED="1"),
            logs / "aep-emulator.log",
        )
        self.exported: dict[str, str] = {}

    def wait_ready(self, timeout: float = 60) -> dict[str, str]:
        """The ``export NAME=value`` lines the emulator printed, once it answers on its port."""

        def printed() -> dict[str, str]:
            for line in self.process.log_path.read_text(errors="replace").splitlines():
                if line.startswith("export ") and "=" in line:
                    name, value = line.removeprefix("export ").strip().split("=", 1)
                    self.exported[name] = value.strip("'")
            return self.exported if "AIRFLOW_CONN_AEP_DEFAULT" in self.exported else {}

        wait_for("the emulator's connection line", printed, timeout, 0.2, self.process.check_alive)
        wait_for("the emulator to answer", lambda: self.requests() is not None, timeout, 0.2)
        return self.exported

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.url}/_emulator{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def requests(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        """The emulator's request log, filtered by method and path prefix."""
        params = {k: v for k, v in {"method": method, "path": path}.items() if v}
        return list(self._call("GET", "/requests", params=params)["requests"])

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change run-time settings (e.g. ``job_step_seconds``); returns them all."""
        return dict(self._call("PATCH", "/settings", json=settings))

    def trigger_schedule(self, schedule_id: str) -> None:
        """Fire an AEP schedule now, as its cron would: a scheduled segment job starts."""
        self._call("POST", f"/schedules/{quote(schedule_id, safe='')}/trigger")


class AirflowAPI:
    """The REST API v2 of the api-server, authenticated as the SimpleAuthManager user ``e2e``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.http.trust_env = False

    def login(self, username: str, password: str) -> None:
        """``POST /auth/token``: the JWT every further request carries as a bearer token."""
        response = self.http.post(
            f"{self.url}/auth/token", json={"username": username, "password": password}, timeout=30
        )
        if response.status_code != 201:
            raise DeploymentError(f"login failed: {response.status_code} {response.text}")
        self.http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def request(self, method: str, path: str, expect: Iterable[int] = (200,), **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.url}/api/v2{path}", timeout=60, **kwargs)
        if response.status_code not in tuple(expect):
            raise AssertionError(
                f"{method} /api/v2{path} answered {response.status_code}: {response.text[:2000]}"
            )
        return response.json() if response.content else None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    # -- what an operator does ------------------------------------------------------------------------
    def unpause(self, dag_id: str) -> None:
        dag = self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        assert dag["is_paused"] is False, dag

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """A manual run (``logical_date`` null); its run id."""
        run = self.request("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        return str(run["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.get(f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"))

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        body = self.get(
            f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances", params={"limit": 100}
        )
        return {ti["task_id"]: ti for ti in body["task_instances"]}

    def ti_path(self, dag_id: str, run_id: str, task_id: str) -> str:
        return f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}"

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        return dict(self.get(self.ti_path(dag_id, run_id, task_id)))

    def tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        return list(self.get(self.ti_path(dag_id, run_id, task_id) + "/tries")["task_instances"])

    def links(self, dag_id: str, run_id: str, task_id: str) -> dict[str, str | None]:
        return dict(self.get(self.ti_path(dag_id, run_id, task_id) + "/links")["extra_links"])

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        entry = self.get(self.ti_path(dag_id, run_id, task_id) + f"/xcomEntries/{key}")
        return entry["value"]

    def log_lines(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> list[str]:
        """The try's log as the UI shows it (the worker's and the triggerer's parts), one event a line."""
        body = self.get(
            self.ti_path(dag_id, run_id, task_id) + f"/logs/{try_number}",
            params={"full_content": "true"},
            headers={"Accept": "application/json"},
        )
        content = body["content"]
        if isinstance(content, str):
            return content.splitlines()
        return [str(line.get("event", line)) if isinstance(line, dict) else str(line) for line in content]

    def triggerer_job_ids(self) -> set[int]:
        jobs = self.get("/jobs", params={"job_type": "TriggererJob", "limit": 100})["jobs"]
        return {int(job["id"]) for job in jobs}

    def clear(self, dag_id: str, run_id: str, task_ids: list[str]) -> list[dict[str, Any]]:
        body = self.request(
            "POST",
            f"/dags/{dag_id}/clearTaskInstances",
            json={
                "dry_run": False,
                "only_failed": False,
                "dag_run_id": run_id,
                "task_ids": task_ids,
                "include_upstream": False,
                "include_downstream": False,
            },
        )
        return list(body["task_instances"])

    def mark(self, dag_id: str, run_id: str, task_id: str, new_state: str) -> Any:
        return self.request("PATCH", self.ti_path(dag_id, run_id, task_id), json={"new_state": new_state})

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        timeout: float,
        on_poll: Callable[[dict[str, dict[str, Any]]], None] | None = None,
        interval: float = 0.5,
    ) -> str:
        """Poll the run (and, with ``on_poll``, its task instances) until it ends; its final state."""
        deadline = time.monotonic() + timeout
        while True:
            if on_poll is not None:
                on_poll(self.task_instances(dag_id, run_id))
            state = self.dag_run(dag_id, run_id)["state"]
            if state in TERMINAL_RUN_STATES:
                if on_poll is not None:
                    on_poll(self.task_instances(dag_id, run_id))
                return str(state)
            if time.monotonic() > deadline:
                tis = {k: v["state"] for k, v in self.task_instances(dag_id, run_id).items()}
                raise AssertionError(
                    f"run {run_id} of {dag_id} still {state} after {timeout:.0f} s; task states: {tis}"
                )
            time.sleep(interval)

    def wait_for_task_state(
        self, dag_id: str, run_id: str, task_id: str, states: Iterable[str], timeout: float
    ) -> dict[str, Any]:
        wanted = tuple(states)
        deadline = time.monotonic() + timeout
        seen: list[str | None] = []
        while True:
            ti = self.task_instance(dag_id, run_id, task_id)
            if not seen or seen[-1] != ti["state"]:
                seen.append(ti["state"])
            if ti["state"] in wanted:
                return ti
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{dag_id}.{task_id} in run {run_id} never reached {wanted} within {timeout:.0f} s; "
                    f"states seen: {seen}"
                )
            time.sleep(0.2)


@dataclass
class RunResult:
    """One manual DAG run, as the REST API showed it while it ran."""

    dag_id: str
    run_id: str | None = None
    state: str | None = None
    error: str | None = None
    seconds: float = 0.0
    # every distinct (state, trigger classpath, triggerer id) each task instance went through, in order
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    final: dict[str, dict[str, Any]] = field(default_factory=dict)

    def observe(self, tis: dict[str, dict[str, Any]]) -> None:
        self.final = tis
        for task_id, ti in tis.items():
            trigger = ti.get("trigger") or {}
            snapshot = {
                "state": ti["state"],
                "try_number": ti["try_number"],
                "trigger_classpath": trigger.get("classpath"),
                "triggerer_id": trigger.get("triggerer_id"),
            }
            seen = self.history.setdefault(task_id, [])
            if not seen or seen[-1] != snapshot:
                seen.append(snapshot)

    def describe(self) -> str:
        states = {task_id: ti["state"] for task_id, ti in self.final.items()}
        return f"run {self.run_id} of {self.dag_id}: {self.state} after {self.seconds:.0f} s; tasks {states}"


class Deployment:
    """The emulator and the four Airflow components; ``api`` drives them like an operator would."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.home = workdir / "airflow_home"
        self.logs = workdir / "logs"
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.api_port = free_port()
        self.api_url = f"http://{LOOPBACK}:{self.api_port}"
        self.password = secrets.token_urlsafe(16)
        self.processes: list[Process] = []
        self.emulator: Emulator | None = None
        self.api = AirflowAPI(self.api_url)
        self.env: dict[str, str] = {}
        self.timings: dict[str, float] = {}
        self.import_errors: dict[str, str] = {}

    # -- configuration --------------------------------------------------------------------------------
    def airflow_settings(self, emulator_env: dict[str, str]) -> dict[str, str]:
        """Every setting of the deployment; each line says why it is needed."""
        return {
            "AIRFLOW_HOME": str(self.home),
            # the repository's example DAGs, nothing else (no Airflow examples to parse)
            "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLE_DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # SQLite in the throwaway home (absolute path, required by Airflow); LocalExecutor runs on
            # it as is in Airflow 3.3 (no extra setting needed), a few tasks at a time keeps SQLite's
            # single writer from being the bottleneck on 2 CPUs
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            # the four processes must share these secrets: the scheduler signs the tokens that task
            # processes present to the api-server's Execution API (JWT secret), connections are
            # encrypted with the Fernet key, the api-server signs log-continuation tokens with the
            # secret key; left unset, each process could generate its own
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            # the api-server on loopback only, and where task processes find its Execution API
            # (the default is http://localhost:8080/execution/)
            "AIRFLOW__API__HOST": LOOPBACK,
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": self.api_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__API__WORKERS": "1",
            # SimpleAuthManager (the default) with one admin user whose password we choose, so that
            # the suite logs in with POST /auth/token like a client would (not all-admins mode)
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            # POST /api/v2/connections/test is disabled by default
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            # parse the DAGs folder at once (look for files every 5 s), then re-parse a file only when it
            # is edited, not every 30 s: fewer DAG versions and less CPU during the suite
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "2",
            "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "600",
            # short heartbeats and loops: runs, deferrals and trigger events are picked up in ~1 s
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
            # the scheduler's health-check server would bind 0.0.0.0:8974 (the log servers are off too:
            # --skip-serve-logs; the api-server reads task logs from the shared local folder)
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # plain log files
            "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
            # no proxy for loopback, whatever the environment says
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            # what the example DAGs read: the connection and the dataset the emulator printed, polls
            # every second, and a schedule cron that never fires during a suite (01:00 UTC on 1 January):
            # the suite fires the schedule itself once the sensor waits for it (conftest.example_runs)
            **emulator_env,
            "AEP_DEMO_POLL_INTERVAL": "1",
            "AEP_SCHEDULE_CRON": "0 0 1 1 1 ?",
        }

    # -- life cycle -----------------------------------------------------------------------------------
    def _airflow(self, name: str, *args: str) -> Process:
        process = Process(name, [str(BIN / "airflow"), *args], self.env, self.logs / f"{name}.log")
        self.processes.append(process)
        return process

    def check_alive(self) -> None:
        for process in self.processes:
            process.check_alive()

    def start(self) -> None:
        started = time.monotonic()
        self.emulator = Emulator(self.logs)
        self.processes.append(self.emulator.process)
        self.env = {**os.environ, **self.airflow_settings({})}
        # the password file SimpleAuthManager reads; it keeps passwords it finds there
        (self.home / "passwords.json").write_text(json.dumps({USERNAME: self.password}) + "\n")
        migrate = subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=300,
        )
        (self.logs / "db-migrate.log").write_text(migrate.stdout + migrate.stderr)
        if migrate.returncode != 0:
            raise DeploymentError(f"airflow db migrate failed:\n{(migrate.stdout + migrate.stderr)[-4000:]}")
        self.timings["db migrate"] = round(time.monotonic() - started, 1)
        self.env = {**os.environ, **self.airflow_settings(self.emulator.wait_ready())}
        self._airflow("api-server", "api-server", "--host", LOOPBACK, "--port", str(self.api_port))
        self._airflow("scheduler", "scheduler", "--skip-serve-logs")
        self._airflow("dag-processor", "dag-processor")
        self._airflow("triggerer", "triggerer", "--skip-serve-logs")
        wait_for("all components healthy", self._healthy, 180, 1.0, self.check_alive)
        self.timings["healthy"] = round(time.monotonic() - started, 1)
        self.api.login(USERNAME, self.password)
        wait_for("the example DAGs to be parsed", self._parsed, 180, 1.0, self.check_alive)
        self.timings["dags parsed"] = round(time.monotonic() - started, 1)

    def _healthy(self) -> bool:
        response = self.api.http.get(f"{self.api_url}/api/v2/monitor/health", timeout=5)
        if response.status_code != 200:
            return False
        health = response.json()
        parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        return all((health.get(part) or {}).get("status") == "healthy" for part in parts)

    def _parsed(self) -> bool:
        """Every example DAG file has been parsed: into its DAG, or into an import error."""
        self.import_errors = {
            str(e["filename"]): str(e["stack_trace"]) for e in self.api.get("/importErrors")["import_errors"]
        }
        dags = {d["dag_id"] for d in self.api.get("/dags", params={"limit": 100})["dags"]}
        files = len(list(EXAMPLE_DAGS.glob("*.py")))
        return set(DAG_IDS) <= dags or len(dags & set(DAG_IDS)) + len(self.import_errors) >= files

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def tails(self, lines: int = 40) -> str:
        return "\n".join(
            f"----- last {lines} lines of {p.log_path} -----\n{p.tail(lines)}" for p in self.processes
        )
