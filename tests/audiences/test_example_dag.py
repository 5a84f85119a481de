"""The example DAGs with ``airflow dags test`` against the emulator: CI plans the folder, a reviewer approves
that plan's fingerprint, and the DAG lints, plans, gates on the fingerprint, applies and evaluates; then the
daily DAG finds no drift and evaluates the audiences with ``schedule: true``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_segmentation.audiences.cli import main
from airflow_provider_segmentation.audiences.connection import config_from_environment
from airflow_provider_segmentation.client import SegmentationClient
from tests.audiences.conftest import EXAMPLES

pytestmark = pytest.mark.dags
AIRFLOW = str(Path(sys.executable).parent / "airflow")
DAG_FILE = EXAMPLES.parent / "example_audiences_as_code.py"


def test_the_example_dag_applies_exactly_the_approved_plan(
    emulator, emulator_admin, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("AIRFLOW_CONN_AEP_DEFAULT", emulator.connection_json("prod"))
    assert main(["plan", str(EXAMPLES), "--sandbox", "dev", "--json"]) == 2
    approved = json.loads(capsys.readouterr().out)["fingerprint"]

    home = tmp_path / "airflow_home"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES.parent),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AEP_DEMO_POLL_INTERVAL": "0.2",
    }
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=180)

    def dags_test(dag_id: str, conf: dict[str, str]) -> str:
        done = subprocess.run(
            [AIRFLOW, "dags", "test", dag_id, "-f", str(DAG_FILE), "-c", json.dumps(conf)],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, output[-4000:]
        return output

    output = dags_test("aep_audiences_as_code", {"approve": approved})
    assert "Following branch {'approved_by_param'}" in output
    assert f"Applied plan {approved} to sandbox 'dev': 4 created, 0 updated, 0 deleted." in output

    created = [
        e for e in emulator_admin.requests("POST", "/data/core/ups/segment/definitions") if e["status"] == 200
    ]
    jobs = [e for e in emulator_admin.requests("POST", "/data/core/ups/segment/jobs") if e["status"] == 200]
    assert len(created) == 4 and len(jobs) == 1 and {e["sandbox"] for e in created + jobs} == {"dev"}
    assert "SUCCEEDED" in output  # the segment job on what changed
    assert main(["plan", str(EXAMPLES), "--sandbox", "dev"]) == 0  # CI sees no changes afterwards

    emulator_admin.clear_requests()
    dags_test("aep_audiences_drift", {"sandbox": "dev", "evaluate_now": True})  # one on-demand run
    client = SegmentationClient(config_from_environment(sandbox="dev"))
    stored = {d.name: d.id for d in client.list_segment_definitions()}
    (job,) = [e for e in emulator_admin.requests("POST", "/data/core/ups/segment/jobs") if e["status"] == 200]
    (latest, *_) = client.list_segment_jobs()  # newest first
    assert job["sandbox"] == "dev" and latest.status == "SUCCEEDED"
    assert sorted(latest.segment_ids) == sorted(  # every audience but engagement.yaml's (schedule: false)
        ident for name, ident in stored.items() if name != "Engaged by e-mail, no purchase"
    )
