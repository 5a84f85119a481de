"""Exports emit an asset event for the dataset they wrote; segment jobs and exports report OpenLineage
facets that the OpenLineage provider's own extractor machinery picks up."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk import DAG, AssetAlias
from airflow.sdk.execution_time.context import OutletEventAccessors

from airflow_provider_segmentation.assets import EXPORT_ALIAS, aep_dataset_asset
from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.operators.export_jobs import AEPExportAudienceOperator
from airflow_provider_segmentation.operators.segment_jobs import AEPRunSegmentJobOperator
from tests.compat import AIRFLOW_V_3_1_PLUS
from tests.operators.conftest import make_context

ORG = "EMULATOR0000000000000000@AdobeOrg"


@pytest.fixture
def audiences(aep_conn: str) -> list[str]:
    """Two evaluated segment definitions (so an export has members to write)."""
    hook = SegmentationHook()
    ids = [
        hook.client.create_segment_definition(
            {"name": name, "expression": {"value": f'loyalty.tier = "{name}"'}}
        ).id
        for name in ("gold", "silver")
    ]
    assert all(ids)
    hook.wait_for_segment_job(hook.client.create_segment_job(ids).id, poll_interval=0.02, timeout=30)  # type: ignore[arg-type]
    return [str(i) for i in ids]


def export_op(**kwargs: Any) -> AEPExportAudienceOperator:
    return AEPExportAudienceOperator(
        task_id="export",
        dataset_id=PROFILE_DATASET_ID,
        poll_interval=0.02,
        timeout=30,
        deferrable=False,
        **kwargs,
    )


def context_with_outlets() -> dict[str, Any]:
    return {**make_context(), "outlet_events": OutletEventAccessors()}


def test_an_export_with_a_known_dataset_declares_and_emits_its_asset(audiences) -> None:
    op = export_op(segment_ids=audiences, sandbox="prod")
    asset = aep_dataset_asset("prod", PROFILE_DATASET_ID)
    assert op.outlets == [asset]
    context = context_with_outlets()
    result = op.execute(context)
    extra = context["outlet_events"][asset].extra
    assert extra == {
        "job_id": result["job_id"],
        "sandbox": "prod",
        "dataset_id": PROFILE_DATASET_ID,
        "segment_ids": audiences,
        "exported_profiles": result["exported_profiles"],
        "batch_ids": result["batch_ids"],
    }
    assert extra["exported_profiles"] > 0


def test_an_export_known_only_at_run_time_emits_through_the_alias(audiences) -> None:
    op = export_op(segment_ids=audiences)  # the connection's sandbox: known when the task runs
    alias = AssetAlias(name=EXPORT_ALIAS)
    assert op.outlets == [alias]
    context = context_with_outlets()
    result = op.execute(context)
    [event] = context["outlet_events"][alias].asset_alias_events
    assert (
        event.dest_asset_key.uri == event.dest_asset_key.name == f"aep://prod/datasets/{PROFILE_DATASET_ID}"
    )
    # Airflow 3.0 can record lists in an alias event's extra only as text (compat.alias_event_extra)
    expected = audiences if AIRFLOW_V_3_1_PLUS else ",".join(audiences)
    assert event.extra["job_id"] == result["job_id"] and event.extra["segment_ids"] == expected


def test_no_asset_event_for_an_export_that_is_not_waited_for_or_opted_out(audiences) -> None:
    assert export_op(segment_ids=audiences, sandbox="prod", wait_for_completion=False).outlets == []
    assert export_op(segment_ids=audiences, sandbox="prod", emit_asset_event=False).outlets == []
    user_outlet = aep_dataset_asset("prod", "other")
    assert export_op(segment_ids=audiences, sandbox="prod", outlets=[user_outlet]).outlets == [
        user_outlet,
        aep_dataset_asset("prod", PROFILE_DATASET_ID),
    ]
    # run outside Airflow (no outlet_events in the context): the export still succeeds
    assert export_op(segment_ids=audiences, sandbox="prod").execute(make_context())["status"] == "SUCCEEDED"


def extracted(task: Any) -> Any:
    """What the OpenLineage provider's ExtractorManager makes of the finished task (its real code path)."""
    from airflow.providers.openlineage.extractors import ExtractorManager
    from airflow.utils.state import TaskInstanceState

    dagrun = SimpleNamespace(run_id="manual__1")
    return ExtractorManager().extract_metadata(dagrun, task, TaskInstanceState.SUCCESS, SimpleNamespace())


def as_dict(facet: Any) -> dict[str, Any]:
    from openlineage.client.serde import Serde

    return dict(Serde.to_dict(facet))


