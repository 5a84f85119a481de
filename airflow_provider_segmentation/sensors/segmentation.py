"""Sensors for jobs something else started: a segment job, an export job, a schedule's daily run.

Each works in ``poke`` or ``reschedule`` mode, or ``deferrable=True`` (the ``AEPJobTrigger``). A job
that AEP reports FAILED or CANCELLED fails the sensor at once instead of poking until the timeout.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from airflow.configuration import conf
from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_segmentation.client.errors import AEPError, AEPJobCancelledError, AEPJobFailedError
from airflow_provider_segmentation.client.waiting import Outcome, job_outcome
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.models import ExportJob, SegmentJob
from airflow_provider_segmentation.operators.segment_jobs import segment_job_summary
from airflow_provider_segmentation.triggers.segmentation import AEPJobTrigger, validate_event


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
        self.sandbox = sandbox
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> SegmentationHook:
        return SegmentationHook(aep_conn_id=self.aep_conn_id, sandbox=self.sandbox or None)

    def watched_id(self, context: Any) -> str:
        raise NotImplementedError

    def trigger_kwargs(self, context: Any) -> dict[str, Any]:
        return {}

    def execute(self, context: Any) -> Any:
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
                sandbox=self.sandbox or None,
                poll_interval=float(self.poke_interval),
                deadline=time.time() + timeout,
                cancel_on_kill=False,
                **self.trigger_kwargs(context),
            ),
            method_name="execute_complete",
            timeout=None,
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        event = validate_event(event, kind=self.kind)
        if event["status"] == "success":
            return self.summarize(event["job"])
        errors = (event.get("job") or {}).get("errors") or []
        if event["status"] == "failed":
            raise AEPJobFailedError(event["message"], errors=errors)
        if event["status"] == "cancelled":
            raise AEPJobCancelledError(event["message"], errors=errors)
        raise AEPError(f"{event['message']} (the sensor does not cancel jobs it did not start)")

    def summarize(self, job: dict[str, Any]) -> Any:
        return job


class AEPSegmentJobSensor(_AEPSensor):
    """Wait until a segment job succeeds; returns its summary (counts per segment)."""

    template_fields: Sequence[str] = ("job_id", "sandbox")
    kind = "segment_job"

    def __init__(self, *, job_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id

    def watched_id(self, context: Any) -> str:
        return str(self.job_id)

    def poke(self, context: Any) -> bool | PokeReturnValue:
        job = self.hook.get_segment_job(self.job_id)
        if job_outcome(job, ident=self.job_id) is Outcome.SUCCEEDED:
            return PokeReturnValue(True, segment_job_summary(job))
        self.log.info("Segment job %s is %s", self.job_id, getattr(job.status, "value", job.status))
        return False

    def summarize(self, job: dict[str, Any]) -> Any:
        return segment_job_summary(SegmentJob.model_validate(job))


class AEPExportJobSensor(_AEPSensor):
    """Wait until an export job succeeds; returns its id, batches and exported profile count."""

    template_fields: Sequence[str] = ("job_id", "sandbox")
    kind = "export_job"

    def __init__(self, *, job_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id

    def watched_id(self, context: Any) -> str:
        return str(self.job_id)

    def _summary(self, job: ExportJob) -> dict[str, Any]:
        destination = job.destination
        return {
            "job_id": job.id,
            "status": getattr(job.status, "value", job.status),
            "batch_ids": destination.batch_ids if destination else [],
            "exported_profiles": job.exported_profiles,
        }

    def poke(self, context: Any) -> bool | PokeReturnValue:
        job = self.hook.get_export_job(self.job_id)
        if job_outcome(job, ident=str(self.job_id)) is Outcome.SUCCEEDED:
            return PokeReturnValue(True, self._summary(job))
        return False

    def summarize(self, job: dict[str, Any]) -> Any:
        return self._summary(ExportJob.model_validate(job))


class AEPScheduledSegmentJobSensor(_AEPSensor):
    """Wait until the run of schedule ``schedule_id`` for this data interval has succeeded.

    The run is the newest segment job with ``properties.scheduleId == schedule_id`` created in
    [``data_interval_start``, ``data_interval_end + grace_period``); AEP starts a scheduled run at the
    cron time in UTC, so the grace period covers a run that fires at the very end of the interval.
    """

    template_fields: Sequence[str] = ("schedule_id", "sandbox")
    kind = "scheduled_segment_job"

    def __init__(
        self, *, schedule_id: str, grace_period: timedelta = timedelta(hours=6), **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.schedule_id = schedule_id
        self.grace_period = grace_period

    def watched_id(self, context: Any) -> str:
        return str(self.schedule_id)

    def _window(self, context: Any) -> tuple[float, float]:
        start: datetime = context["data_interval_start"]
        end: datetime = context["data_interval_end"]
        return start.timestamp(), (end + self.grace_period).timestamp()

    def trigger_kwargs(self, context: Any) -> dict[str, Any]:
        start, end = self._window(context)
        return {"window_start": start, "window_end": end}

    def poke(self, context: Any) -> bool | PokeReturnValue:
        start, end = self._window(context)
        for job in self.hook.list_segment_jobs(property_filter=f"properties.scheduleId=={self.schedule_id}"):
            created = job.created_at.timestamp() if job.created_at else 0.0
            if start <= created < end:
                if job_outcome(job, ident=job.id) is Outcome.SUCCEEDED:
                    return PokeReturnValue(True, segment_job_summary(job))
                self.log.info("Scheduled run %s of schedule %s is %s", job.id, self.schedule_id, job.status)
                return False
        self.log.info("Schedule %s has no run in this data interval yet", self.schedule_id)
        return False

    def summarize(self, job: dict[str, Any]) -> Any:
        return segment_job_summary(SegmentJob.model_validate(job))
