"""A DAG file's import of this provider's operators and sensors stays light.

Every DAG file that uses the package, and every task process start, pays what these modules import at
module level. The hook, the client, the models, PQL, the rules and audience planning are imported when a
task runs (in ``execute``/``poke``), never when a DAG file is parsed: this guards that list.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DAG_FILE_IMPORTS = [
    "airflow_provider_segmentation.operators.segment_definitions",
    "airflow_provider_segmentation.operators.segment_jobs",
    "airflow_provider_segmentation.operators.export_jobs",
    "airflow_provider_segmentation.operators.schedules",
    "airflow_provider_segmentation.operators.previews",
    "airflow_provider_segmentation.operators.pql",
    "airflow_provider_segmentation.operators.audiences",
    "airflow_provider_segmentation.operators.size_check",
    "airflow_provider_segmentation.sensors.segmentation",
    "airflow_provider_segmentation.links",
    "airflow_provider_segmentation.assets",
]
RUN_TIME_ONLY = [
    "requests",
    "httpx",
    "pydantic",
    "airflow_provider_segmentation.hooks.segmentation",
    "airflow_provider_segmentation.models",
    "airflow_provider_segmentation.pql",
    "airflow_provider_segmentation.rules",
    "airflow_provider_segmentation.audiences",
    "airflow_provider_segmentation.emulator",
    "airflow_provider_segmentation.cron",
    "airflow_provider_segmentation.triggers",
    "airflow_provider_segmentation.size_history",
]
# The client package loads its names lazily; only its pure argument checks and errors may be imported.
CLIENT_AT_PARSE_TIME = {
    "airflow_provider_segmentation.client",
    "airflow_provider_segmentation.client.checks",
    "airflow_provider_segmentation.client.defaults",
    "airflow_provider_segmentation.client.errors",
    "airflow_provider_segmentation.client.redaction",
    "airflow_provider_segmentation.client.wire",
}


def modules_added_by_dag_file_imports() -> tuple[list[str], list[str]]:
    """In a fresh interpreter: what ``import airflow.sdk`` loads, and what the DAG-file imports add."""
    code = (
        "import importlib, json, sys; import airflow.sdk; before = set(sys.modules); "
        f"[importlib.import_module(m) for m in {DAG_FILE_IMPORTS!r}]; "
        "print(json.dumps([sorted(before), sorted(set(sys.modules) - before)]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    baseline, added = json.loads(out.strip().splitlines()[-1])
    return baseline, added


def test_a_dag_file_import_pulls_in_no_run_time_module() -> None:
    baseline, added = modules_added_by_dag_file_imports()
    ours = [m for m in sorted({*baseline, *added}) if m.startswith("airflow_provider_segmentation")]
    print("our modules loaded by a DAG file's import:", *ours, sep="\n  ")
    run_time = [m for m in added if any(m == f or m.startswith(f + ".") for f in RUN_TIME_ONLY)]
    assert not run_time, f"imported at DAG-parse time, needed only when a task runs: {run_time}"
    client = [m for m in ours if m.startswith("airflow_provider_segmentation.client")]
    assert set(client) <= CLIENT_AT_PARSE_TIME, sorted(set(client) - CLIENT_AT_PARSE_TIME)


# What a task that starts a segment job and pokes it never needs: the PQL parser and evaluator, the rules
# that read PQL or cron, audience planning. (A task that checks or converts PQL imports it when it runs.)
NOT_FOR_A_SEGMENT_JOB = [
    "airflow_provider_segmentation.pql",
    "airflow_provider_segmentation.rules.eligibility",
    "airflow_provider_segmentation.rules.pql_facts",
    "airflow_provider_segmentation.rules.guardrails",
    "airflow_provider_segmentation.audiences",
]
RUN_AND_POKE = """
import json, sys
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.operators.segment_jobs import AEPRunSegmentJobOperator
from airflow_provider_segmentation.sensors.segmentation import AEPSegmentJobSensor
from tests.operators.conftest import make_context

definition = {"name": "US", "expression": {"type": "PQL", "format": "pql/text",
              "value": 'homeAddress.countryCode = "US"'}}
seg = SegmentationHook().client.create_segment_definition(definition).id
run = AEPRunSegmentJobOperator(task_id="run", segment_ids=[seg], wait_for_completion=False)
run.execute(make_context())
AEPSegmentJobSensor(task_id="poke", job_id=run.job_id).poke(make_context())
print(json.dumps(sorted(sys.modules)))
"""


def test_a_task_that_runs_and_pokes_a_segment_job_loads_no_pql(aep_conn: str, emulator_admin) -> None:
    """Over the wire to the emulator, in a fresh interpreter: the on-demand check, the create and the poke
    use the rules' cheap half (catalogue, kinds, on-demand) and never the PQL parser."""
    root = Path(__file__).resolve().parents[2]  # the script imports tests.operators.conftest
    done = subprocess.run([sys.executable, "-c", RUN_AND_POKE], capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    checked = emulator_admin.requests("POST", "/data/core/ups/segment/definitions/bulk-get")
    assert checked, "the on-demand check did not run"
    heavy = [m for m in loaded if any(m == h or m.startswith(h + ".") for h in NOT_FOR_A_SEGMENT_JOB)]
    assert not heavy, f"a segment job's run and poke imported {heavy}"
