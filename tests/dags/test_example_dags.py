"""Each example DAG, run with ``airflow dags test`` in a throwaway AIRFLOW_HOME against the emulator."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID
from tests.compat import without_in_process_comms_debug

pytestmark = pytest.mark.dags
AIRFLOW = str(Path(sys.executable).parent / "airflow")
EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory, emulator) -> Iterator[dict[str, str]]:
    home = tmp_path_factory.mktemp("airflow_home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLE_DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW_CONN_AEP_DEFAULT": emulator.connection_json(),
        "AEP_EXPORT_DATASET_ID": PROFILE_DATASET_ID,
        "AEP_DEMO_POLL_INTERVAL": "0.2",
    }
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=180)
    yield env


EVALUATE_NOW = {"evaluate_now": True}  # the pipeline spends an on-demand run (AEP: 2 a UTC day)


def dags_test(env: dict[str, str], dag_id: str, conf: dict[str, object] | None = None) -> str:
    command = [AIRFLOW, "dags", "test", dag_id, *(["-c", json.dumps(conf)] if conf else [])]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=150)
    output = done.stdout + done.stderr
    if done.returncode != 0:  # the task errors first (a failed run's tail is warnings), then the tail
        errors = [line for line in output.splitlines() if re.search(r"ERROR|Traceback|Error\b", line)]
        pytest.fail(
            f"`airflow dags test {dag_id}` failed:\n" + "\n".join(errors[:60]) + "\n...\n" + output[-1500:]
        )
    return output


def stored_texts(env: dict[str, str]) -> str:
    """Every XCom value and rendered template field the DAG run left in the metadata database."""
    database = sqlite3.connect(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///"))
    try:
        rows = database.execute("SELECT value FROM xcom").fetchall()
        rows += database.execute("SELECT rendered_fields FROM rendered_task_instance_fields").fetchall()
    finally:
        database.close()
    return "\n".join(str(value) for (value,) in rows)


def test_audience_pipeline(airflow_home, emulator, emulator_admin) -> None:
    output = dags_test(airflow_home, "aep_audience_pipeline", EVALUATE_NOW)
    assert "=== AEP audience pipeline summary ===" in output and "SUCCEEDED" in output
    # secret hygiene: neither the client secret nor any token IMS issued appears in the task logs,
    # exceptions, XComs or rendered template fields of the run
    tokens = list(emulator.app.state.emulator.tokens)
    stored = stored_texts(airflow_home)
    assert tokens and "segment_counts" in stored  # the search below has something to search
    logged = without_in_process_comms_debug(output)
    for secret in [emulator.settings.client_secret, *tokens]:
        assert secret not in logged and secret not in stored
    assert len(emulator_admin.requests("POST", "/data/core/ups/segment/jobs")) == 1
    assert len(emulator_admin.requests("POST", "/data/core/ups/export/jobs")) == 1
    # a rerun updates nothing and duplicates nothing (the day's second on-demand run)
    dags_test(airflow_home, "aep_audience_pipeline", EVALUATE_NOW)
    definitions = "/data/core/ups/segment/definitions"  # the log's filter is a prefix: bulk-get too
    assert len([e for e in emulator_admin.requests("POST", definitions) if e["path"] == definitions]) == 3


def test_audience_pipeline_without_a_dataset_is_refused_before_any_job(airflow_home, emulator_admin) -> None:
    env = {**airflow_home, "AEP_EXPORT_DATASET_ID": ""}
    done = subprocess.run(
        [AIRFLOW, "dags", "test", "aep_audience_pipeline"],
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert done.returncode != 0
    assert "dataset_id" in done.stdout + done.stderr
    assert emulator_admin.requests("POST", "/data/core/ups/segment/jobs") == []
    assert emulator_admin.requests("POST", "/data/core/ups/segment/definitions") == []


def nightly_evaluation_ran(emulator_admin, name: str = "nightly audiences") -> None:
    """The sandbox's nightly evaluation (a once-a-day schedule for every audience) and its run of
    tonight, triggered now on the emulator instead of waiting for 01:00 UTC."""
    from airflow_provider_segmentation.hooks.segmentation import SegmentationHook

    hook = SegmentationHook()
    hook.client.create_segment_definition({"name": "Gold", "expression": {"value": 'loyalty.tier = "gold"'}})
    schedule = hook.client.create_schedule(name, cron="0 0 1 * * ?", segments=["*"], state="active")
    emulator_admin.trigger_schedule(schedule.id)


def test_audience_pipeline_rides_the_nightly_evaluation_by_default(
    airflow_home, aep_conn, emulator_admin
) -> None:
    nightly_evaluation_ran(emulator_admin)
    output = dags_test(airflow_home, "aep_audience_pipeline")
    assert "=== AEP audience pipeline summary ===" in output
    assert emulator_admin.requests("POST", "/data/core/ups/segment/jobs") == []  # no on-demand run
    assert len(emulator_admin.requests("POST", "/data/core/ups/export/jobs")) == 1


def test_daily_schedule(airflow_home, aep_conn, emulator_admin) -> None:
    nightly_evaluation_ran(emulator_admin)  # the DAG aligns this schedule and finds its run
    output = dags_test(airflow_home, "aep_daily_schedule")
    assert "profiles (" in output and " new, 0 exited)" in output


def test_definition_qa(airflow_home, emulator_admin) -> None:
    output = dags_test(airflow_home, "aep_definition_qa")
    assert "platinum: about" in output and "3 previewed" in output
    assert len(emulator_admin.requests("POST", "/data/core/ups/segment/conversion")) == 3
    # previews return whole profiles (XCom): the task logs show counts and ids, never personal data
    assert "member profiles returned to XCom" in output
    logged = without_in_process_comms_debug(output)
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", logged), "an e-mail address reached the logs"


@pytest.mark.reliability
def test_audience_pipeline_survives_a_fault_storm(airflow_home, emulator_admin) -> None:
    """The deferrable operators in a real DAG run, while polls get 429/503 and dropped connections,
    creates get 429 with Retry-After, and tokens keep expiring: the run succeeds and creates each job
    exactly once."""
    platform = "/data/core/ups/*"
    emulator_admin.inject_fault(
        method="GET", path=platform, kind="status", status=503, retry_after=0.05, probability=0.15, seed=11
    )
    emulator_admin.inject_fault(
        method="GET", path=platform, kind="status", status=429, retry_after=0.05, probability=0.10, seed=12
    )
    emulator_admin.inject_fault(method="GET", path=platform, kind="drop", probability=0.05, seed=13)
    emulator_admin.inject_fault(
        method="POST", path=platform, kind="status", status=429, retry_after=0.05, probability=0.20, seed=14
    )
    # and, whatever the dice say, the first polls of the deferred segment job and the first job create
    emulator_admin.inject_fault(
        method="GET",
        path="/data/core/ups/segment/jobs/*",
        kind="status",
        status=503,
        retry_after=0.05,
        count=3,
    )
    emulator_admin.inject_fault(
        method="POST",
        path="/data/core/ups/segment/jobs",
        kind="status",
        status=429,
        retry_after=0.05,
        count=1,
    )
    stop = threading.Event()

    def expire_tokens() -> None:
        while not stop.wait(2.0):
            emulator_admin.expire_tokens()

    expiring = threading.Thread(target=expire_tokens, daemon=True)
    expiring.start()
    try:
        output = dags_test(airflow_home, "aep_audience_pipeline", EVALUATE_NOW)
    finally:
        stop.set()
        expiring.join()
        emulator_admin.clear_faults()
    assert "=== AEP audience pipeline summary ===" in output
    statuses = Counter(entry["status"] for entry in emulator_admin.requests())
    assert statuses[429] > 0 and statuses[503] > 0
    for path in ("/data/core/ups/segment/jobs", "/data/core/ups/export/jobs"):
        created = [
            e for e in emulator_admin.requests("POST", path) if e["path"] == path and e["status"] == 200
        ]
        assert len(created) == 1, path


def test_drift_check_skips_while_nothing_is_managed(airflow_home, emulator_admin) -> None:
    """A fresh sandbox holds none of the folder's audiences: the daily drift check says what it needs
    (apply the folder first) and skips, instead of failing its first run."""
    output = dags_test(airflow_home, "aep_audiences_drift")
    assert "apply the folder to prod first" in output and "aep-audiences apply" in output
    assert emulator_admin.requests("POST", "/data/core/ups/segment/jobs") == []
