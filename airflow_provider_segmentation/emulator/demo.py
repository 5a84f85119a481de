"""``aep-emulator demo`` (``make demo``): run the audience pipeline example DAG end to end on the emulator.

Starts the emulator on a free loopback port, prepares a throwaway AIRFLOW_HOME on SQLite and runs
``airflow dags test aep_audience_pipeline`` once per emulator day for ``DAYS`` days (the emulator's clock
steps a day between runs, so each run spends one of the day's two on-demand runs and the audiences build
a size history), then prints the last run's summary, with the size check's verdict on that history, and
where to see the sizes in Airflow's UI. The emulator is stopped on success, failure and Ctrl-C alike.
Re-runnable: every run starts from a fresh AIRFLOW_HOME.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

DAG_ID = "aep_audience_pipeline"
SUMMARY_START = "=== AEP audience pipeline summary ==="
SUMMARY_END = "=== end of summary ==="
BIN = Path(sys.executable).parent
DAYS = 4  # the size check judges once it has 3 earlier evaluations


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_emulator(port: int, log_path: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """Start the emulator and return it with the environment lines it printed (connection, dataset)."""
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-u",
            "-m",
            "airflow_provider_segmentation.emulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--job-step-seconds",
            "1",
            # the store changes day by day, as a real one does (counts of this first day stay the same)
            "--growth-per-day",
            "0.005",
            "--churn-per-day",
            "0.003",
        ],
        stdout=subprocess.PIPE,
        stderr=log,
    )
    assert proc.stdout is not None
    exported: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode()
        if not line and proc.poll() is not None:
            raise RuntimeError(f"the emulator exited early; see {log_path}")
        if line.startswith("export ") and "=" in line:
            name, value = line.removeprefix("export ").strip().split("=", 1)
            exported[name] = value.strip("'")
        if "AIRFLOW_CONN_AEP_DEFAULT" in exported:
            # Keep draining stdout so that the emulator never blocks on a full pipe.
            threading.Thread(target=shutil.copyfileobj, args=(proc.stdout, log), daemon=True).start()
            return proc, exported
    raise RuntimeError("the emulator did not print its connection within 60 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def airflow_env(home: Path, dags: Path, emulator_env: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AEP_DEMO_POLL_INTERVAL="1",
    )
    env.update(emulator_env)
    return env


def run(cmd: list[str], env: dict[str, str], log_path: Path) -> int:
    with log_path.open("ab") as log:
        return subprocess.call(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)


def next_emulator_day(port: int) -> None:
    """Step the emulator's clock one day (its admin route): a new UTC day, new on-demand runs."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/_emulator/clock",
        data=b'{"advance_seconds": 86400}',
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


def summaries(log_path: Path) -> list[list[str]]:
    """Every pipeline summary in the log, oldest first, as its lines."""
    found: list[list[str]] = []
    inside = False
    for line in log_path.read_text(errors="replace").splitlines():
        if SUMMARY_START in line:
            inside = True
            found.append([])
        if inside:
            found[-1].append(line.split("[task]")[0].rstrip() if "[task]" in line else line)
        if SUMMARY_END in line:
            inside = False
    return found


def print_summary(log_path: Path) -> None:
    lines = log_path.read_text(errors="replace").splitlines()
    inside = False
    for line in lines:
        if SUMMARY_START in line:
            inside = True
        if inside:
            print(line.split("[task]")[0].rstrip() if "[task]" in line else line)
        if SUMMARY_END in line:
            inside = False


def main(dags: Path) -> int:
    """Run the demo with the example DAGs in ``dags`` (the repository's ``example_dags/``)."""
    if not (dags / "example_audience_pipeline.py").is_file():
        print(f"[demo] {dags} has no example_audience_pipeline.py: run from a clone, or pass --dags-folder")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="aep-demo-"))
    home = workdir / "airflow"
    home.mkdir()
    emulator_log, airflow_log = workdir / "emulator.log", workdir / "airflow.log"
    started = time.monotonic()
    print(f"[demo] work dir {workdir}")
    port = free_port()
    proc, emulator_env = start_emulator(port, emulator_log)
    try:
        print(f"[demo] emulator up ({time.monotonic() - started:.1f} s); preparing AIRFLOW_HOME on SQLite")
        env = airflow_env(home, dags.resolve(), emulator_env)
        if run([str(BIN / "airflow"), "db", "migrate"], env, airflow_log) != 0:
            print(f"[demo] airflow db migrate failed; see {airflow_log}")
            return 1
        # one on-demand run a day: a fresh emulator has no nightly schedule for the pipeline to wait for
        test = [str(BIN / "airflow"), "dags", "test", DAG_ID, "--conf", '{"evaluate_now": true}']
        for day in range(1, DAYS + 1):
            if day > 1:
                next_emulator_day(port)
            print(f"[demo] emulator day {day} of {DAYS}: running `airflow dags test {DAG_ID}`")
            code = run(test, env, airflow_log)
            if code != 0:
                print_summary(airflow_log)
                print(f"[demo] the DAG run failed (exit {code}); last lines of {airflow_log}:")
                print("\n".join(airflow_log.read_text(errors="replace").splitlines()[-40:]))
                return code
            evaluated = [line for line in summaries(airflow_log)[-1] if line.startswith("segment job")]
            print(f"[demo]   {evaluated[0] if evaluated else 'no summary'}")
        print("\n".join(summaries(airflow_log)[-1]))
        print(
            "[demo] the sizes over time, the jobs and their outcomes are on the AEP audiences page of "
            "Airflow's UI: Browse -> AEP audiences (Airflow 3.1+), or /aep-audiences/ on the api-server "
            "(3.0), in any deployment with this provider installed"
        )
        print(f"[demo] done in {time.monotonic() - started:.1f} s")
        shutil.rmtree(workdir, ignore_errors=True)
        return 0
    except KeyboardInterrupt:
        print("\n[demo] interrupted")
        return 130
    finally:
        stop(proc)
