"""What every job-running operator shares: record the job, re-attach on retry, wait or defer, cancel.

The job id goes to XCom (``aep_job_id``) and, on Airflow 3.3+, to the task state store before any
waiting, so that a retried task re-attaches to the job it created itself (never to another one), and
a link to the job works while the task is deferred or after it failed. A timeout or a kill cancels
the job. Subclasses say how to submit, fetch, cancel and summarise their kind of job.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from functools import cached_property
from typing import Any, ClassVar, Generic, TypeVar

from airflow.sdk import BaseOperator, Context

from airflow_provider_segmentation.compat import conf
from airflow_provider_segmentation.hooks.segmentation import (
    AEPError,
    AEPJobFailedError,
    AEPNotFoundError,
    AEPTimeoutError,
    AEPValidationError,
    Outcome,
    SegmentationHook,
    check_task_sandbox,
    job_outcome,
    positive_seconds,
    status_of,
    wait,
)
from airflow_provider_segmentation.links import push_link, ui_url
from airflow_provider_segmentation.models import Estimate, EventStatus, ExportJob, SegmentJob
from airflow_provider_segmentation.triggers.segmentation import (
    AEPJobTrigger,
    event_from_trigger,
    raise_for_event,
)

Job = TypeVar("Job", SegmentJob, ExportJob, Estimate)


class AEPBaseOperator(BaseOperator):
    """Connection and sandbox handling shared by every operator of this provider."""

    def __init__(
        self, *, aep_conn_id: str = "aep_default", sandbox: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        self.sandbox = check_task_sandbox(sandbox)

    @cached_property
    def hook(self) -> SegmentationHook:
        return SegmentationHook(aep_conn_id=self.aep_conn_id, sandbox=self.sandbox)


class AEPJobOperator(AEPBaseOperator, Generic[Job]):
    """Base of operators that start one AEP job and (by default) wait for it."""

    job_kind: ClassVar[str]
    link_kind: ClassVar[str | None] = None
    state_store_key: ClassVar[str]

    def __init__(
        self,
        *,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30,
        timeout: float = 3600,
        cancel_on_kill: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = positive_seconds(poll_interval, field_name="poll_interval")
        self.timeout = positive_seconds(timeout, field_name="timeout")
        self.cancel_on_kill = cancel_on_kill
        self.job_id: str | None = None

    # -- what a subclass provides --------------------------------------------------------------------
    def submit(self, context: Context) -> Job:
        raise NotImplementedError

    def fetch(self, job_id: str) -> Job:
        raise NotImplementedError

    def cancel(self, job_id: str) -> None:
        raise NotImplementedError

    def summarize(self, job: Job) -> dict[str, Any]:
        raise NotImplementedError

    # -- the shared flow -------------------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        job = self._reattach(context) or self._submit_and_record(context)
        if job_outcome(job, ident=str(self.job_id)) is Outcome.SUCCEEDED:
            return self.finish(context, job)
        if not self.wait_for_completion:
            return self.summarize(job)
        deadline = time.time() + self.timeout
        if self.deferrable:
            self._defer(deadline)
        return self.finish(context, self._wait(deadline))

    def _submit_and_record(self, context: Context) -> Job:
        job = self.submit(context)
        self.job_id = self._ident(job)
        context["ti"].xcom_push(key="aep_job_id", value=self.job_id)
        store = context.get("task_state_store")
        if store is not None:
            store.set(self.state_store_key, self.job_id)
        if self.link_kind:
            push_link(
                context,
                self.link_kind,
                ui_url(self.hook.config, self.link_kind, self.job_id),
            )
        self.log.info("Started AEP %s %s", self.job_kind.replace("_", " "), self.job_id)
        return job

    def _ident(self, job: Job) -> str:
        return str(getattr(job, "id", self.job_id))

    def _reattach(self, context: Context) -> Job | None:
        """On a retry, the job this task created before, if it can still be used."""
        store = context.get("task_state_store")
        if store is None:
            if context["ti"].try_number > 1:
                self.log.warning(
                    "No task state store (Airflow < 3.3): a retry starts a new AEP %s", self.job_kind
                )
            return None
        previous = store.get(self.state_store_key)
        if not previous:
            return None
        try:
            job = self.fetch(str(previous))
        except AEPNotFoundError:
            self.log.info("The %s %s of an earlier try is gone; starting a new one", self.job_kind, previous)
            return None
        try:
            outcome = job_outcome(job, ident=str(previous))
        except AEPJobFailedError:
            self.log.info(
                "The %s %s of an earlier try ended %s; starting a new one",
                self.job_kind,
                previous,
                status_of(job),
            )
            return None
        self.job_id = str(previous)
        context["ti"].xcom_push(key="aep_job_id", value=self.job_id)
        if self.link_kind:
            push_link(
                context,
                self.link_kind,
                ui_url(self.hook.config, self.link_kind, self.job_id),
            )
        verb = "already succeeded" if outcome is Outcome.SUCCEEDED else "is still running; re-attaching"
        self.log.info("The %s %s created by an earlier try %s", self.job_kind, previous, verb)
        return job

    def _wait(self, deadline: float) -> Job:
        """Wait in the worker with the shared polling flow; on timeout, cancel (the operator's policy)."""
        job_id, label = self.job_id, self.job_kind.replace("_", " ")
        assert job_id is not None
        try:
            return wait(
                lambda: self.fetch(job_id),
                kind=label,
                ident=job_id,
                poll_interval=self.poll_interval,
                timeout=max(0.0, deadline - time.time()),
                on_status=lambda status, elapsed: self.log.info(
                    "%s %s: %s (%.0f s)", label, job_id, status, elapsed
                ),
            )
        except AEPTimeoutError as exc:
            self._cancel_quietly(f"it did not finish within timeout={self.timeout:.0f} s")
            raise AEPTimeoutError(f"{exc.message}; the job was cancelled") from None

    def trigger(self, deadline: float) -> AEPJobTrigger:
        assert self.job_id is not None
        return AEPJobTrigger(
            kind=self.job_kind,
            job_id=self.job_id,
            aep_conn_id=self.aep_conn_id,
            sandbox=self.sandbox,
            poll_interval=self.poll_interval,
            deadline=deadline,
            cancel_on_kill=self.cancel_on_kill,
        )

    def _defer(self, deadline: float) -> None:
        trigger = self.trigger(deadline)
        _, kwargs = trigger.serialize()
        try:
            json.dumps(kwargs)
        except (TypeError, ValueError) as exc:
            raise AEPValidationError(
                f"the trigger's arguments are not JSON-serializable: {exc}", field="trigger"
            ) from None
        self.defer(trigger=trigger, method_name="execute_complete", timeout=None)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        job_event = event_from_trigger(event, kind=self.job_kind)
        self.job_id = job_event.job_id or job_event.watched_id
        if job_event.status is EventStatus.TIMEOUT:
            self._cancel_quietly("the deadline passed while deferred")
        raise_for_event(
            job_event,
            on_timeout="the job was cancelled. Raise `timeout` if it needs longer",
            on_poll_error="the job is still in AEP; retrying the task re-attaches to it",
        )
        return self.finish(context, self.fetch(self.job_id))

    def finish(self, context: Context, job: Job) -> Any:
        """What the task returns (for XCom) once the job succeeded."""
        return self.summarize(job)

    def _cancel_quietly(self, reason: str) -> None:
        if self.job_id is None:
            return
        try:
            self.cancel(self.job_id)
            self.log.warning("Cancelled AEP %s %s because %s", self.job_kind, self.job_id, reason)
        except AEPError as exc:
            self.log.warning("Could not cancel AEP %s %s: %s", self.job_kind, self.job_id, exc)

    def on_kill(self) -> None:
        if self.cancel_on_kill:
            self._cancel_quietly("the task was killed")


def resolve_ids(hook: SegmentationHook, ids: Sequence[str] | None, names: Sequence[str] | None) -> list[str]:
    """Segment ids from ids or from exact definition names (exactly one of the two)."""
    if bool(ids) == bool(names):
        raise AEPValidationError("pass exactly one of segment_ids and segment_names", field="segment_ids")
    if ids:
        return [str(i) for i in ids]
    wanted = list(names or [])
    found: dict[str, str] = {}
    for definition in hook.list_segment_definitions():
        if definition.name in wanted and definition.id:
            found.setdefault(definition.name, definition.id)
    missing = [n for n in wanted if n not in found]
    if missing:
        raise AEPValidationError(
            f"no segment definition named {', '.join(map(repr, missing))} in sandbox "
            f"{hook.config.sandbox!r}; no job was started",
            field="segment_names",
        )
    return [found[n] for n in wanted]
