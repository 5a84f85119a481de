"""``AEPJobTrigger``: waits in the triggerer for a segment job, export job, estimate or scheduled run.

Async all the way through the hook's async twins (one ``httpx`` client per trigger run, one token per
triggerer process from the shared cache). Transient poll errors are retried within a budget and end,
at worst, in a ``poll_error`` event, never in "failed": only AEP's own status says a job failed. A
wall-clock ``deadline`` (epoch seconds) travels with the trigger; past it the event is ``timeout``.
``on_kill`` (Airflow 3.3+) cancels the job when a user kills the deferred task.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_segmentation.client.config import RetrySettings
from airflow_provider_segmentation.client.errors import (
    AEPAuthError,
    AEPConnectionError,
    AEPError,
    AEPJobCancelledError,
    AEPJobFailedError,
    AEPRateLimitError,
    AEPServerError,
)
from airflow_provider_segmentation.client.waiting import Outcome, job_outcome
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.models import Estimate, ExportJob, SegmentJob

KINDS = ("segment_job", "export_job", "estimate", "scheduled_segment_job")
EVENT_STATUSES = ("success", "failed", "cancelled", "timeout", "poll_error")
TRANSIENT = (AEPServerError, AEPRateLimitError, AEPConnectionError, AEPAuthError)
CANCELLABLE = ("segment_job", "export_job")


class AEPJobTrigger(BaseTrigger):
    """Poll one AEP job until it is terminal, the deadline passes, or polling keeps failing.

    :param kind: ``segment_job``, ``export_job``, ``estimate`` (``job_id`` is the preview id) or
        ``scheduled_segment_job`` (``job_id`` is the schedule id; waits for its run created in
        [``window_start``, ``window_end``))
    :param deadline: wall-clock deadline, epoch seconds
    :param poll_error_budget: consecutive transient poll errors tolerated before a ``poll_error`` event
    """

    def __init__(
        self,
        *,
        kind: str,
        job_id: str,
        aep_conn_id: str = "aep_default",
        sandbox: str | None = None,
        poll_interval: float = 30.0,
        deadline: float | None = None,
        poll_error_budget: int = 10,
        cancel_on_kill: bool = True,
        window_start: float | None = None,
        window_end: float | None = None,
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        self.kind = kind
        self.job_id = str(job_id)
        self.aep_conn_id = aep_conn_id
        self.sandbox = sandbox
        self.poll_interval = poll_interval
        self.deadline = deadline
        self.poll_error_budget = poll_error_budget
        self.cancel_on_kill = cancel_on_kill
        self.window_start = window_start
        self.window_end = window_end

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "kind": self.kind,
                "job_id": self.job_id,
                "aep_conn_id": self.aep_conn_id,
                "sandbox": self.sandbox,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "poll_error_budget": self.poll_error_budget,
                "cancel_on_kill": self.cancel_on_kill,
                "window_start": self.window_start,
                "window_end": self.window_end,
            },
        )

    def _hook(self) -> SegmentationHook:
        # One attempt per poll: the poll-error budget, spaced by poll_interval, does the retrying.
        return SegmentationHook(
            aep_conn_id=self.aep_conn_id, sandbox=self.sandbox, retry=RetrySettings(max_attempts=1)
        )

    async def _fetch(self, hook: SegmentationHook) -> SegmentJob | ExportJob | Estimate | None:
        if self.kind == "segment_job":
            return await hook.aget_segment_job(self.job_id)
        if self.kind == "export_job":
            return await hook.aget_export_job(self.job_id)
        if self.kind == "estimate":
            return await hook.aget_estimate(self.job_id)
        return await self._scheduled_run(hook)

    async def _scheduled_run(self, hook: SegmentationHook) -> SegmentJob | None:
        """The newest run of the schedule created inside the window, if there is one yet."""
        async for job in hook.alist_segment_jobs(property_filter=f"properties.scheduleId=={self.job_id}"):
            created = job.created_at.timestamp() if job.created_at else 0.0
            if (self.window_start is None or created >= self.window_start) and (
                self.window_end is None or created < self.window_end
            ):
                return job
        return None

    def _event(self, status: str, message: str, job: Any = None) -> TriggerEvent:
        payload = {
            "status": status,
            "kind": self.kind,
            "job_id": self.job_id,
            "message": message,
            "job": job.to_json() if job is not None else None,
        }
        return TriggerEvent(payload)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        errors_in_a_row = 0
        # Spread the first polls of triggers deferred at the same moment over a fraction of the interval.
        await asyncio.sleep(random.uniform(0, min(self.poll_interval, 5.0) / 2))
        async with self._hook() as hook:
            while True:
                job = None
                try:
                    job = await self._fetch(hook)
                    errors_in_a_row = 0
                    if job is not None and job_outcome(job, ident=self.job_id) is Outcome.SUCCEEDED:
                        yield self._event("success", f"{self.kind} {self.job_id} succeeded", job)
                        return
                except AEPJobCancelledError as exc:
                    yield self._event("cancelled", str(exc), job)
                    return
                except AEPJobFailedError as exc:
                    yield self._event("failed", str(exc), job)
                    return
                except TRANSIENT as exc:
                    errors_in_a_row += 1
                    self.log.warning(
                        "Polling %s %s failed (%d/%d): %s",
                        self.kind,
                        self.job_id,
                        errors_in_a_row,
                        self.poll_error_budget,
                        exc,
                    )
                    if errors_in_a_row > self.poll_error_budget:
                        yield self._event(
                            "poll_error", f"polling failed {errors_in_a_row} times in a row: {exc}"
                        )
                        return
                except AEPError as exc:  # 404, 400: the job cannot be watched; not a job failure
                    yield self._event("poll_error", f"cannot poll {self.kind} {self.job_id}: {exc}")
                    return
                if self.deadline is not None and time.time() + self.poll_interval > self.deadline:
                    status = getattr(job, "status", None) or getattr(job, "state", None)
                    yield self._event(
                        "timeout",
                        f"{self.kind} {self.job_id} still {getattr(status, 'value', status)} "
                        f"at the deadline {datetime.fromtimestamp(self.deadline, timezone.utc)}",
                        job,
                    )
                    return
                # +-10 % jitter keeps hundreds of triggers started together from polling in lockstep
                await asyncio.sleep(self.poll_interval * random.uniform(0.9, 1.1))

    async def on_kill(self) -> None:
        """A user killed the deferred task: cancel the AEP job (best effort, logged)."""
        if not self.cancel_on_kill or self.kind not in CANCELLABLE:
            return
        try:
            async with self._hook() as hook:
                if self.kind == "segment_job":
                    await hook.acancel_segment_job(self.job_id)
                else:
                    await hook.acancel_export_job(self.job_id)
            self.log.info("Cancelled %s %s because the task was killed", self.kind, self.job_id)
        except AEPError as exc:
            self.log.warning("Could not cancel %s %s: %s", self.kind, self.job_id, exc)


def validate_event(event: Any, *, kind: str) -> dict[str, Any]:
    """The trigger's event as a dict, or a clear error for a missing, foreign or unknown event."""
    if not isinstance(event, dict):
        raise AEPError(
            f"the trigger returned no event for the {kind} (got {event!r}); the task cannot tell how "
            "the job ended: check it in AEP and clear the task to retry"
        )
    if event.get("status") not in EVENT_STATUSES:
        raise AEPError(
            f"the trigger returned an unknown status {event.get('status')!r} for the {kind}; "
            f"expected one of {', '.join(EVENT_STATUSES)}"
        )
    if event.get("kind") != kind or not event.get("job_id"):
        raise AEPError(
            f"the trigger event is for {event.get('kind')!r} {event.get('job_id')!r}, not a {kind}"
        )
    return event
