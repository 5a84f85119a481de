"""Waiting for jobs, written once: one sans-I/O polling flow for every kind of job.

What a job's status means (running, succeeded, or failed with AEP's own ``errors[]``) is its kind's
declaration's (``jobs.JOB_TYPES``). ``poll_flow`` is the whole polling logic as a generator, in the pattern of
``flow.call_flow``: it yields ``Fetch`` (read the job once) and ``Wait`` (``next_pause``: jittered if
asked, cut to the deadline so that the last read happens at it), logs one short line per status change,
tolerates a budget of transient poll errors, and ends with the finished job or an error
(``AEPTimeoutError`` only after a read at the deadline found the job still running). ``wait`` drives it
in the worker (the hook's ``wait_for_*``, the operators); the trigger drives it with ``asyncio``. What
to do on a timeout (cancel the job or not) stays with the caller.

How often AEP may be polled: Adobe documents no request-rate limit for the Segmentation Service (nor a
429 contract; its troubleshooting guide says overload shows as a 500). ``MIN_POLL_INTERVAL_SECONDS`` is
this package's own floor, not AEP's: ``floored_poll_interval`` raises a shorter interval to it, with a
warning, for every host but a loopback one (the emulator, where tests poll fast).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any

from airflow_provider_segmentation.client.checks import check_poll_interval as check_poll_interval
from airflow_provider_segmentation.client.config import is_loopback
from airflow_provider_segmentation.client.errors import (
    AEPAuthError,
    AEPConnectionError,
    AEPError,
    AEPRateLimitError,
    AEPServerError,
    AEPTimeoutError,
)
from airflow_provider_segmentation.client.jobs import Job, JobType, Outcome
from airflow_provider_segmentation.models import SegmentJob

log = logging.getLogger("airflow_provider_segmentation.client")

# This package's floor between two reads of one job on a real AEP host (Adobe documents no polling rate).
MIN_POLL_INTERVAL_SECONDS = 5.0


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
    """Sleep ``seconds``; ``until_deadline``: the read after it is the last one, at the deadline."""

    seconds: float
    until_deadline: bool = False


PollFlow = Generator[Fetch | Wait, Any, Job]


def poll_floor(platform_host: str) -> float:
    """The shortest interval between two reads of one job: none on a loopback host (the emulator)."""
    host = platform_host.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    return 0.0 if is_loopback(host) else MIN_POLL_INTERVAL_SECONDS


def floored_poll_interval(poll_interval: float, *, platform_host: str, field_name: str) -> float:
    """``poll_interval``, raised to ``poll_floor(platform_host)`` with a warning naming the field."""
    floor = poll_floor(platform_host)
    if poll_interval >= floor:
        return poll_interval
    log.warning(
        "%s=%g s is below the floor of %g s between two polls of AEP (this package's, not an Adobe "
        "limit: Adobe documents none); polling every %g s",
        field_name,
        poll_interval,
        floor,
        floor,
    )
    return floor


def next_pause(poll_interval: float, *, now: float, deadline: float | None, spread: float = 1.0) -> Wait:
    """The pause before the next read: ``poll_interval * spread`` (the jitter), cut to the time left, so
    that a wait never sleeps past its deadline and its last read happens at it."""
    pause = poll_interval * spread
    if deadline is None:
        return Wait(pause)
    left = max(0.0, deadline - now)
    return Wait(left, until_deadline=True) if pause >= left else Wait(pause)


def poll_flow(
    job_type: JobType[Any],
    *,
    ident: str,
    poll_interval: float,
    deadline: float | None,
    clock: Callable[[], float] = time.time,
    poll_error_budget: int = 0,
    on_status: Callable[[str, float], None] | None = None,
    jitter: float = 0.0,
    rng: random.Random | None = None,
) -> PollFlow[Any]:
    """Poll until the job succeeds (returned), fails (raised) or is still running at ``deadline``
    (epoch seconds; ``AEPTimeoutError``).

    The job is read at once (even past the deadline: a job that finished in time is a success), then
    after each ``next_pause``: ``poll_interval`` spread by up to ``jitter`` (a fraction: waits started
    together do not poll in lockstep), cut to the time left, so that the last read happens at the
    deadline whatever the interval. Up to ``poll_error_budget`` transient errors in a row are tolerated,
    except on that last read (there is no time left to read again); more, or any other error, is raised.
    ``on_status(status, elapsed)`` is told each status change (default: one INFO line).
    """
    uniform = (rng or random).uniform
    kind = job_type.label
    started, last_status, errors_in_a_row = clock(), "", 0
    status, last_read = "not read yet", False
    while True:
        reply = yield Fetch()
        at_deadline = deadline is not None and (last_read or clock() >= deadline)
        if isinstance(reply, AEPError):
            if at_deadline and isinstance(reply, TRANSIENT_POLL_ERRORS):
                raise reply.with_message(f"{kind} {ident} could not be read at its deadline: {reply.message}")
            if not isinstance(reply, TRANSIENT_POLL_ERRORS) or errors_in_a_row >= poll_error_budget:
                raise reply
            errors_in_a_row += 1
            log.warning(
                "Polling %s %s failed (%d/%d): %s", kind, ident, errors_in_a_row, poll_error_budget, reply
            )
        else:
            errors_in_a_row = 0
            status = job_type.status_text(reply) if reply is not None else "no run yet"
            if status != last_status:
                last_status = status
                (on_status or _log_status(kind, ident))(status, clock() - started)
            if reply is not None and job_type.outcome(reply, ident=ident) is Outcome.SUCCEEDED:
                return reply
        if at_deadline:
            raise _timeout(kind, ident, status, started, clock)
        pause = next_pause(
            poll_interval,
            now=clock(),
            deadline=deadline,
            spread=uniform(1 - jitter, 1 + jitter) if jitter else 1.0,
        )
        last_read = pause.until_deadline
        yield pause


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
    job_type: JobType[Job],
    fetch: Callable[[], Job],
    *,
    ident: str,
    poll_interval: float,
    timeout: float | None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    on_status: Callable[[str, float], None] | None = None,
) -> Job:
    """Drive ``poll_flow`` in this thread: fetch with ``fetch``, sleep with ``sleep``."""
    flow = poll_flow(
        job_type,
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
