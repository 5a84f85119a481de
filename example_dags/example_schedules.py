# mypy: disable-error-code="arg-type"
"""Schedules: keep a daily evaluation schedule as code, activate it, wait for today's scheduled run.

1. Create the "nightly audiences" schedule, or align the existing one (cron 01:00 UTC, active).
2. Wait (deferred) until the schedule's run for this data interval has succeeded, then report it.

``AEP_SCHEDULE_CRON`` overrides the cron; the emulator fires schedules on their cron like AEP does.
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
    schedule="@daily",
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
        grace_period=timedelta(hours=6),
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
