# mypy: disable-error-code="arg-type"
"""Schedules: keep a daily evaluation schedule as code, activate it, wait for its nightly run.

1. Create the "nightly audiences" schedule, or align the existing one (cron 01:00 UTC, active).
2. Wait (deferred) until the schedule's first run since this DAG run's data interval started has
   succeeded, then report it. The DAG runs at 02:00 UTC, after AEP's 01:00 run, so in steady state that
   night's run is found at once. The very first run (on unpause, with the schedule just created) waits
   for the schedule's next run instead of for one that cannot exist; a manual run (no data interval)
   reports the run of the last day, or waits for the next one.

``AEP_SCHEDULE_CRON`` overrides the cron (e.g. ``0 * * * * ?``, every minute, on the emulator, which
fires schedules on their cron like AEP does); ``AEP_DEMO_POLL_INTERVAL`` the poll interval in seconds.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import dag, task

from airflow_provider_segmentation.operators.schedules import AEPUpsertScheduleOperator
from airflow_provider_segmentation.sensors.segmentation import AEPScheduledSegmentJobSensor

POLL_INTERVAL = float(os.environ.get("AEP_DEMO_POLL_INTERVAL", "300"))


@dag(
    dag_id="aep_daily_schedule",
    schedule="0 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["adobe", "aep", "segmentation", "example"],
    doc_md=__doc__,
)
def aep_daily_schedule() -> None:
    schedule = AEPUpsertScheduleOperator(
        task_id="upsert_schedule",
        name="nightly audiences",
        cron=os.environ.get("AEP_SCHEDULE_CRON", "0 0 1 * * ?"),
        segments=["*"],
        state="active",
    )

    todays_run = AEPScheduledSegmentJobSensor(
        task_id="wait_for_scheduled_run",
        schedule_id="{{ ti.xcom_pull(task_ids='upsert_schedule')['id'] }}",
        deferrable=True,
        poke_interval=POLL_INTERVAL,
        timeout=int(timedelta(hours=30).total_seconds()),
    )

    @task
    def report(run: dict[str, Any]) -> None:
        for segment_id, counts in run["segment_counts"].items():
            new, gone = counts["realized"], counts["exited"]
            print(f"{segment_id}: {counts['total']} profiles ({new} new, {gone} exited)")

    schedule >> todays_run
    report(todays_run.output)


aep_daily_schedule()
