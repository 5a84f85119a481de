"""What every operator and sensor of this provider shares: the connection's hook, and for those that wait
for an AEP job, deferring to ``AEPJobTrigger`` and reading its ``JobEvent`` back.

A job-running operator owns its job (``owns_job = True``): a deadline that passes while deferred, a
timeout or a kill cancels it. A sensor watches a job that something else started and never cancels it.
Written once here (as Databricks' ``utils/mixins.py`` does) so that operators and sensors cannot drift
apart, and so that sensors never import an operator module.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow_provider_segmentation.client import (
    AEPError,
    AEPJobCancelledError,
    AEPJobFailedError,
    AEPTimeoutError,
    AEPValidationError,
    validate_sandbox,
)
from airflow_provider_segmentation.kinds import JobKind

# Only light modules above: a DAG file imports this through every operator and sensor, and the hook, the
# client and the models are needed only when a task runs (imported there; tests/airflow guards it).
if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context

    from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
    from airflow_provider_segmentation.models import JobEvent

    _Task = BaseOperator  # the mixins are only ever mixed into operators and sensors
else:
    _Task = ABC


def is_template(value: Any) -> bool:
    """A templated argument (Jinja text or an XCom reference) is checked after rendering, not before."""
    return (isinstance(value, str) and "{{" in value) or hasattr(value, "resolve")


def check_task_sandbox(sandbox: str | None) -> str | None:
    """A task's ``sandbox`` argument: None (use the connection's), a template, or a valid name.

    This is the config's own rule (``validate_sandbox``), applied early so that a DAG with a bad literal
    sandbox fails when it is parsed; a rendered one is checked when the hook builds its config.
    """
    if sandbox is None or is_template(sandbox):
        return sandbox
    return validate_sandbox(sandbox, field_name="sandbox")


def job_age_seconds(job: Any, now: float | None = None) -> float | None:
    """How long after AEP created ``job`` it reached the status it holds: its ``updateTime`` minus its
    ``creationTime`` (both AEP's clock), else ``now`` (epoch seconds; default this host's clock) minus its
    creation. None for what has no creation time (an estimate, a schedule with no run yet)."""
    from airflow_provider_segmentation.models import epoch_to_datetime

    created = epoch_to_datetime(getattr(job, "creation_time", None))
    if created is None:
        return None
    updated = epoch_to_datetime(getattr(job, "update_time", None))
    end = updated.timestamp() if updated is not None else (time.time() if now is None else now)
    return max(0.0, end - created.timestamp())


def event_from_trigger(event: Any, *, kind: JobKind) -> JobEvent:
    """The trigger's event as a ``JobEvent`` for ``kind``, or a clear ``AEPError``."""
    from airflow_provider_segmentation.models import JobEvent

    try:
        parsed = JobEvent.from_dict(event)
    except ValueError as exc:
        raise AEPError(f"{exc}; the task cannot tell how the job ended: check it in AEP") from None
    if parsed.kind is not kind:
        raise AEPError(
            f"the trigger event is for a {parsed.kind.label} {parsed.watched_id}, not a {kind.label}"
        )
    return parsed


def raise_for_event(event: JobEvent, *, on_timeout: str, on_poll_error: str) -> None:
    """Raise what a non-success event means; the ``on_*`` words say what the caller did or advises."""
    from airflow_provider_segmentation.models import EventStatus

    if event.status is EventStatus.SUCCESS:
        return
    if event.status is EventStatus.CANCELLED:
        raise AEPJobCancelledError(event.message, errors=event.errors)
    if event.status is EventStatus.FAILED:
        raise AEPJobFailedError(event.message, errors=event.errors)
    if event.status is EventStatus.TIMEOUT:
        raise AEPTimeoutError(f"{event.message}; {on_timeout}")
    raise AEPError(f"could not watch the {event.kind.label}: {event.message}; {on_poll_error}")


class AEPHookMixin(_Task):
    """The hook of the task's connection and sandbox (a task's ``sandbox`` overrides the connection's)."""

    aep_conn_id: str
    sandbox: str | None

    @cached_property
    def hook(self) -> SegmentationHook:
        from airflow_provider_segmentation.hooks.segmentation import SegmentationHook

        return SegmentationHook(aep_conn_id=self.aep_conn_id, sandbox=self.sandbox)


class AEPJobMixin(AEPHookMixin):
    """Defer until an AEP job ends, then resume: the task's result on success, else a typed error."""

    job_kind: ClassVar[JobKind]
    owns_job: ClassVar[bool]  # the task started the job: it cancels it on a timeout or a kill
    cancel_on_kill: bool = False

    @abstractmethod
    def resume(self, context: Context, job_id: str) -> Any:
        """What the task returns once the trigger reported that job ``job_id`` succeeded."""

    def defer_to_trigger(
        self, watched_id: str, *, poll_interval: float, timeout: float, window_start: float | None = None
    ) -> NoReturn:
        """Hand the wait to the triggerer; the wall-clock deadline (now + ``timeout``) travels with it."""
        # imported here: parsing a DAG file never needs the trigger (nor Airflow's trigger machinery)
        from airflow_provider_segmentation.triggers.segmentation import AEPJobTrigger

        trigger = AEPJobTrigger(
            kind=self.job_kind,
            job_id=watched_id,
            aep_conn_id=self.aep_conn_id,
            sandbox=self.sandbox,
            poll_interval=poll_interval,
            deadline=time.time() + timeout,
            cancel_on_kill=self.owns_job and self.cancel_on_kill,
            window_start=window_start,
        )
        _, kwargs = trigger.serialize()
        try:
            json.dumps(kwargs)
        except (TypeError, ValueError) as exc:
            raise AEPValidationError(
                f"the trigger's arguments are not JSON-serializable: {exc}", field="trigger"
            ) from None
        self.defer(trigger=trigger, method_name="execute_complete", timeout=None)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        from airflow_provider_segmentation.models import EventStatus

        job_event = event_from_trigger(event, kind=self.job_kind)
        job_id = job_event.job_id or job_event.watched_id
        if self.owns_job:
            if job_event.status is EventStatus.TIMEOUT:
                self.cancel_quietly(job_id, "the deadline passed while deferred")
            on_timeout = "the job was cancelled. Raise `timeout` if it needs longer"
            on_poll_error = "the job is still in AEP; retrying the task re-attaches to it"
        else:
            on_timeout = on_poll_error = "the sensor does not cancel jobs it did not start"
        raise_for_event(job_event, on_timeout=on_timeout, on_poll_error=on_poll_error)
        return self.resume(context, job_id)

    def report_finished(self, job_id: str, job: Any) -> None:
        """After a resume from the triggerer: the one worker log line with the job's outcome."""
        from airflow_provider_segmentation.client import job_type

        line = job_type(self.job_kind).finished_line(job_id, job, age_seconds=job_age_seconds(job))
        self.log.info("%s", line)

    def cancel_quietly(self, job_id: str, reason: str) -> None:
        """Cancel the job this task started; an AEP error is logged, not raised. A sensor never cancels."""
        if not self.owns_job:
            return
        label = self.job_kind.label
        try:
            self.hook.cancel_job(self.job_kind, job_id)
            self.log.warning("Cancelled AEP %s %s because %s", label, job_id, reason)
        except AEPError as exc:
            self.log.warning("Could not cancel AEP %s %s: %s", label, job_id, exc)
