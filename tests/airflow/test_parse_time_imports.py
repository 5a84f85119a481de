"""A DAG file's import of this provider's operators and sensors stays light.

Every DAG file that uses the package, and every task process start, pays what these modules import at
module level. The hook, the client, the models, PQL, the rules and audience planning are imported when a
task runs (in ``execute``/``poke``), never when a DAG file is parsed: this guards that list.
"""

from __future__ import annotations

import json
import subprocess
import sys

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
