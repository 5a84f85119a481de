"""What every job-running operator shares: record the job, re-attach on retry, wait or defer, cancel.

The job id goes to XCom (``aep_job_id``) and, on Airflow 3.3+, to the task state store before any
waiting, so that a link to the job works while the task is deferred or after it failed, and a retried
task re-attaches to the job it created itself for the same request: the store keeps the job id with
the request's fingerprint (sandbox, and ``request_fingerprint``: kind, segment ids in any order, export
filter and dataset, PQL), and a job made for another request is left alone. (XCom does not carry a
job to the next try: Airflow clears a task's XComs when it retries it.) A timeout or a kill cancels
the job (deferring and resuming are ``mixins.AEPJobMixin``'s, shared with the sensors). Subclasses say
how to submit, fetch and summarise their kind of job.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from airflow.sdk import BaseOperator, Context

from airflow_provider_segmentation.client import (
    AEPJobFailedError,
    AEPNotFoundError,
    AEPTimeoutError,
    check_poll_interval,
    positive_seconds,
)
from airflow_provider_segmentation.compat import conf
from airflow_provider_segmentation.links import push_link, ui_url
from airflow_provider_segmentation.mixins import AEPHookMixin, AEPJobMixin, check_task_sandbox

# What runs a job (the client's operations and waits) is imported when the task runs, not when a DAG
# file is parsed (tests/airflow/test_parse_time_imports.py).
if TYPE_CHECKING:
    from airflow_provider_segmentation.client import Job, JobType, Operation
else:
    Job = TypeVar("Job")  # at run time only a type parameter; ``client.jobs.Job`` for the checker


class AEPBaseOperator(AEPHookMixin, BaseOperator):
    """Connection and sandbox handling shared by every operator of this provider."""

    def __init__(
        self, *, aep_conn_id: str = "aep_default", sandbox: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        self.sandbox = check_task_sandbox(sandbox)


class AEPJobOperator(AEPJobMixin, AEPBaseOperator, Generic[Job]):
    """Base of operators that start one AEP job and (by default) wait for it."""

    owns_job = True

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
        check_poll_interval(self.poll_interval, self.timeout, field_name="poll_interval")
        self.cancel_on_kill = cancel_on_kill
        self.job_id: str | None = None

    # -- what a subclass provides --------------------------------------------------------------------
    @abstractmethod
    def request(self, context: Context) -> Operation[Any]:
        """The create of this task's job, its input checked (before any call that creates something)."""

    @property
    def job_type(self) -> JobType[Any]:
        """The declaration of this task's kind of job: how it is read, stopped, told and linked."""
        from airflow_provider_segmentation.client import job_type

        return job_type(self.job_kind)

    @property
    def state_store_key(self) -> str:
        """Where the task state store keeps this task's job (each kind an operator starts has a key)."""
        key = self.job_type.store_key
        if key is None:
            raise TypeError(f"{type(self).__name__}: an operator cannot start a {self.job_kind.label}")
        return key

    def submit(self, context: Context, request: Operation[Any]) -> Job:
        """Start the job."""
        job: Job = self.hook.client.execute(request)
        return job

    def fetch(self, job_id: str) -> Job:
        """Read the job once."""
        job: Job = self.hook.read_job(self.job_kind, job_id)
        return job

    def summarize(self, job: Job) -> dict[str, Any]:
        """The job as the task reports it (XCom): its kind's summary unless the operator adds to it."""
        return self.job_type.summary(job)

    # -- the shared flow -------------------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        from airflow_provider_segmentation.client import Outcome, request_fingerprint

        request = self.request(context)
        fingerprint = {"sandbox": self.hook.config.sandbox, **(request_fingerprint(request) or {})}
        job = self._reattach(context, fingerprint) or self._submit_and_record(context, request, fingerprint)
        if self.job_type.outcome(job, ident=str(self.job_id)) is Outcome.SUCCEEDED:
            return self.finish(context, job)
        if not self.wait_for_completion:
            return self.summarize(job)
        if self.deferrable:
            assert self.job_id is not None
            self.defer_to_trigger(self.job_id, poll_interval=self.poll_interval, timeout=self.timeout)
        return self.finish(context, self._wait())

    def _submit_and_record(
        self, context: Context, request: Operation[Any], fingerprint: dict[str, Any]
    ) -> Job:
        job = self.submit(context, request)
        self.job_id = self._ident(job)
        context["ti"].xcom_push(key="aep_job_id", value=self.job_id)
        store = context.get("task_state_store")
        if store is not None:
            store.set(self.state_store_key, {"job_id": self.job_id, "request": fingerprint})
        self._push_link(context)
        self.log.info("Started AEP %s %s", self.job_kind.label, self.job_id)
        return job

    def _ident(self, job: Job) -> str:
        return str(getattr(job, "id", self.job_id))

    def _reattach(self, context: Context, fingerprint: dict[str, Any]) -> Job | None:
        """On a retry, the job this task created before for the same request, if it can still be used."""
        from airflow_provider_segmentation.client import Outcome

        store = context.get("task_state_store")
        if store is None:
            if context["ti"].try_number > 1:
                self.log.warning(
                    "No task state store (Airflow < 3.3): a retry starts a new AEP %s", self.job_kind.label
                )
            return None
        remembered = store.get(self.state_store_key)
        if not remembered:
            return None
        label = self.job_kind.label
        if not isinstance(remembered, dict):  # an id alone, recorded by an earlier version of this provider
            self.log.info(
                "The %s %s of an earlier try was recorded without its request, so it cannot be told to be "
                "this one: leaving it alone and starting a new one",
                label,
                remembered,
            )
            return None
        previous = str(remembered.get("job_id"))
        request = remembered.get("request")
        made_for: dict[str, Any] = request if isinstance(request, dict) else {}
        if made_for != fingerprint:
            differs = sorted(k for k in {*fingerprint, *made_for} if made_for.get(k) != fingerprint.get(k))
            self.log.info(
                "The %s %s of an earlier try was made for another request (%s differ): leaving it alone "
                "and starting a new one",
                label,
                previous,
                ", ".join(differs),
            )
            return None
        try:
            job = self.fetch(str(previous))
        except AEPNotFoundError:
            self.log.info(
                "The %s %s of an earlier try is gone; starting a new one", self.job_kind.label, previous
            )
            return None
        try:
            outcome = self.job_type.outcome(job, ident=str(previous))
        except AEPJobFailedError:
            self.log.info(
                "The %s %s of an earlier try ended %s; starting a new one",
                self.job_kind.label,
                previous,
                self.job_type.status_text(job),
            )
            return None
        self.job_id = str(previous)
        context["ti"].xcom_push(key="aep_job_id", value=self.job_id)
        self._push_link(context)
        verb = "already succeeded" if outcome is Outcome.SUCCEEDED else "is still running; re-attaching"
        self.log.info(
            "The %s %s of an earlier try was made for the same request and %s", label, previous, verb
        )
        return job

    def _push_link(self, context: Context) -> None:
        """The link to the job in AEP, in XCom before any waiting (a kind without a page has none)."""
        link = self.job_type.link
        if link is not None and self.job_id is not None:
            push_link(context, link, ui_url(self.hook.config, link, self.job_id))

    def _wait(self) -> Job:
        """Wait in the worker with the shared polling flow; on timeout, cancel (the operator's policy)."""
        job_id, label = self.job_id, self.job_kind.label
        assert job_id is not None
        try:
            job: Job = self.hook.wait_for_job(
                self.job_kind,
                job_id,
                poll_interval=self.poll_interval,
                timeout=self.timeout,
                on_status=lambda status, elapsed: self.log.info(
                    "%s %s: %s (%.0f s)", label, job_id, status, elapsed
                ),
            )
            return job
        except AEPTimeoutError as exc:
            self.cancel_quietly(job_id, f"it did not finish within timeout={self.timeout:.0f} s")
            raise AEPTimeoutError(f"{exc.message}; the job was cancelled") from None

    def resume(self, context: Context, job_id: str) -> Any:
        """After the trigger reported success: read the job once more and finish as without deferring."""
        self.job_id = job_id
        job = self.fetch(job_id)
        self.report_finished(job_id, job)
        return self.finish(context, job)

    def finish(self, context: Context, job: Job) -> Any:
        """What the task returns (for XCom) once the job succeeded."""
        return self.summarize(job)

    def on_kill(self) -> None:
        if self.cancel_on_kill and self.job_id is not None:
            self.cancel_quietly(self.job_id, "the task was killed")
