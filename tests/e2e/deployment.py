"""A real Airflow 3 deployment as users run it, in separate processes, against the AEP emulator.

``Deployment(workdir).start()`` brings up, all bound to 127.0.0.1 on free ports:

* the AEP emulator (``aep-emulator --job-step-seconds 1``), whose printed ``export`` lines become the
  connection (``AIRFLOW_CONN_AEP_DEFAULT``) and the export dataset of the example DAGs;
* its own PostgreSQL cluster (the metadata database) and Redis (the Celery broker), see ``services.py``;
* ``airflow api-server``, ``airflow scheduler`` (CeleryExecutor), ``airflow dag-processor``, two
  ``airflow triggerer`` and two ``airflow celery worker``, each named as its own machine (``hostname``
  in ``airflow_local_settings.py``); the workers have their own home and temporary directory, and the
  second one serves only the queue of the ``export_*`` tasks. The DAGs folder is ``example_dags/``.

Each process runs in its own process group and writes one log file under ``workdir/logs``;
``stop()`` terminates every group (SIGTERM, then SIGKILL), then Redis and Postgres, and is safe to call
at any point. Every Airflow setting is in ``airflow_settings()``, each with the reason.
SQLite and the LocalExecutor are covered elsewhere (``make demo``, ``make matrix``: ``dag.test()``).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from cryptography.fernet import Fernet

from tests.e2e.airflow_local_settings import EXPORT_QUEUE
from tests.e2e.rest import AirflowAPI
from tests.e2e.services import LOOPBACK, DeploymentError, Postgres, Process, free_port, redis_server, wait_for

E2E_DIR = Path(__file__).resolve().parent
REPO = E2E_DIR.parents[1]
EXAMPLE_DAGS = REPO / "example_dags"
BIN = Path(sys.executable).parent
DAG_IDS = ("aep_audience_pipeline", "aep_daily_schedule", "aep_definition_qa")
# the audience pipeline's conf for one on-demand segment job of its own, which the job-task tests need
# (by default it rides the sandbox's nightly evaluation instead)
EVALUATE_NOW = {"evaluate_now": True}
USERNAME = "e2e"
TRIGGERERS = ("triggerer-1", "triggerer-2")
# each worker: its queues; worker-b serves only the export tasks (airflow_local_settings.task_policy)
WORKERS = {"worker-a": "default", "worker-b": EXPORT_QUEUE}
WORKER_CONCURRENCY = 8


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

    def freeze_clock(self, frozen: bool) -> None:
        """Stop (or restart) the emulator's clock: AEP jobs stay where they are while it is frozen."""
        self._call("POST", "/clock", json={"frozen": frozen})

    def start_next_day(self) -> None:
        """Advance the emulator's clock by a day: AEP's daily on-demand allowance starts afresh (tokens
        minted before expire, as they would). Only between runs: jobs in flight would finish at once."""
        self._call("POST", "/clock", json={"advance_seconds": 86_400})


