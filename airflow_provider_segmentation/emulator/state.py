"""In-memory state of the emulator: one ``Sandbox`` per (org, sandbox name), plus tokens and faults.

Job life cycles are computed from elapsed time on the emulator's clock (``clock.EmulatorClock``: real
time unless a test freezes or steps it) when a job is read, so no background thread is needed: a segment
job spends ``job_step_seconds`` in each of NEW, QUEUED and PROCESSING. The audience is evaluated once,
the first time the job is seen as finished. Statuses are the enums of ``models``, AEP's own vocabulary.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from airflow_provider_segmentation.emulator.clock import EmulatorClock
from airflow_provider_segmentation.emulator.engine import AudienceEngine
from airflow_provider_segmentation.emulator.history import Population, population
from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID, EmulatorSettings
from airflow_provider_segmentation.models import ExportJobStatus, PreviewState, SegmentJobStatus

Status = SegmentJobStatus | ExportJobStatus | PreviewState

SEGMENT_JOB_STEPS: tuple[Status, ...] = (
    SegmentJobStatus.NEW,
    SegmentJobStatus.QUEUED,
    SegmentJobStatus.PROCESSING,
)
EXPORT_JOB_STEPS: tuple[Status, ...] = (ExportJobStatus.NEW, ExportJobStatus.PROCESSING)
PREVIEW_STEPS: tuple[Status, ...] = (PreviewState.NEW, PreviewState.RUNNING)
MEMBER_STATUSES = ("realized", "existing", "exited")
DEFAULT_MERGE_POLICY_ID = "timestampOrdered-none-mp"
# Epoch seconds are floats: a step of exactly job_step_seconds may land a rounding error short of it.
CLOCK_TOLERANCE = 1e-6
# AEP does not document the status of a cancelled export job; the emulator keeps the segment jobs' word.
EXPORT_CANCEL_STEPS: tuple[Status, Status] = (ExportJobStatus("CANCELLING"), ExportJobStatus("CANCELLED"))


@dataclass
class Job:
    """A segment job, an export job or a preview, with the emulator-clock times of its life cycle."""

    body: dict[str, Any]
    started: float
    steps: tuple[Status, ...]
    final: Status = SegmentJobStatus.SUCCEEDED
    cancel_steps: tuple[Status, Status] = (SegmentJobStatus.CANCELLING, SegmentJobStatus.CANCELLED)
    cancelled_at: float | None = None
    finished: bool = False


@dataclass
class Sandbox:
    name: str
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    segment_jobs: dict[str, Job] = field(default_factory=dict)
    export_jobs: dict[str, Job] = field(default_factory=dict)
    previews: dict[str, Job] = field(default_factory=dict)
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)
    audiences: dict[str, dict[str, Any]] = field(default_factory=dict)
    # segment id -> member status -> profile ids, from the latest successful evaluation
    memberships: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    # dataset id -> batch id -> records
    batches: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    # expression -> (members, members per identity namespace), valid while no segment's members change:
    # a thousand jobs of one definition evaluate it once, as AEP computes counts inside the job itself
    selections: dict[str, tuple[frozenset[str], dict[str, int]]] = field(default_factory=dict)
    selections_population: Population | None = None  # the day the selections above were made on

    def realized(self) -> dict[str, set[str]]:
        """Profiles in each segment (realized or existing), for ``inSegment``."""
        return {seg: s["realized"] | s["existing"] for seg, s in self.memberships.items()}


class EmulatorState:
    """Everything the emulator remembers; guarded by one lock (the app is I/O-light)."""

    def __init__(self, settings: EmulatorSettings, engine: AudienceEngine) -> None:
        self.settings = settings
        self.engine = engine
        self.lock = threading.RLock()
        self.clock = EmulatorClock(settings.clock)
        self._ids = itertools.count(1000)
        self._startup_rules = settings.rules  # frozen copies replace it on PATCH, so it stays as started
        self._startup_history = settings.history
        self.reset()

    def now(self) -> float:
        """The emulator's time in seconds (see ``clock``)."""
        return self.clock.now()

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def reset(self) -> None:
        """Forget everything; the clock goes back to its source, the rules and the history settings to
        their start-up values, and the history's start day to the clock's day."""
        with self.lock:
            self.clock.reset()
            self.settings.rules = self._startup_rules
            self.settings.history = self._startup_history
            self.start_day = datetime.fromtimestamp(self.clock.now(), tz=timezone.utc).date()
            self.sandboxes = {name: Sandbox(name) for name in self.settings.sandboxes}
            self.tokens: dict[str, float] = {}
            self.request_log: list[dict[str, Any]] = []
            self.faults: dict[str, Any] = {}

    def population(self, at: float) -> Population:
        """The profiles an evaluation at epoch second ``at`` (emulator clock) sees."""
        return population(self.settings.history, self.start_day, at)

    def next_number(self) -> int:
        return next(self._ids)

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    def datasets(self) -> list[dict[str, str]]:
        return [
            {
                "id": PROFILE_DATASET_ID,
                "name": "Emulator profile export dataset",
                "schema": "https://ns.adobe.com/xdm/context/profile__union",
            }
        ]

    # -- life cycles ---------------------------------------------------------------------------------

    def status_of(self, job: Job) -> Status:
        """The status a job has now, from the time it has spent in each step."""
        step = self.settings.job_step_seconds
        now = self.now() + CLOCK_TOLERANCE
        if job.cancelled_at is not None:
            cancelling, cancelled = job.cancel_steps
            return cancelled if now - job.cancelled_at >= step else cancelling
        # min() first: a tiny step makes the quotient infinite, which int() refuses
        index = max(0, int(min((now - job.started) / step, len(job.steps)))) if step > 0 else len(job.steps)
        return job.steps[index] if index < len(job.steps) else job.final

    def cancel(self, job: Job) -> None:
        """Start cancelling a job still in one of its steps; a finished one stays as it is."""
        if self.in_progress(job):
            job.cancelled_at = self.now()

    def in_progress(self, job: Job) -> bool:
        """Still in one of its steps (so it can be cancelled, and counts against the 429 limit)."""
        return job.cancelled_at is None and self.status_of(job) in job.steps

    def active_segment_jobs(self, sandbox: Sandbox) -> int:
        return sum(1 for job in sandbox.segment_jobs.values() if self.in_progress(job))
