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

To see it fire within minutes (the emulator, or a sandbox you try things in), set
``AEP_SCHEDULE_IN_MINUTES`` (e.g. ``3``): each run then sets the schedule's cron to that many minutes after
the run's upsert, still once a day as AEP requires, so the schedule's runs, and the DAGs scheduled on them
(``example_audience_asset.py``), come once a day, never every minute. ``AEP_SCHEDULE_CRON`` sets another
fixed Quartz cron (at most once a day: AEP and the emulator refuse more); ``AEP_DEMO_POLL_INTERVAL`` the
poll interval in seconds.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import dag, task

from airflow_provider_segmentation.operators.schedules import AEPUpsertScheduleOperator
from airflow_provider_segmentation.sensors.segmentation import AEPScheduledSegmentJobSensor

POLL_INTERVAL = float(os.environ.get("AEP_DEMO_POLL_INTERVAL", "300"))
SCHEDULE_CRON = os.environ.get("AEP_SCHEDULE_CRON", "0 0 1 * * ?")  # 01:00 UTC daily
IN_MINUTES = os.environ.get("AEP_SCHEDULE_IN_MINUTES", "")


def daily_cron(in_minutes: str, fixed: str, now: datetime | None = None) -> str:
    """The Quartz cron of the schedule: ``fixed``, or, when ``in_minutes`` is set, daily at the minute that
    many minutes from ``now`` (UTC), so a first run comes soon and the next ones a day apart."""
    if not in_minutes:
        return fixed
    minutes = int(in_minutes)
    if not 1 <= minutes <= 1440:
        raise ValueError(f"AEP_SCHEDULE_IN_MINUTES={in_minutes!r}: use a number of minutes from 1 to 1440")
    at = (now or datetime.now(timezone.utc)) + timedelta(minutes=minutes)
    return f"0 {at.minute} {at.hour} * * ?"


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
    @task
    def schedule_cron() -> str:
        return daily_cron(IN_MINUTES, SCHEDULE_CRON)

    schedule = AEPUpsertScheduleOperator(
        task_id="upsert_schedule",
        name="nightly audiences",
        cron=schedule_cron(),
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
