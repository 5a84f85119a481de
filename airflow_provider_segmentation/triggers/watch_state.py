"""What a job watcher remembers, and the pure rule that reports each finished AEP job at most once.

**Each AEP job is reported at most once, also across triggerer restarts.** The watcher keeps a small
state: a *floor* (the creation time of the oldest watched job that was still running at the last poll,
or of the newest job when none was running) and the ids of the finished jobs at or above the floor
that it has already handled. A poll lists the jobs created at or after the floor, newest first (it
stops paging at the floor), and reports every job that is finished, has a wanted status (``statuses``,
``SUCCEEDED`` by default) and is not among the handled ids. Jobs created before the floor are never
looked at again, so the state stays small (a job still "running" 48 hours after its creation, such
as an export lost to a cancel, stops holding the floor back). On the very first start (no state yet)
the jobs already finished are recorded as handled without being reported: a new watcher does not
replay history, but a job running then is reported when it finishes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

STATE_VERSION = 1
# A job still "running" this long after its creation (a lost export, whose status after a cancel AEP
# does not document) stops holding the floor back, so that the state stays small.
MAX_RUNNING_MS = 48 * 3600 * 1000


@dataclass(frozen=True)
class WatchedJob:
    """One AEP job as the watcher sees it: whether it is finished, when it was created, its event."""

    id: str
    status: str
    finished: bool
    created_ms: int | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class WatchState:
    """What the watcher remembers between polls and across restarts (stored as JSON)."""

    started: bool = False
    floor: int | None = None  # creation time (epoch ms) below which no job is looked at
    handled: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "started": self.started,
            "floor": self.floor,
            "handled": list(self.handled),
        }

    @classmethod
    def from_json(cls, value: Any) -> WatchState | None:
        """The stored state, or None for nothing (or something this version cannot read)."""
        if not isinstance(value, dict) or value.get("version") != STATE_VERSION:
            return None
        floor = value.get("floor")
        return cls(
            started=bool(value.get("started")),
            floor=int(floor) if isinstance(floor, int | float) and not isinstance(floor, bool) else None,
            handled=tuple(str(i) for i in value.get("handled") or ()),
        )

    @classmethod
    def merged(cls, states: Iterable[WatchState]) -> WatchState:
        """One state from the copies in several assets' stores: the most advanced floor, every handled id."""
        found = list(states)
        if not found:
            return cls()
        floors = [s.floor for s in found if s.floor is not None]
        handled = sorted({i for s in found for i in s.handled})
        return cls(
            started=any(s.started for s in found),
            floor=max(floors) if floors else None,
            handled=tuple(handled),
        )


def plan(
    state: WatchState, jobs: Sequence[WatchedJob], statuses: Iterable[str], now_ms: int | None = None
) -> tuple[list[WatchedJob], WatchState]:
    """The jobs to report now, and the state that remembers them (pure; see the module's rule).

    ``jobs`` are the watched jobs created at or after ``state.floor`` (all of them when there is none);
    a job running for more than ``MAX_RUNNING_MS`` at ``now_ms`` no longer holds the floor back.
    """
    wanted = set(statuses)
    handled = set(state.handled)
    report: list[WatchedJob] = []
    for job in sorted(jobs, key=lambda j: (j.created_ms is None, j.created_ms or 0, j.id)):
        if not job.finished or job.id in handled:
            continue
        handled.add(job.id)
        if state.started and job.status in wanted:
            report.append(job)
    running = [
        j.created_ms
        for j in jobs
        if not j.finished
        and j.created_ms is not None
        and (now_ms is None or now_ms - j.created_ms <= MAX_RUNNING_MS)
    ]
    created = [j.created_ms for j in jobs if j.created_ms is not None]
    floor = min(running) if running else max(created) if created else state.floor
    if state.floor is not None and (floor is None or floor < state.floor):
        floor = state.floor
    # keep only what the next listing (created at or after the floor) can show again
    kept = {
        j.id
        for j in jobs
        if j.id in handled and (j.created_ms is None or floor is None or j.created_ms >= floor)
    }
    return report, WatchState(started=True, floor=floor, handled=tuple(sorted(kept)))
