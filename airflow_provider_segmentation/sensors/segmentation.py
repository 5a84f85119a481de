"""Sensors for jobs something else started: a segment job, an export job, a schedule's daily run.

Each works in ``poke`` or ``reschedule`` mode, or ``deferrable=True`` (the ``AEPJobTrigger``). A job
that AEP reports FAILED or CANCELLED fails the sensor at once instead of poking until the timeout.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any

from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue

from airflow_provider_segmentation.compat import conf
from airflow_provider_segmentation.hooks.segmentation import (
    AEPValidationError,
    Outcome,
    SegmentationHook,
    check_task_sandbox,
    first_run_since,
    job_outcome,
    positive_seconds,
    status_of,
)
from airflow_provider_segmentation.triggers.segmentation import (
    AEPJobTrigger,
    event_from_trigger,
    raise_for_event,
)


class _AEPSensor(BaseSensorOperator):
    kind: str = ""

    def __init__(
        self,
        *,
        aep_conn_id: str = "aep_default",
        sandbox: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        self.sandbox = check_task_sandbox(sandbox)
        self.deferrable = deferrable
        # every poke (or trigger poll) is a GET to AEP: zero would spin
        positive_seconds(float(self.poke_interval), field_name="poke_interval")

    @cached_property
    def hook(self) -> SegmentationHook:
        return SegmentationHook(aep_conn_id=self.aep_conn_id, sandbox=self.sandbox)

    def watched_id(self, context: Context) -> str:
        raise NotImplementedError

    def trigger_kwargs(self, context: Context) -> dict[str, Any]:
        return {}

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        done = self.poke(context)
        if isinstance(done, PokeReturnValue) and done.is_done:
            return done.xcom_value
        timeout = self.timeout.total_seconds() if isinstance(self.timeout, timedelta) else float(self.timeout)
        self.defer(
            trigger=AEPJobTrigger(
                kind=self.kind,
                job_id=self.watched_id(context),
                aep_conn_id=self.aep_conn_id,
                sandbox=self.sandbox,
                poll_interval=float(self.poke_interval),
                deadline=time.time() + timeout,
                cancel_on_kill=False,
                **self.trigger_kwargs(context),
            ),
            method_name="execute_complete",
            timeout=None,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        job_event = event_from_trigger(event, kind=self.kind)
        not_ours = "the sensor does not cancel jobs it did not start"
        raise_for_event(job_event, on_timeout=not_ours, on_poll_error=not_ours)
        assert job_event.job_id is not None
        return self.summarize(job_event.job_id)

    def summarize(self, job_id: str) -> Any:
        """The sensor's XCom value for the job that succeeded (read once more after a deferral)."""
        raise NotImplementedError


class AEPSegmentJobSensor(_AEPSensor):
    """Wait until a segment job succeeds; returns its summary (counts per segment)."""

    template_fields: Sequence[str] = ("job_id", "sandbox")
    kind = "segment_job"

    def __init__(self, *, job_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id

    def watched_id(self, context: Context) -> str:
        return str(self.job_id)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        job = self.hook.get_segment_job(self.job_id)
        if job_outcome(job, ident=self.job_id) is Outcome.SUCCEEDED:
            return PokeReturnValue(True, job.summary())
        self.log.info("Segment job %s is %s", self.job_id, job.status.value)
        return False

    def summarize(self, job_id: str) -> Any:
        return self.hook.get_segment_job(job_id).summary()


class AEPExportJobSensor(_AEPSensor):
    """Wait until an export job succeeds; returns its id, batches and exported profile count."""

    template_fields: Sequence[str] = ("job_id", "sandbox")
    kind = "export_job"

    def __init__(self, *, job_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id

    def watched_id(self, context: Context) -> str:
        return str(self.job_id)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        job = self.hook.get_export_job(self.job_id)
        if job_outcome(job, ident=str(self.job_id)) is Outcome.SUCCEEDED:
            return PokeReturnValue(True, job.summary())
        return False

    def summarize(self, job_id: str) -> Any:
        return self.hook.get_export_job(job_id).summary()


class AEPScheduledSegmentJobSensor(_AEPSensor):
    """Wait until the run of schedule ``schedule_id`` that belongs to this DAG run has succeeded.

    That run is the schedule's first segment job (``properties.scheduleId == schedule_id``) created at
    or after the start of this DAG run's data interval. A DAG scheduled after AEP's nightly run (say
    02:00 for a 01:00 schedule) therefore finds that night's run at once, and a run whose schedule was
    created after the interval started (e.g. the first run of a DAG that creates the schedule) waits for
    the schedule's next run instead of for one that can never exist. A manual run has no data interval
    in Airflow 3: its window starts ``lookback`` (default one day) before the run was triggered, so a
    manual run reports the latest nightly run, or waits for the next one.
    """

    template_fields: Sequence[str] = ("schedule_id", "sandbox")
    kind = "scheduled_segment_job"

    def __init__(self, *, schedule_id: str, lookback: timedelta = timedelta(days=1), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(lookback, timedelta) or lookback < timedelta(0):
            raise AEPValidationError(
                f"lookback must be a non-negative timedelta, got {lookback!r}", field="lookback"
            )
        self.schedule_id = schedule_id
        self.lookback = lookback

    def watched_id(self, context: Context) -> str:
        return str(self.schedule_id)

    def window_start(self, context: Context) -> float:
        start: datetime | None = context.get("data_interval_start")
        if start is None:
            dag_run = context.get("dag_run")
            triggered = getattr(dag_run, "run_after", None) or context.get("logical_date")
            start = (triggered or datetime.now(timezone.utc)) - self.lookback
        return start.timestamp()

    def trigger_kwargs(self, context: Context) -> dict[str, Any]:
        return {"window_start": self.window_start(context)}

    def poke(self, context: Context) -> bool | PokeReturnValue:
        runs = self.hook.list_segment_jobs(property_filter=f"properties.scheduleId=={self.schedule_id}")
        run = first_run_since(runs, self.window_start(context))
        if run is None:
            self.log.info("Schedule %s has no run in this window yet", self.schedule_id)
            return False
        if job_outcome(run, ident=str(run.id)) is Outcome.SUCCEEDED:
            return PokeReturnValue(True, run.summary())
        self.log.info("Scheduled run %s of schedule %s is %s", run.id, self.schedule_id, status_of(run))
        return False

    def summarize(self, job_id: str) -> Any:
        return self.hook.get_segment_job(job_id).summary()
