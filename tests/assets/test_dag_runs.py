"""A real DAG run (``airflow dags test``) against the emulator: the exports' asset events land in the
metadata database and queue the consumer example DAG; the OpenLineage provider emits our facets."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from tests.compat import AIRFLOW_V_3_1_PLUS

pytestmark = pytest.mark.dags
AIRFLOW = str(Path(sys.executable).parent / "airflow")
EXAMPLE = Path(__file__).resolve().parents[2] / "example_dags" / "example_audience_asset.py"
DATASET_URI = f"aep://prod/datasets/{PROFILE_DATASET_ID}"

PRODUCER = """
import json, os
from datetime import datetime
from airflow.sdk import DAG
from airflow_provider_segmentation.operators.export_jobs import AEPExportAudienceOperator
from airflow_provider_segmentation.operators.segment_jobs import AEPRunSegmentJobOperator

SEGMENTS = json.loads(os.environ["AEP_TEST_SEGMENTS"])
with DAG("aep_assets_producer", schedule=None, start_date=datetime(2026, 1, 1), params={"ds": "DATASET"}):
    evaluate = AEPRunSegmentJobOperator(task_id="evaluate", segment_ids=SEGMENTS, poll_interval=0.2)
    known = AEPExportAudienceOperator(
        task_id="export_known", segment_ids=SEGMENTS, dataset_id="DATASET", sandbox="prod", poll_interval=0.2
    )
    templated = AEPExportAudienceOperator(
        task_id="export_templated", segment_ids=SEGMENTS, dataset_id="{{ params.ds }}", poll_interval=0.2
    )
    evaluate >> [known, templated]
""".replace("DATASET", PROFILE_DATASET_ID)


def airflow(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=240)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    return output


def rows(env: dict[str, str], sql: str) -> list[tuple[Any, ...]]:
    database = sqlite3.connect(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///"))
    try:
        return list(database.execute(sql).fetchall())
    finally:
        database.close()


def test_a_dag_run_emits_asset_events_and_openlineage_facets(tmp_path, emulator, aep_conn) -> None:
    hook = SegmentationHook()
    segments = [
        hook.client.create_segment_definition(
            {"name": tier, "expression": {"value": f'loyalty.tier = "{tier}"'}}
        ).id
        for tier in ("gold", "platinum")
    ]
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "producer.py").write_text(PRODUCER)
    shutil.copy(EXAMPLE, dags / EXAMPLE.name)
    lineage_file = tmp_path / "openlineage.jsonl"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",  # the consumer DAG listens at once
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
        "AIRFLOW_CONN_AEP_DEFAULT": emulator.connection_json(),
        "AEP_EXPORT_DATASET_ID": PROFILE_DATASET_ID,
        "AEP_TEST_SEGMENTS": json.dumps(segments),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(lineage_file), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "assets-test",
    }
    airflow(env, "db", "migrate")
    airflow(env, "dags", "reserialize")  # the consumer DAGs and their assets are known, as in a deployment
    airflow(env, "dags", "test", "aep_assets_producer")

    events = rows(
        env,
        "SELECT a.uri, e.source_task_id, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
        "ORDER BY e.source_task_id",
    )
    assert [(uri, task) for uri, task, _ in events] == [
        (DATASET_URI, "export_known"),
        (DATASET_URI, "export_templated"),  # through the aep-dataset-exports alias
    ]
    for _, task, extra in events:
        extra = json.loads(extra)
        # through the alias, Airflow 3.0 can record lists only as text (compat.alias_event_extra)
        through_alias_on_3_0 = task == "export_templated" and not AIRFLOW_V_3_1_PLUS
        expected = ",".join(segments) if through_alias_on_3_0 else segments
        assert extra["segment_ids"] == expected and extra["exported_profiles"] > 0 and extra["job_id"]
    queued = rows(env, "SELECT target_dag_id FROM asset_dag_run_queue")
    assert ("aep_audience_landed",) in queued  # the example consumer DAG is due to run

    emitted = [json.loads(line) for line in lineage_file.read_text().splitlines() if line.strip()]
    complete = {e["job"]["name"]: e for e in emitted if e["eventType"] == "COMPLETE"}
    export = complete["aep_assets_producer.export_known"]
    assert [(o["namespace"], o["name"]) for o in export["outputs"]] == [
        ("aep://prod", f"datasets/{PROFILE_DATASET_ID}")
    ]
    assert [(i["namespace"], i["name"]) for i in export["inputs"]] == [
        ("aep://prod", f"audiences/{s}") for s in segments
    ]
    facets = export["run"]["facets"]
    assert facets["externalQuery"]["source"] == "aep://prod"
    assert facets["aepSegmentation"]["jobKind"] == "export_job"
    assert facets["aepSegmentation"]["imsOrgId"] == "EMULATOR0000000000000000@AdobeOrg"
    evaluate = complete["aep_assets_producer.evaluate"]
    assert [(i["namespace"], i["name"]) for i in evaluate["inputs"]] == [
        ("aep://prod", f"segments/{s}") for s in segments
    ]
    assert {o["name"] for o in evaluate["outputs"]} == {f"audiences/{s}" for s in segments}
    assert evaluate["run"]["facets"]["aepSegmentation"]["audiences"][0]["segmentId"] == segments[0]
