# mypy: disable-error-code="arg-type"
"""The audience pipeline: define audiences as code, gate on size, evaluate, export, report.

1. Upsert three segment definitions from PQL (a rerun updates them, never duplicates them).
2. Estimate the flagship audience and stop the run if its size is outside the expected band.
3. Evaluate them. By default the pipeline rides the sandbox's nightly batch evaluation (its active
   ``batch_segmentation`` schedule, which spends none of AEP's on-demand allowance): it waits until the
   nightly run of the last day has succeeded. With the param ``evaluate_now`` it spends one on-demand
   run instead (AEP allows 2 a day and 50 a year in a production sandbox): one segment job for all
   three, waiting in the triggerer (deferrable).
4. Check each audience's size against its history in AEP (the median of its last 7 evaluations): a
   drop of more than half, as a broken ingestion makes, stops the run before anything is exported.
5. Export the members of each audience into a dataset on the Profile union schema.
6. Log a summary table.

Runs unchanged against the local emulator (``make demo``) or a real AEP sandbox: set the
``aep_default`` connection and the ``dataset_id`` param (or ``AEP_EXPORT_DATASET_ID``). The param is
required and checked when a run is triggered (the client's id rule: not empty, no ``/``, ``?``, ``#``
or surrounding spaces): a run without a valid dataset id is refused before any segment job runs.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from airflow_provider_segmentation.client import ID_PATTERN
from airflow_provider_segmentation.operators.export_jobs import AEPExportAudienceOperator
from airflow_provider_segmentation.operators.previews import AEPEstimateAudienceOperator
from airflow_provider_segmentation.operators.segment_definitions import AEPUpsertSegmentDefinitionOperator
from airflow_provider_segmentation.operators.segment_jobs import AEPRunSegmentJobOperator
from airflow_provider_segmentation.operators.size_check import AEPCheckAudienceSizeOperator
from airflow_provider_segmentation.sensors.segmentation import AEPScheduledSegmentJobSensor

POLL_INTERVAL = float(os.environ.get("AEP_DEMO_POLL_INTERVAL", "30"))

AUDIENCES = {
    "us_loyalists": (
        "US gold and platinum loyalty members",
        'homeAddress.countryCode = "US" and loyalty.tier in ["gold", "platinum"]',
    ),
    "recent_buyers": (
        "Purchased in the last 30 days",
        'exists X from xEvent where (X.eventType = "commerce.purchases" '
        "and X.timestamp occurs <= 30 days before now)",
    ),
    "engaged_no_purchase": (
        "Clicked an email in the last 14 days, no purchase in 90 days",
        'exists E from xEvent where (E.eventType = "directMarketing.emailClicked" '
        "and E.timestamp occurs <= 14 days before now) "
        'and not (exists P from xEvent where (P.eventType = "commerce.purchases"))',
    ),
}


@dag(
    dag_id="aep_audience_pipeline",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["adobe", "aep", "segmentation", "example"],
    params={
        "dataset_id": Param(
            os.environ.get("AEP_EXPORT_DATASET_ID", ""),
            type="string",
            pattern=ID_PATTERN,  # the client's dataset id check, at trigger time: not empty, no "/"...
            description="Dataset (Profile union schema) that receives the exported members: its id as "
            "AEP shows it (no '/', '?', '#', spaces around it)",
        ),
        "evaluate_now": Param(
            False,
            type="boolean",
            description="Spend an on-demand evaluation run now (AEP: 2 a day, 50 a year in production) "
            "instead of exporting after the sandbox's nightly batch evaluation",
        ),
    },
    doc_md=__doc__,
)
def aep_audience_pipeline() -> None:
    upserts = [
        AEPUpsertSegmentDefinitionOperator(
            task_id=f"upsert_{key}",
            name=f"[airflow demo] {name}",
            expression=expression,
            description="Managed by the aep_audience_pipeline DAG",
            if_exists="update",
        )
        for key, (name, expression) in AUDIENCES.items()
    ]

    size_gate = AEPEstimateAudienceOperator(
        task_id="estimate_us_loyalists",
        expression=AUDIENCES["us_loyalists"][1],
        min_size=1,
        max_size=1_000_000,
        poll_interval=POLL_INTERVAL,
    )

    @task
    def collect_segment_ids(definitions: list[dict[str, Any]]) -> list[str]:
        return [definition["id"] for definition in definitions]

    definitions = [upsert.output for upsert in upserts]
    segment_ids = collect_segment_ids(definitions)

    @task.branch
    def how_to_evaluate() -> str:
        now = bool(get_current_context()["params"].get("evaluate_now"))
        return "evaluate_audiences" if now else "wait_for_nightly_evaluation"

    branch = how_to_evaluate()

    nightly = AEPScheduledSegmentJobSensor(
        task_id="wait_for_nightly_evaluation",  # the sandbox's active batch_segmentation schedule
        deferrable=True,
        poke_interval=POLL_INTERVAL,
        timeout=int(timedelta(hours=30).total_seconds()),
    )

    evaluate = AEPRunSegmentJobOperator(
        task_id="evaluate_audiences",
        segment_ids=segment_ids,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=1800,
    )

    check_sizes = AEPCheckAudienceSizeOperator(
        trigger_rule="none_failed_min_one_success",  # after whichever evaluation ran
        task_id="check_sizes",
        segment_ids=segment_ids,  # the newest evaluation in AEP against the ones before it
        window=7,
        min_history=3,
        max_drop=0.5,
        max_rise=1.0,
        min_abs_change=50,  # small audiences move by a few profiles a day: never an anomaly
    )

    export = AEPExportAudienceOperator(
        trigger_rule="none_failed_min_one_success",  # after whichever evaluation ran
        task_id="export_members",
        segment_ids=segment_ids,
        dataset_id="{{ params.dataset_id }}",
        fields="identityMap,person.name,personalEmail.address,homeAddress.countryCode",
        segment_per_batch=True,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=1800,
    )

    @task(trigger_rule="none_failed_min_one_success")
    def summarize(
        definitions: list[dict[str, Any]],
        estimate: dict[str, Any],
        sizes: list[dict[str, Any]],
        exported: dict[str, Any],
    ) -> dict[str, Any]:
        """Print what a person wants to see: audiences and sizes, the job, and what was exported."""
        pulled = get_current_context()["ti"].xcom_pull(
            task_ids=["evaluate_audiences", "wait_for_nightly_evaluation"]
        )
        job: dict[str, Any] = next(j for j in pulled if j)  # the one evaluation that ran
        counts = job.get("segment_counts", {})
        rows = [("audience", "segment id", "realized", "existing", "exited", "exported")]
        for definition in definitions:
            seg = counts.get(definition["id"], {})
            exported_members = seg.get("realized", 0) + seg.get("existing", 0)  # the export's status filter
            statuses = [str(seg.get(status, 0)) for status in ("realized", "existing", "exited")]
            rows.append((definition["name"], definition["id"], *statuses, str(exported_members)))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        table = "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows
        )
        print(
            "=== AEP audience pipeline summary ===\n"
            f"{table}\n"
            f"size gate: estimated {estimate['estimated_size']} US loyalists\n"
            f"segment job {job['job_id']}: {job['status']} in {job.get('duration_seconds') or 0:.1f} s, "
            f"{job.get('total_profiles', 0)} profiles evaluated\n"
            + "".join(f"size check: {verdict['message']}\n" for verdict in sizes)
            + f"export job {exported['job_id']}: {exported['status']}, "
            f"{exported['exported_profiles']} distinct profiles into dataset {exported['dataset_id']} "
            f"({len(exported['batch_ids'])} batches)\n"
            "=== end of summary ==="
        )
        return {"definitions": definitions, "estimate": estimate, "segment_job": job, "export": exported}

    upserts >> size_gate >> branch >> [evaluate, nightly] >> check_sizes >> export
    summarize(definitions, size_gate.output, check_sizes.output, export.output)


aep_audience_pipeline()
