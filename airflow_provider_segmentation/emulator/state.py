"""In-memory state of the emulator: one ``Sandbox`` per (org, sandbox name), plus tokens and faults.

Job life cycles are computed from elapsed time when a job is read, so no background thread is needed:
a segment job spends ``job_step_seconds`` in each of NEW, QUEUED and PROCESSING. The audience is
evaluated once, the first time the job is seen as finished.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_segmentation.emulator.engine import AudienceEngine
from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID, EmulatorSettings

SEGMENT_JOB_STEPS = ("NEW", "QUEUED", "PROCESSING")
EXPORT_JOB_STEPS = ("NEW", "PROCESSING")
PREVIEW_STEPS = ("NEW", "RUNNING")
MEMBER_STATUSES = ("realized", "existing", "exited")


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Job:
    """A segment job, an export job or a preview, with its clock."""

    body: dict[str, Any]
    started: float
    steps: tuple[str, ...]
    final: str = "SUCCEEDED"
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

    def realized(self) -> dict[str, set[str]]:
        """Profiles in each segment (realized or existing), for ``inSegment``."""
        return {seg: s["realized"] | s["existing"] for seg, s in self.memberships.items()}


class EmulatorState:
    """Everything the emulator remembers; guarded by one lock (the app is I/O-light)."""

    def __init__(self, settings: EmulatorSettings, engine: AudienceEngine) -> None:
        self.settings = settings
        self.engine = engine
        self.lock = threading.RLock()
        self._ids = itertools.count(1000)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.sandboxes = {name: Sandbox(name) for name in self.settings.sandboxes}
            self.tokens: dict[str, float] = {}
            self.request_log: list[dict[str, Any]] = []
            self.faults: dict[str, Any] = {}

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

    def status_of(self, job: Job) -> str:
        """The status a job has now, from the time it has spent in each step."""
        step = self.settings.job_step_seconds
        now = time.time()
        if job.cancelled_at is not None:
            return "CANCELLED" if now - job.cancelled_at >= step else "CANCELLING"
        index = int((now - job.started) / step) if step > 0 else len(job.steps)
        return job.steps[index] if index < len(job.steps) else job.final

    def active_segment_jobs(self, sandbox: Sandbox) -> int:
        return sum(
            1
            for job in sandbox.segment_jobs.values()
            if self.status_of(job) in ("NEW", "QUEUED", "PROCESSING")
        )
