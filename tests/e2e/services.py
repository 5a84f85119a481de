"""The e2e deployment's building blocks: processes, and its own PostgreSQL and Redis on loopback.

Postgres and Redis come from the Debian packages ``postgresql`` and ``redis-server`` (``.ci/run``
installs them); the harness never uses a system service: it starts a throwaway cluster and a Redis on
free loopback ports and stops them at the end.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

LOOPBACK = "127.0.0.1"
POSTGRES_ROOT = Path("/usr/lib/postgresql")  # Debian's layout: /usr/lib/postgresql/<major>/bin
POSTGRES_USER = "postgres"  # created by the Debian package; PostgreSQL refuses to run as root
DATABASE = "airflow"


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
        except (requests.RequestException, ValueError, KeyError, OSError) as exc:
            last_error, result = exc, None
        if result:
            return result
        time.sleep(interval)
    raise DeploymentError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error})")


class Process:
    """One long-running command in its own process group, its output in one log file."""

    def __init__(
        self, name: str, cmd: list[str], env: dict[str, str], log_path: Path, cwd: Path | None = None
    ) -> None:
        self.name, self.cmd, self.env, self.log_path = name, cmd, env, log_path
        self.cwd = cwd or log_path.parent
        with log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                cmd,
                env=env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() reaches every child it forks
            )

    def restarted(self) -> Process:
        """The same command started again (same settings, appending to the same log)."""
        self.stop()
        return Process(self.name, self.cmd, self.env, self.log_path, self.cwd)

    def check_alive(self) -> None:
        code = self.popen.poll()
        if code is not None:
            raise DeploymentError(f"{self.name} exited with code {code}:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL the whole group at once, as a crashed machine would leave it: no clean-up runs."""
        self.stop(grace=0.0)

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the whole process group (none with ``grace=0``), SIGKILL what is left after ``grace``."""
        pgid = self.popen.pid  # start_new_session: the group id is the leader's pid
        steps = ((signal.SIGTERM, grace),) if grace > 0 else ()
        for sig, wait in (*steps, (signal.SIGKILL, 5.0)):
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


def postgres_bindir() -> Path:
    """The newest installed PostgreSQL's ``bin`` (``pg_ctl``, ``initdb`` are not on PATH on Debian)."""
    found = sorted(POSTGRES_ROOT.glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise DeploymentError(
            f"no PostgreSQL under {POSTGRES_ROOT}: install it with `apt-get install postgresql` (.ci/run)"
        )
    return found[-1].parent


class Postgres:
    """A throwaway cluster: ``initdb`` into a temporary directory, ``pg_ctl start`` on a free loopback
    port (TCP only, trust authentication: nothing but this machine can reach it), ``pg_ctl stop -m fast``.

    As root (CI), the cluster belongs to the ``postgres`` user and every command runs through ``runuser``;
    its directory is outside pytest's temporary directory, which only root may enter.
    """

    def __init__(self, logs: Path) -> None:
        self.bindir = postgres_bindir()
        self.port = free_port()
        self.logs = logs
        self.datadir = Path(tempfile.mkdtemp(prefix="aep-e2e-postgres-"))
        self.run_as = POSTGRES_USER if os.geteuid() == 0 else None
        self.started = False

    @property
    def log_path(self) -> Path:
        return self.datadir / "postgres.log"

    def url(self, driver: str) -> str:
        return f"postgresql+{driver}://{DATABASE}@{LOOPBACK}:{self.port}/{DATABASE}"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / tool), *args]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.datadir)
        if done.returncode != 0:
            raise DeploymentError(f"{tool} failed ({done.returncode}):\n{done.stdout}{done.stderr}")

    def start(self) -> None:
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            os.chown(self.datadir, user.pw_uid, user.pw_gid)
        data = str(self.datadir / "data")
        self._run("initdb", "-D", data, "-U", DATABASE, "--auth=trust", "-E", "UTF8", "--no-sync")
        # loopback TCP only (no Unix socket: -k ''); no fsync: the cluster is thrown away after the suite,
        # and durability is not what the suite tests; enough connections for every component's pool
        options = f"-h {LOOPBACK} -p {self.port} -k '' -c fsync=off -c max_connections=300"
        self._run("pg_ctl", "-D", data, "-l", str(self.log_path), "-o", options, "-w", "-t", "60", "start")
        self.started = True
        self._run("createdb", "-h", LOOPBACK, "-p", str(self.port), "-U", DATABASE, DATABASE)

    def stop(self) -> None:
        """Fast shutdown (connections closed, clean checkpoint), then the log is kept and the data removed."""
        try:
            if self.started:
                self._run("pg_ctl", "-D", str(self.datadir / "data"), "-m", "fast", "-w", "-t", "60", "stop")
                self.started = False
        finally:
            with contextlib.suppress(OSError):  # the logs folder may be gone (pytest prunes old temp dirs)
                shutil.copy(self.log_path, self.logs / "postgres.log")
            if not self.started:
                shutil.rmtree(self.datadir, ignore_errors=True)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {exc})"


def redis_server(logs: Path, env: dict[str, str]) -> tuple[Process, str]:
    """Celery's broker: ``redis-server`` on a free loopback port, in memory only; its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise DeploymentError("no redis-server on PATH: install it with `apt-get install redis-server`")
    port = free_port()
    cmd = [binary, "--bind", LOOPBACK, "--port", str(port), "--save", "", "--appendonly", "no"]
    process = Process("redis", cmd, env, logs / "redis.log")

    def ready() -> bool:
        with socket.create_connection((LOOPBACK, port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    wait_for("redis to answer PING", ready, 30, 0.2, process.check_alive)
    return process, f"redis://{LOOPBACK}:{port}/0"