class Deployment:
    """The emulator, Postgres, Redis and the Airflow components; ``api`` drives them like an operator."""

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
        self.postgres: Postgres | None = None
        self.broker_url = ""
        self.api = AirflowAPI(self.api_url)
        self.env: dict[str, str] = {}
        self.timings: dict[str, float] = {}
        self.figures: list[str] = []  # what the suite measured, printed at the end of the session
        self.import_errors: dict[str, str] = {}
        self.secrets = {
            "jwt": secrets.token_urlsafe(64),
            "api": secrets.token_urlsafe(32),
            "fernet": Fernet.generate_key().decode(),
        }

    # -- configuration --------------------------------------------------------------------------------
    def airflow_settings(self, emulator_env: dict[str, str]) -> dict[str, str]:
        """Every setting of the deployment, the same for every component; each line says why."""
        assert self.postgres is not None
        return {
            "AIRFLOW_HOME": str(self.home),
            # the repository's example DAGs, nothing else (no Airflow examples to parse)
            "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLE_DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # the metadata database: Postgres through psycopg2, and asyncpg for the async engine (the
            # api-server and the triggerer use both; Airflow derives the async URL when it is not set)
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url("psycopg2"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self.postgres.url("asyncpg"),
            # the CeleryExecutor: the scheduler queues workloads on Redis, the workers take them; task
            # states come back through the result backend (the metadata database)
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{self.postgres.url('psycopg2')}",
            "AIRFLOW__CORE__PARALLELISM": str(2 * WORKER_CONCURRENCY),
            # the routing and the per-process hostnames of airflow_local_settings.py
            "PYTHONPATH": os.pathsep.join(p for p in (str(E2E_DIR), os.environ.get("PYTHONPATH")) if p),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "airflow_local_settings.hostname",
            # every process must share these secrets: the scheduler signs the tokens that task
            # processes present to the api-server's Execution API (JWT secret), connections are
            # encrypted with the Fernet key, the api-server signs log-continuation tokens with the
            # secret key; left unset, each process would generate its own
            "AIRFLOW__API_AUTH__JWT_SECRET": self.secrets["jwt"],
            "AIRFLOW__API__SECRET_KEY": self.secrets["api"],
            "AIRFLOW__CORE__FERNET_KEY": self.secrets["fernet"],
            # the api-server on loopback only, and where the workers' task processes find its Execution
            # API (the default is http://localhost:8080/execution/)
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
            # a triggerer silent for 15 s is dead: the other one takes its triggers over (default 30 s;
            # much lower and a triggerer merely slowed down on a busy 2-CPU machine would lose them)
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "15",
            # the scheduler's health-check server would bind 0.0.0.0:8974 (the log servers are off too:
            # --skip-serve-logs; the api-server reads task logs from the local logs folder all share)
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
    def _airflow(self, name: str, *args: str, own_home: bool = False) -> Process:
        """``airflow <args>`` as the machine ``name``; ``own_home``: its own HOME and TMPDIR too."""
        env = {**self.env, "AEP_E2E_HOSTNAME": name}
        cwd = self.workdir / name
        cwd.mkdir(exist_ok=True)
        if own_home:
            (cwd / "tmp").mkdir(exist_ok=True)
            env.update(HOME=str(cwd), TMPDIR=str(cwd / "tmp"), XDG_CACHE_HOME=str(cwd / ".cache"))
        process = Process(name, [str(BIN / "airflow"), *args], env, self.logs / f"{name}.log", cwd)
        self.processes.append(process)
        return process

    def process(self, name: str) -> Process:
        return next(p for p in self.processes if p.name == name)

    def restart(self, name: str) -> Process:
        """Start the component ``name`` again, e.g. after a test killed it."""
        index = self.processes.index(self.process(name))
        self.processes[index] = self.processes[index].restarted()
        return self.processes[index]

    def check_alive(self) -> None:
        for process in self.processes:
            process.check_alive()

    def _lap(self, name: str, started: float) -> None:
        self.timings[name] = round(time.monotonic() - started, 1)

    def start(self) -> None:
        started = time.monotonic()
        self.emulator = Emulator(self.logs)
        self.processes.append(self.emulator.process)
        self.postgres = Postgres(self.logs)
        self.postgres.start()
        redis, self.broker_url = redis_server(self.logs, dict(os.environ))
        self.processes.append(redis)
        self._lap("postgres+redis", started)
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
        self._lap("db migrate", started)
        self.env = {**os.environ, **self.airflow_settings(self.emulator.wait_ready())}
        self._airflow("api-server", "api-server", "--host", LOOPBACK, "--port", str(self.api_port))
        self._airflow("scheduler", "scheduler", "--skip-serve-logs")
        self._airflow("dag-processor", "dag-processor")
        for name in TRIGGERERS:
            self._airflow(name, "triggerer", "--skip-serve-logs")
        for name, queues in WORKERS.items():
            self._airflow(
                name,
                *("celery", "worker", "--skip-serve-logs", "--celery-hostname", f"{name}@{LOOPBACK}"),
                *("--queues", queues, "--concurrency", str(WORKER_CONCURRENCY)),
                own_home=True,
            )
        wait_for("all components healthy", self._healthy, 180, 1.0, self.check_alive)
        self._lap("healthy", started)
        self.api.login(USERNAME, self.password)
        wait_for("the example DAGs to be parsed", self._parsed, 180, 1.0, self.check_alive)
        self._lap("dags parsed", started)

    def _healthy(self) -> bool:
        """The api-server's health check, both triggerers' jobs, and both workers' ``ready`` line."""
        response = self.api.http.get(f"{self.api_url}/api/v2/monitor/health", timeout=5)
        if response.status_code != 200:
            return False
        health = response.json()
        parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        if not all((health.get(part) or {}).get("status") == "healthy" for part in parts):
            return False
        if not self.api.http.headers.get("Authorization"):
            self.api.login(USERNAME, self.password)
        if set(TRIGGERERS) - set(self.api.job_hostnames("TriggererJob").values()):
            return False
        return all(f"{name}@{LOOPBACK} ready" in self.process(name).tail(200) for name in WORKERS)

    def _parsed(self) -> bool:
        """Every example DAG file has been parsed: into its DAG, or into an import error."""
        self.import_errors = {
            str(e["filename"]): str(e["stack_trace"]) for e in self.api.get("/importErrors")["import_errors"]
        }
        dags = {d["dag_id"] for d in self.api.get("/dags", params={"limit": 100})["dags"]}
        files = len(list(EXAMPLE_DAGS.glob("*.py")))
        return set(DAG_IDS) <= dags or len(dags & set(DAG_IDS)) + len(self.import_errors) >= files

    def stop(self) -> None:
        """Airflow's components first (newest first), then the broker and the emulator, then Postgres."""
        started = time.monotonic()
        try:
            for process in reversed(self.processes):
                process.stop()
        finally:
            if self.postgres is not None:
                self.postgres.stop()
        self._lap("stop", started)

    def tails(self, lines: int = 40) -> str:
        parts = [f"----- last {lines} lines of {p.log_path} -----\n{p.tail(lines)}" for p in self.processes]
        if self.postgres is not None:
            parts.append(f"----- last {lines} lines of postgres.log -----\n{self.postgres.tail(lines)}")
        return "\n".join(parts)
