"""``AEPJobTrigger``: waits in the triggerer for a segment job, export job, estimate or scheduled run.

Async all the way through the hook's async twins (one ``httpx`` client per trigger run, one token per
triggerer process from the shared cache). Transient poll errors are retried within a budget and end,
at worst, in a ``poll_error`` event, never in "failed": only AEP's own status says a job failed. A
wall-clock ``deadline`` (epoch seconds) travels with the trigger; the last read happens at it, and the
event is ``timeout`` only if that read found the job still running. On a real AEP host the poll interval
is at least ``waiting.MIN_POLL_INTERVAL_SECONDS`` (``floored_poll_interval``).
The trigger logs one short line per status change, with the job's age since AEP created it (a
restarted trigger does not start counting again), and reports a small ``JobEvent`` (never the job).

``on_kill`` (Airflow 3.3+) runs when a user acts on the deferred task. It cancels the AEP job only
when the task will not run again (marked failed); a cleared task's next try re-attaches to the same
job, so cancelling it there would fail the very try that is meant to succeed.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from enum import Enum
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_segmentation.client import (
    AEPError,
    AEPJobCancelledError,
    AEPJobFailedError,
    AEPTimeoutError,
    AEPValidationError,
    Fetch,
    RetrySettings,
    Wait,
    first_run_since,
    floored_poll_interval,
    job_type,
    poll_flow,
    positive_seconds,
)
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.kinds import JobKind
from airflow_provider_segmentation.mixins import job_age_seconds
from airflow_provider_segmentation.models import EventStatus, JobEvent
from airflow_provider_segmentation.triggers.shared_poll import WATCHED, GroupPoll, Snapshot

if TYPE_CHECKING:
    from airflow_provider_segmentation.client import AsyncSegmentationClient

SHARED_POLLS_PER_INTERVAL = 2
POLL_JITTER = 0.1  # each pause is the poll interval +-10 %: waits deferred together do not poll in lockstep
# Task states after which nothing will resume the job: the user ended the task.
ENDED_BY_USER = frozenset({"failed", "upstream_failed", "skipped", "removed"})
# on_kill's work in flight: the event loop holds only weak references to tasks
_KILLING: set[asyncio.Task[None]] = set()


class AEPJobTrigger(BaseEventTrigger):
    """Poll one AEP job until it is terminal, the deadline passes, or polling keeps failing.

    :param kind: ``segment_job``, ``export_job``, ``estimate`` (``job_id`` is the preview id) or
        ``scheduled_segment_job`` (``job_id`` is the schedule id; waits for its first run created at or
        after ``window_start``)
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
        share_polls: bool = True,
    ) -> None:
        super().__init__()
        try:
            self.kind = JobKind(kind)
        except ValueError:
            raise AEPValidationError(
                f"kind {kind!r} is not one of {', '.join(k.value for k in JobKind)}", field="kind"
            ) from None
        self.job_type = job_type(self.kind)
        self.job_id = str(job_id)
        self.aep_conn_id = aep_conn_id
        self.sandbox = sandbox
        self.poll_interval = positive_seconds(poll_interval, field_name="poll_interval")
        self.deadline = deadline
        self.poll_error_budget = poll_error_budget
        self.cancel_on_kill = cancel_on_kill
        self.window_start = window_start
        self.share_polls = share_polls

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "kind": self.kind.value,
                "job_id": self.job_id,
                "aep_conn_id": self.aep_conn_id,
                "sandbox": self.sandbox,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "poll_error_budget": self.poll_error_budget,
                "cancel_on_kill": self.cancel_on_kill,
                "window_start": self.window_start,
                "share_polls": self.share_polls,
            },
        )

    def _hook(self) -> SegmentationHook:
        # One attempt per poll: the poll-error budget, spaced by poll_interval, does the retrying.
        return SegmentationHook(
            aep_conn_id=self.aep_conn_id, sandbox=self.sandbox, retry=RetrySettings(max_attempts=1)
        )

    async def _fetch(self, client: AsyncSegmentationClient) -> Any:
        """The job (a segment job, export job or estimate), or None for a schedule's run not there yet."""
        if self.job_type.runs is None:
            return await client.execute(self.job_type.read.build(self.job_id))
        # a schedule's run: the first one created at or after window_start, if there is one yet
        runs = client.paginate(self.job_type.runs(self.job_id))
        return first_run_since([run async for run in runs], self.window_start)

    def _event(
        self,
        status: EventStatus,
        message: str,
        job: Any = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> TriggerEvent:
        event = JobEvent(
            kind=self.kind,
            watched_id=self.job_id,
            status=status,
            message=message,
            job_id=self.job_type.job_id(job, self.job_id),
            job_status=self.job_type.status_text(job) if job is not None else None,
            errors=tuple(errors or ()),
        )
        return TriggerEvent(event.to_dict())

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll this job on its own (the path of every kind but segment jobs on a shared stream)."""
        # Spread the first polls of triggers deferred at the same moment over a fraction of the interval,
        # at most half the time left: a first read before the deadline, and the last one at it.
        spread = random.uniform(0, min(self.poll_interval, 5.0) / 2)
        if self.deadline is not None:
            spread = max(0.0, min(spread, (self.deadline - time.time()) / 2))
        await asyncio.sleep(spread)
        async with self._hook() as hook:
            client = await hook.aclient()
            interval = floored_poll_interval(
                self.poll_interval, platform_host=hook.config.platform_host, field_name="poll_interval"
            )

            async def sleep(pause: Wait) -> None:
                await asyncio.sleep(pause.seconds)

            async for event in self._watch(lambda: self._fetch(client), sleep, interval):
                yield event

    # -- one question for many jobs: Airflow 3.3's shared trigger streams ---------------------------

    def shared_stream_key(self) -> Hashable | None:
        """Jobs of one kind that AEP reads in bulk (``JobType.read_many``: segment jobs), of one connection,
        sandbox and poll interval, share one poll (3.3+ triggerers)."""
        if self.job_type.read_many is None or not self.share_polls:
            return None
        return ("aep", self.kind.value, self.aep_conn_id, self.sandbox, self.poll_interval)

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncIterator[Snapshot]:
        """One bulk read per cycle for every job the group's triggers watch, fanned out as
        ``Snapshot``s of an answer per id (``shared_poll``: how a failed request costs only its own ids).

        A shared poll is cheap (one request per chunk of jobs), so it runs ``SHARED_POLLS_PER_INTERVAL``
        times per ``poll_interval``: a status is never older than half the interval, as with jittered
        per-job polls, whatever the phase of the group's poll against the jobs' ends. On a real AEP host
        the cycle is never shorter than ``waiting.MIN_POLL_INTERVAL_SECONDS``.
        """
        key = cls(**kwargs).shared_stream_key()
        hook = SegmentationHook(
            aep_conn_id=kwargs["aep_conn_id"], sandbox=kwargs["sandbox"], retry=RetrySettings(max_attempts=1)
        )
        poll = GroupPoll(job_type(kwargs["kind"]))
        async with hook:
            client = await hook.aclient()
            cycle = floored_poll_interval(
                kwargs["poll_interval"] / SHARED_POLLS_PER_INTERVAL,
                platform_host=hook.config.platform_host,
                field_name="poll_interval (halved for a shared poll)",
            )
            while True:
                yield await poll.ask(client, WATCHED.ids(key))
                await asyncio.sleep(cycle * random.uniform(0.9, 1.1))

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        """This trigger's job, read from the group's snapshots instead of its own GETs."""
        key = self.shared_stream_key()
        try:
            WATCHED.add(key, self.job_id)
        except AEPValidationError as exc:  # this trigger alone, at once, before any call
            yield self._poll_error(exc)
            return
        try:
            own_read = False  # the last read, at the deadline, is this trigger's own GET

            async def from_snapshots() -> Any:
                if own_read:
                    async with self._hook() as hook:
                        return await self._fetch(await hook.aclient())
                async for snapshot in shared_stream:
                    if self.job_id in snapshot.answers:
                        return snapshot.answers[self.job_id]
                    # a poll that started before this trigger joined: wait for the next one
                raise AEPError("the shared segment-job poll ended")

            async def paced_by_the_stream(pause: Wait) -> None:
                nonlocal own_read
                if pause.until_deadline:  # the group's next snapshot may come after the deadline
                    own_read = True
                    await asyncio.sleep(pause.seconds)

            async for event in self._watch(from_snapshots, paced_by_the_stream, self.poll_interval):
                yield event
        finally:
            WATCHED.discard(key, self.job_id)

    async def _watch(
        self,
        fetch: Callable[[], Awaitable[Any]],
        pause: Callable[[Wait], Awaitable[None]],
        poll_interval: float,
    ) -> AsyncIterator[TriggerEvent]:
        """Drive the shared polling flow (``waiting.poll_flow``): ``fetch`` reads the job once (a job,
        None for a schedule's run not there yet, or an ``AEPError`` returned or raised)."""
        job: Any = None

        def log_status(status: str, elapsed: float) -> None:
            # the job's age says how long it has taken, whenever this trigger (re)started watching it
            age = job_age_seconds(job)
            since = f"{age:,.0f} s after AEP created it" if age is not None else f"{elapsed:,.0f} s watched"
            self.log.info("%s %s: %s (%s)", self.kind.label, self._ident(job), status, since)

        flow = poll_flow(
            self.job_type,
            ident=self.job_id,
            poll_interval=poll_interval,
            deadline=self.deadline,
            poll_error_budget=self.poll_error_budget,
            on_status=log_status,
            jitter=POLL_JITTER,
        )
        reply: Any = None
        try:
            while True:
                command = flow.send(reply)
                if isinstance(command, Fetch):
                    try:
                        reply = await fetch()
                    except AEPError as exc:
                        reply = exc
                    if not isinstance(reply, AEPError):
                        job = reply
                else:
                    await pause(command)
                    reply = None
        except StopIteration:
            yield self._event(EventStatus.SUCCESS, f"{self.kind.label} {self._ident(job)} succeeded", job)
        except AEPJobCancelledError as exc:
            yield self._event(EventStatus.CANCELLED, exc.summary, job, exc.errors)
        except AEPJobFailedError as exc:
            yield self._event(EventStatus.FAILED, exc.summary, job, exc.errors)
        except AEPTimeoutError as exc:
            yield self._event(EventStatus.TIMEOUT, exc.message, job)
        except AEPError as exc:  # transient errors past the budget, or a 404/400: not a job failure
            yield self._poll_error(exc)

    def _poll_error(self, error: AEPError) -> TriggerEvent:
        return self._event(EventStatus.POLL_ERROR, f"cannot poll {self.kind.label} {self.job_id}: {error}")

    def _ident(self, job: Any) -> str:
        if self.job_type.watches_schedule and job is not None:
            return f"{job.id} (schedule {self.job_id})"
        return self.job_id

    async def on_kill(self) -> None:
        """A user acted on the deferred task: cancel the AEP job unless the task will run again.

        Airflow 3.3's triggerer cancels a trigger again at each state sync until it has finished, which
        cancels a running ``on_kill`` too (and swallows that): the work is shielded, so a slow state read
        or DELETE still ends in the triggerer's loop instead of leaving the job running unreported.
        """
        work = asyncio.ensure_future(self._stop_unless_retried())
        _KILLING.add(work)
        work.add_done_callback(_KILLING.discard)
        await asyncio.shield(work)

    async def _stop_unless_retried(self) -> None:
        stop = self.job_type.stop
        if not self.cancel_on_kill or stop is None:
            return
        state = await self._task_state()
        if state is not None and state not in ENDED_BY_USER:
            self.log.info(
                "The task is %s (cleared or retried); leaving %s %s running for its next try to re-attach",
                state or "cleared",
                self.kind.label,
                self.job_id,
            )
            return
        try:
            async with self._hook() as hook:
                client = await hook.aclient()
                await client.execute(stop.build(self.job_id))
            self.log.info("Cancelled %s %s because the task was ended", self.kind.label, self.job_id)
        except AEPError as exc:
            self.log.warning("Could not cancel %s %s: %s", self.kind.label, self.job_id, exc)

    async def _task_state(self) -> str | None:
        """The task's state now ("" when cleared), or None when it cannot be asked (then cancel)."""
        ti = getattr(self, "task_instance", None)
        if ti is None:
            return None
        try:
            from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
            from asgiref.sync import sync_to_async

            states = await sync_to_async(RuntimeTaskInstance.get_task_states)(
                dag_id=ti.dag_id, task_ids=[ti.task_id], run_ids=[ti.run_id]
            )
        except Exception as exc:  # no supervisor to ask (tests, older Airflow): behave as before
            self.log.warning("Could not read the task's state (%s); cancelling the job to be safe", exc)
            return None
        value = (states.get(ti.run_id) or {}).get(ti.task_id)
        return "" if value is None else str(value.value if isinstance(value, Enum) else value)
