# mypy: disable-error-code="arg-type"
"""Event-driven audiences: no sensor, no polling DAG, just assets.

* ``aep_nightly_audience_export`` is scheduled on the runs of AEP's nightly evaluation schedule (the
  "nightly audiences" schedule that ``aep_daily_schedule`` keeps as code). The triggerer watches the
  schedule (``AEPJobFinishedTrigger`` in an ``AssetWatcher``); when a run finishes, this DAG exports the
  audiences that the run evaluated into the dataset ``AEP_EXPORT_DATASET_ID``.
* The export task declares the dataset's asset (``aep://<sandbox>/datasets/<id>``) and emits an event
  on it with the export job id, the audiences and the number of profiles exported.
* ``aep_audience_landed`` is scheduled on that dataset asset: it runs when members of the audiences
  landed in the dataset, whoever exported them through Airflow (this DAG or ``aep_audience_pipeline``).

Environment: ``AEP_EXPORT_DATASET_ID`` (the dataset; default: the emulator's), ``AEP_SANDBOX``
(default ``prod``), ``AEP_WATCH_SCHEDULE_NAME`` (default ``nightly audiences``) and
``AEP_DEMO_POLL_INTERVAL`` (seconds between the watcher's polls and the export's; default 60).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.sdk import dag, task

from airflow_provider_segmentation.assets import aep_dataset_asset, aep_schedule_asset
from airflow_provider_segmentation.compat import AirflowSkipException
from airflow_provider_segmentation.operators.export_jobs import AEPExportAudienceOperator

SANDBOX = os.environ.get("AEP_SANDBOX", "prod")
DATASET_ID = os.environ.get("AEP_EXPORT_DATASET_ID") or "65a1b2c3d4e5f60718293a4b"  # the emulator's
POLL_INTERVAL = float(os.environ.get("AEP_DEMO_POLL_INTERVAL", "60"))

NIGHTLY_RUNS = aep_schedule_asset(
    SANDBOX,
    schedule_name=os.environ.get("AEP_WATCH_SCHEDULE_NAME", "nightly audiences"),
    poll_interval=POLL_INTERVAL,
)
LANDED = aep_dataset_asset(SANDBOX, DATASET_ID)


@dag(
    dag_id="aep_nightly_audience_export",
    schedule=[NIGHTLY_RUNS],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["adobe", "aep", "segmentation", "example", "assets"],
    doc_md=__doc__,
)
def aep_nightly_audience_export() -> None:
    @task
    def audiences_of_the_run(triggering_asset_events: Any = None) -> list[str]:
        """The audiences the finished scheduled run(s) evaluated (the trigger's event payload)."""
        runs = [event.extra.get("payload", {}) for event in triggering_asset_events[NIGHTLY_RUNS]]
        for run in runs:
            evaluated = len(run.get("segment_ids", []))
            print(f"scheduled run {run.get('job_id')} {run.get('status')}: {evaluated} audiences")
        segment_ids = sorted({s for run in runs for s in run.get("segment_ids", [])})
        if not segment_ids:
            raise AirflowSkipException("the scheduled run evaluated no audience: nothing to export")
        return segment_ids

    AEPExportAudienceOperator(
        task_id="export_audiences",
        segment_ids=audiences_of_the_run(),
        dataset_id=DATASET_ID,
        sandbox=SANDBOX,  # sandbox and dataset known here: the task declares LANDED as its outlet
        fields="identityMap,personalEmail.address",
        poll_interval=POLL_INTERVAL,
        timeout=3600,
    )


@dag(
    dag_id="aep_audience_landed",
    schedule=[LANDED],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["adobe", "aep", "segmentation", "example", "assets"],
    doc_md=__doc__,
)
def aep_audience_landed() -> None:
    @task
    def report(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        """One line per export that landed: what activation, QA or a warehouse load would start from."""
        exports = [dict(event.extra) for event in triggering_asset_events[LANDED]]
        for export in exports:
            print(
                f"export job {export.get('job_id')}: {export.get('exported_profiles')} profiles of "
                f"{len(export.get('segment_ids', []))} audiences landed in dataset {export.get('dataset_id')}"
            )
        return exports

    report()


aep_nightly_audience_export()
aep_audience_landed()