def test_segment_job_lineage_definitions_in_audiences_out(audiences) -> None:
    with DAG("lineage", start_date=datetime(2026, 1, 1), schedule=None):
        op = AEPRunSegmentJobOperator(
            task_id="evaluate", segment_ids=audiences, poll_interval=0.02, timeout=30, deferrable=False
        )
    result = op.execute(make_context())
    lineage = extracted(op)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("aep://prod", f"segments/{s}") for s in audiences
    ]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("aep://prod", f"audiences/{s}") for s in audiences
    ]
    counts = result["segment_counts"]
    assert [d.outputFacets["outputStatistics"].rowCount for d in lineage.outputs] == [
        counts[s]["total"] for s in audiences
    ]
    assert lineage.run_facets["externalQuery"].externalQueryId == result["job_id"]
    assert lineage.run_facets["externalQuery"].source == "aep://prod"
    facet = as_dict(lineage.run_facets["aepSegmentation"])
    assert facet["jobKind"] == "segment_job" and facet["jobId"] == result["job_id"]
    assert facet["status"] == "SUCCEEDED" and facet["imsOrgId"] == ORG and facet["sandbox"] == "prod"
    assert facet["uiUrl"].endswith(f"/segment/jobs/{result['job_id']}?sandbox=prod")
    assert facet["audiences"] == [{"segmentId": s, **counts[s]} for s in audiences]
    assert facet["_schemaURL"].startswith("urn:airflow-provider-segmentation:")


def test_export_lineage_audiences_in_dataset_out(audiences) -> None:
    with DAG("lineage", start_date=datetime(2026, 1, 1), schedule=None):
        op = export_op(segment_ids=audiences, sandbox="prod")
    result = op.execute(context_with_outlets())
    lineage = extracted(op)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("aep://prod", f"audiences/{s}") for s in audiences
    ]
    [output] = lineage.outputs
    assert (output.namespace, output.name) == ("aep://prod", f"datasets/{PROFILE_DATASET_ID}")
    assert output.outputFacets["outputStatistics"].rowCount == result["exported_profiles"] > 0
    # the output is the OpenLineage dataset of the asset the export emitted (Airflow's own translation)
    from airflow.providers.openlineage.utils.utils import translate_airflow_asset

    translated = translate_airflow_asset(aep_dataset_asset("prod", PROFILE_DATASET_ID), None)
    assert translated is not None and (translated.namespace, translated.name) == (
        output.namespace,
        output.name,
    )
    facet = as_dict(lineage.run_facets["aepSegmentation"])
    assert facet["jobKind"] == "export_job" and facet["jobId"] == result["job_id"]
    assert facet["datasetId"] == PROFILE_DATASET_ID and facet["batchIds"] == result["batch_ids"]
    assert facet["exportedProfiles"] == result["exported_profiles"]
    assert facet["audiences"] == [{"segmentId": s} for s in audiences]
    assert lineage.run_facets["externalQuery"].externalQueryId == result["job_id"]


def test_the_provider_works_without_the_openlineage_provider() -> None:
    """With OpenLineage not importable (the client and the provider's code; Airflow's discovery may still
    read the provider's metadata), DAGs with these operators and assets still build and serialize."""
    import subprocess
    import sys

    code = """
import sys
class NoOpenLineage:
    def find_spec(self, name, path=None, target=None):
        blocked = ("openlineage", "airflow.providers.openlineage.")
        if name.startswith(blocked) and not name.endswith(".get_provider_info"):
            raise ImportError(f"{name} is not installed")
sys.meta_path.insert(0, NoOpenLineage())
from datetime import datetime
from pathlib import Path
from airflow.sdk import DAG
from airflow_provider_segmentation.assets import aep_dataset_asset, aep_schedule_asset
from airflow_provider_segmentation.operators.export_jobs import AEPExportAudienceOperator
from airflow_provider_segmentation.operators.segment_jobs import AEPRunSegmentJobOperator
with DAG("d", schedule=[aep_schedule_asset("prod", "s1")], start_date=datetime(2026, 1, 1)) as dag:
    AEPRunSegmentJobOperator(task_id="run", segment_ids=["a"]) >> AEPExportAudienceOperator(
        task_id="export", segment_ids=["a"], dataset_id="d1", sandbox="prod"
    )
from tests.compat import serialize_dag
serialize_dag(dag)
assert dag.get_task("export").outlets == [aep_dataset_asset("prod", "d1")]
assert not [m for m in sys.modules if m.startswith(("openlineage", "airflow_provider_segmentation.lineage"))]
"""
    root = Path(__file__).resolve().parents[2]  # where `tests.compat` imports from
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, cwd=root)
