# mypy: disable-error-code="arg-type"
"""Schedules: keep a daily evaluation schedule as code, activate it, wait for its nightly run.

1. Create the "nightly audiences" schedule, or align the existing one (cron 01:00 UTC, active).
2. Wait (deferred) until the schedule's first run in this DAG run's window has succeeded, then report
   it. Airflow 3 gives the runs of a cron-string DAG no data interval (start == end == the run's time),
   so the window starts one day (the sensor's ``lookback``) before the run:

   * daily, at 02:00 UTC: the window opens at 02:00 the day before, so that night's 01:00 run is found
     at once (never the next night's);
   * on unpause (``catchup=False``: the latest 02:00 run starts at once): the upsert has just created
     the schedule, none of its runs can be in the window, so the sensor waits for its next run (the
     coming 01:00, within the 30 h timeout); if the schedule already existed, that night's run is found;
   * on a manual run: the schedule's first run of the last 24 hours (last night's), or its next run if
     there is none yet.

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
    max_active_runs=1,  # two runs at once would both upsert the schedule
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
