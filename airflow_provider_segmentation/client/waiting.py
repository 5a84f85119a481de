"""Waiting for jobs, written once: a pure reading of a job's status and one sans-I/O polling flow.

``job_outcome`` says whether a segment job, export job or estimate is still running, succeeded, or
failed (raising ``AEPJobFailedError`` with AEP's own ``errors[]``). ``poll_flow`` is the whole polling
logic as a generator, in the pattern of ``flow.call_flow``: it yields ``Fetch`` (read the job once) and
``Wait`` (sleep; jittered if asked, and never past the deadline), logs one short line per status change,
tolerates a budget of transient poll errors, and ends with the finished job or an error
(``AEPTimeoutError`` at the deadline). ``wait`` drives it in
the worker (the hook's ``wait_for_*``, the operators); the trigger drives it with ``asyncio``. What to
do on a timeout (cancel the job or not) stays with the caller.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from airflow_provider_segmentation.client.errors import (
    AEPAuthError,
    AEPConnectionError,
    AEPError,
    AEPJobCancelledError,
    AEPJobFailedError,
    AEPRateLimitError,
    AEPServerError,
    AEPTimeoutError,
)
from airflow_provider_segmentation.models import (
    Estimate,
    ExportJob,
    SegmentJob,
    SegmentJobStatus,
)

log = logging.getLogger("airflow_provider_segmentation.client")

Job = TypeVar("Job", SegmentJob, ExportJob, Estimate)


class Outcome(Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"


def status_of(job: SegmentJob | ExportJob | Estimate) -> str:
    status = job.state if isinstance(job, Estimate) else job.status
    return status.value if status is not None else ""


def job_outcome(job: SegmentJob | ExportJob | Estimate, *, ident: str) -> Outcome:
    """RUNNING or SUCCEEDED, or raise for FAILED / CANCELLED; an unknown status keeps running."""
    status = job.state if isinstance(job, Estimate) else job.status
    kind = {SegmentJob: "segment job", ExportJob: "export job", Estimate: "estimate"}[type(job)]
    if status is None or not status.is_known:
        log.warning(
            "%s %s has status %r, which AEP does not document; still waiting", kind, ident, status_of(job)
        )
        return Outcome.RUNNING
    if not status.is_terminal:
        return Outcome.RUNNING
    if status.is_success:
        return Outcome.SUCCEEDED
    errors = [e.to_json() for e in getattr(job, "errors", [])]
    if isinstance(job, Estimate) and job.error:
        errors.append({"code": "estimate", "msg": job.error.get("description") or str(job.error)})
    error_cls = AEPJobCancelledError if status is SegmentJobStatus.CANCELLED else AEPJobFailedError
    raise error_cls(f"AEP reports {kind} {ident} as {status.value}", errors=errors)


def first_run_since(runs: Iterable[SegmentJob], start: float | None) -> SegmentJob | None:
    """A schedule's first run created at or after ``start`` (epoch seconds), or None if none yet."""
    found: SegmentJob | None = None
    for run in runs:
        created = run.created_at.timestamp() if run.created_at else None
        if created is None or (start is not None and created < start):
            continue
        if found is None or (found.created_at is not None and created < found.created_at.timestamp()):
            found = run
    return found


# Errors worth another poll: the job may be fine, AEP or the network is not (for now).
TRANSIENT_POLL_ERRORS = (AEPServerError, AEPRateLimitError, AEPConnectionError, AEPAuthError)


@dataclass(frozen=True)
class Fetch:
    """Read the job once; reply with it (None: a scheduled run not there yet) or with the ``AEPError``."""


@dataclass(frozen=True)
class Wait:
    seconds: float


PollFlow = Generator[Fetch | Wait, Any, Job]


def poll_flow(
    *,
    kind: str,
    ident: str,
    poll_interval: float,
    deadline: float | None,
    clock: Callable[[], float] = time.time,
    poll_error_budget: int = 0,
    on_status: Callable[[str, float], None] | None = None,
    jitter: float = 0.0,
    rng: random.Random | None = None,
) -> PollFlow[Any]:
    """Poll until the job succeeds (returned), fails (raised) or ``deadline`` (epoch seconds) passes.

    The deadline is checked before each fetch (a listing is never paged past it) and before each wait.
    Each wait is ``poll_interval`` spread by up to ``jitter`` (a fraction: waits started together do
    not poll in lockstep), cut to the time left before the deadline. Up to ``poll_error_budget``
    transient errors in a row are tolerated; more, or any other error, is raised.
    ``on_status(status, elapsed)`` is told each status change (default: one INFO line).
    """
    uniform = (rng or random).uniform
    started, last_status, errors_in_a_row = clock(), "", 0
    status = "not read yet"
    while True:
        if deadline is not None and clock() >= deadline:
            raise _timeout(kind, ident, status, started, clock)
        reply = yield Fetch()
        if isinstance(reply, AEPError):
            if not isinstance(reply, TRANSIENT_POLL_ERRORS) or errors_in_a_row >= poll_error_budget:
                raise reply
            errors_in_a_row += 1
            log.warning(
                "Polling %s %s failed (%d/%d): %s", kind, ident, errors_in_a_row, poll_error_budget, reply
            )
        else:
            errors_in_a_row = 0
            status = status_of(reply) if reply is not None else "no run yet"
            if status != last_status:
                last_status = status
                (on_status or _log_status(kind, ident))(status, clock() - started)
            if reply is not None and job_outcome(reply, ident=ident) is Outcome.SUCCEEDED:
                return reply
        pause = poll_interval * uniform(1 - jitter, 1 + jitter) if jitter else poll_interval
        if deadline is not None:
            left = deadline - clock()
            if left < poll_interval:  # the next poll would come after the deadline
                raise _timeout(kind, ident, status, started, clock)
            pause = min(pause, left)
        yield Wait(pause)


def _log_status(kind: str, ident: str) -> Callable[[str, float], None]:
    return lambda status, elapsed: log.info("%s %s: %s (%.0f s)", kind, ident, status, elapsed)


def _timeout(
    kind: str, ident: str, status: str, started: float, clock: Callable[[], float]
) -> AEPTimeoutError:
    return AEPTimeoutError(
        f"{kind} {ident} is still {status} after {clock() - started:.0f} s, at its deadline; raise `timeout` "
        "if AEP needs longer, or check the job in the AEP UI"
    )


def wait(
    fetch: Callable[[], Job],
    *,
    kind: str,
    ident: str,
    poll_interval: float,
    timeout: float | None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    on_status: Callable[[str, float], None] | None = None,
) -> Job:
    """Drive ``poll_flow`` in this thread: fetch with ``fetch``, sleep with ``sleep``."""
    flow = poll_flow(
        kind=kind,
        ident=ident,
        poll_interval=poll_interval,
        deadline=None if timeout is None else clock() + timeout,
        clock=clock,
        on_status=on_status,
    )
    reply: Any = None
    while True:
        try:
            command = flow.send(reply)
        except StopIteration as done:
            finished: Job = done.value
            return finished
        if isinstance(command, Fetch):
            try:
                reply = fetch()
            except AEPError as exc:
                reply = exc
        else:
            sleep(command.seconds)
            reply = None
