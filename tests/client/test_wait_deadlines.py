"""Waits keep their word: the polling flow driven on a fake clock, every timing generated.

A job runs until ``finish`` (seconds after the wait starts, maybe never), answering some polls with a
status AEP does not document. Whatever the timeout, poll interval, jitter and latency of each read:

- a job that finished at or before the deadline is reported as succeeded (the wait never gives up early);
- a wait that times out has read the job at the deadline, and never slept past it;
- the operator cancels a job only after that last read at the deadline said it was still running;
- an unknown status is warned about once per job, not once per poll.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation.client import waiting
from airflow_provider_segmentation.client.errors import AEPTimeoutError
from airflow_provider_segmentation.client.jobs import JOB_TYPES
from airflow_provider_segmentation.client.waiting import Fetch, poll_flow
from airflow_provider_segmentation.kinds import JobKind
from airflow_provider_segmentation.models import SegmentJob

START = 1_000_000.0
EPSILON = 1e-6  # float rounding of start + timeout


@dataclass
class FakeJob:
    """A segment job as AEP would answer for it at a given time, on a fake clock."""

    ident: str
    finish: float | None  # seconds after the start; None: still running at any deadline
    unknown_from: float  # answers between these two times carry an undocumented status
    unknown_until: float
    reads: list[float] = field(default_factory=list)

    def read(self, at: float) -> SegmentJob:
        self.reads.append(at)
        elapsed = at - START
        if self.finish is not None and elapsed >= self.finish - EPSILON:
            status = "SUCCEEDED"
        elif self.unknown_from <= elapsed < self.unknown_until:
            status = "RECALCULATING"  # not a status AEP documents
        else:
            status = "PROCESSING"
        return SegmentJob.model_validate({"id": self.ident, "status": status})


timings = st.fixed_dictionaries(
    {
        "timeout": st.floats(0.5, 600, allow_nan=False),
        "poll_interval": st.floats(0.1, 900, allow_nan=False),
        "finish_fraction": st.one_of(st.none(), st.floats(0, 1)),  # of the timeout; None: never
        "jitter": st.sampled_from([0.0, 0.1, 0.5]),
        "seed": st.integers(0, 2**32 - 1),
        "latency_fraction": st.floats(0, 0.2),  # of the poll interval, per read
        "unknown": st.tuples(st.floats(0, 1), st.floats(0, 1)).map(sorted),
    }
)


def make_job(t: dict) -> FakeJob:
    finish = None if t["finish_fraction"] is None else t["finish_fraction"] * t["timeout"]
    low, high = (f * t["timeout"] for f in t["unknown"])
    return FakeJob(f"job-{uuid.uuid4().hex}", finish, low, high)


def drive(t: dict, job: FakeJob) -> tuple[SegmentJob | AEPTimeoutError, list[float]]:
    """Run ``poll_flow`` to its end on a fake clock; the times at which each sleep ended."""
    now = [START]
    flow = poll_flow(
        JOB_TYPES[JobKind.SEGMENT_JOB],
        ident=job.ident,
        poll_interval=t["poll_interval"],
        deadline=START + t["timeout"],
        clock=lambda: now[0],
        jitter=t["jitter"],
        rng=random.Random(t["seed"]),
    )
    latency = t["latency_fraction"] * min(t["poll_interval"], t["timeout"])
    woke_at: list[float] = []
    reply = None
    for _ in range(100_000):
        try:
            command = flow.send(reply)
        except StopIteration as done:
            return done.value, woke_at
        except AEPTimeoutError as exc:
            return exc, woke_at
        if isinstance(command, Fetch):
            now[0] += latency  # AEP answers with the job as it is when the answer leaves
            reply = job.read(now[0])
        else:
            assert command.seconds >= 0
            now[0] += command.seconds
            woke_at.append(now[0])
            reply = None
    raise AssertionError("the wait never ended")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timings)
def test_a_wait_never_gives_up_before_its_deadline(t: dict) -> None:
    job = make_job(t)
    outcome, woke_at = drive(t, job)
    deadline = START + t["timeout"]
    latency = t["latency_fraction"] * min(t["poll_interval"], t["timeout"])
    assert all(woke <= deadline + EPSILON for woke in woke_at), "slept past the deadline"
    if job.finish is not None:
        assert isinstance(outcome, SegmentJob), f"gave up on a job that finished at +{job.finish:.3f} s"
        assert outcome.status == "SUCCEEDED"
    else:
        assert isinstance(outcome, AEPTimeoutError)
        # the last read is the one at the deadline (its answer left AEP at most one latency later)
        assert deadline - EPSILON <= job.reads[-1] <= deadline + latency + EPSILON


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(t=timings)
def test_an_unknown_status_is_warned_about_once_per_job(t: dict, caplog: pytest.LogCaptureFixture) -> None:
    job = make_job(t)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=waiting.log.name):
        drive(t, job)
    warnings = [r for r in caplog.records if "does not document" in r.getMessage()]
    read_unknown = [
        at
        for at in job.reads
        if job.unknown_from <= at - START < job.unknown_until
        and not (job.finish is not None and at - START >= job.finish - EPSILON)
    ]
    assert len(warnings) == (1 if read_unknown else 0), f"{len(read_unknown)} unknown reads"
    assert all(job.ident in r.getMessage() for r in warnings)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    interval=st.floats(1e-9, 3600, allow_nan=False),
    host=st.sampled_from(
        [
            "https://platform.adobe.io",
            "https://platform-va7.adobe.io:443",
            "http://127.0.0.1:8080",
            "http://localhost:5000",
            "http://[::1]:9000",
        ]
    ),
)
def test_aep_is_never_polled_faster_than_the_documented_floor(
    interval: float, host: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=waiting.log.name):
        used = waiting.floored_poll_interval(interval, platform_host=host, field_name="poll_interval")
    loopback = "127.0.0.1" in host or "localhost" in host or "[::1]" in host
    if loopback or interval >= waiting.MIN_POLL_INTERVAL_SECONDS:
        assert used == interval and not caplog.records
    else:
        assert used == waiting.MIN_POLL_INTERVAL_SECONDS
        [warning] = caplog.records
        assert "poll_interval" in warning.getMessage() and "floor of 5 s" in warning.getMessage()
