"""On-demand segment jobs (``POST /segment/jobs`` with explicit ids) are AEP's "flexible audience
evaluation": at most 20 ids, 2 runs per sandbox per UTC day, 50 (production) or 100 (development) per
contract year, and only batch, people-based audiences of origin Segmentation Service. [S-FAE]

What is DOC and what is INFER is said where it is decided. In short, INFER:
- a run is a job of ``source: "api"`` with explicit ids; ``source: "scheduler"`` (or a
  ``properties.scheduleId``) is the nightly/scheduled job, which does not count; a run-all (``"*"``) job is
  the older generic form and is not counted as a flexible evaluation; every created run counts whatever
  its status (Adobe: runs "created via API or UI" count);
- the contract year starts at 00:00 UTC on the anniversary (Adobe gives the day, not the hour); an
  anniversary on 29 February falls on 28 February in other years.
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from airflow_provider_segmentation.models import SegmentJob
from airflow_provider_segmentation.rules.catalogue import RuleFinding, finding
from airflow_provider_segmentation.rules.kinds import (
    PROFILE_SCHEMA,
    SEGMENTATION_SERVICE,
    AudienceLike,
    method_of,
    origin_of,
    schema_of,
)

MAX_ON_DEMAND_IDS = 20
RUN_ALL = "*"
YEARLY_RUNS = {"production": 50, "development": 100}
SandboxType = Literal["production", "development"]


@dataclass(frozen=True)
class OnDemandAllowance:
    """A sandbox's on-demand allowance. Defaults are Adobe's documented ones; ``yearly`` overrides the
    sandbox type's (runs bought through Adobe Customer Care); ``enabled=False`` turns the quota check
    off (an org whose AEP does not apply flexible evaluation's quota)."""

    sandbox_type: SandboxType = "production"
    daily: int = 2
    yearly: int | None = None
    contract_start_month: int = 1
    contract_start_day: int = 1
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.sandbox_type not in YEARLY_RUNS:
            raise ValueError(f"sandbox_type must be 'production' or 'development', not {self.sandbox_type!r}")
        for name in ("daily", "yearly"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise ValueError(f"{name} must be a whole number of runs, 0 or more, not {value!r}")
        month, day = self.contract_start_month, self.contract_start_day
        if not (isinstance(month, int) and 1 <= month <= 12):
            raise ValueError(f"contract_start_month must be 1-12, not {month!r}")
        if not (isinstance(day, int) and 1 <= day <= calendar.monthrange(2024, month)[1]):
            raise ValueError(f"contract_start_day {day!r} is not a day of month {month}")

    @property
    def yearly_limit(self) -> int:
        return YEARLY_RUNS[self.sandbox_type] if self.yearly is None else self.yearly

    def year_start(self, now: datetime) -> datetime:
        """The start (00:00 UTC on the anniversary) of the contract year that holds ``now``."""
        now = _utc(now)
        start = self.anniversary(now.year)
        return start if start <= now else self.anniversary(now.year - 1)

    def anniversary(self, year: int) -> datetime:
        """00:00 UTC on the contract anniversary in ``year`` (29 February: 28 February in other years)."""
        day = min(self.contract_start_day, calendar.monthrange(year, self.contract_start_month)[1])
        return datetime(year, self.contract_start_month, day, tzinfo=timezone.utc)


@dataclass(frozen=True)
class OnDemandRun:
    job_id: str
    created_at: datetime  # UTC

    def __str__(self) -> str:
        return f"{self.job_id} at {self.created_at:%Y-%m-%d %H:%M:%S} UTC"


@dataclass(frozen=True)
class OnDemandUsage:
    """The runs that used a sandbox's allowance: today's (UTC) and this contract year's, oldest first."""

    now: datetime
    today: tuple[OnDemandRun, ...]
    this_year: tuple[OnDemandRun, ...]
    daily_reset: datetime  # the next 00:00 UTC
    yearly_reset: datetime  # the next contract anniversary, 00:00 UTC


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"{when!r} has no timezone; pass an aware datetime (e.g. UTC)")
    return when.astimezone(timezone.utc)


def is_run_all(segment_ids: Iterable[str]) -> bool:
    return RUN_ALL in segment_ids


def is_on_demand_run(job: SegmentJob) -> bool:
    """Is ``job`` a flexible evaluation run (it counts toward the allowance)?

    DOC: the API's job has ``source: "api"``; the nightly scheduled job does not count. INFER: a job of
    ``source: "scheduler"`` or with ``properties.scheduleId`` is scheduled; a job without a source is
    counted (to be safe); a run-all job (``"*"``) is the generic form, not a flexible evaluation.
    """
    source = (job.source or "api").lower()
    if source != "api" or job.properties.get("scheduleId"):
        return False
    return bool(job.segment_ids) and not is_run_all(job.segment_ids)


def on_demand_usage(
    jobs: Iterable[SegmentJob],
    now: datetime,
    allowance: OnDemandAllowance,
    *,
    exclude_job_id: str | None = None,
) -> OnDemandUsage:
    """The on-demand runs among ``jobs`` (a sandbox's job listing) that count today and this contract year.

    A job listed twice (pages that shift while listed) counts once; ``exclude_job_id`` leaves out the
    job a retried task re-attaches to, so that it is not counted against its own retry. A job without a
    creation time cannot be placed in a day and is left out (AEP sends ``creationTime`` on every job).
    A job created "after" ``now`` (clocks apart) counts as today's.
    """
    now = _utc(now)
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    year_start = allowance.year_start(now)
    runs: dict[str, OnDemandRun] = {}
    for job in jobs:
        created = job.created_at
        if job.id == exclude_job_id or created is None or not is_on_demand_run(job):
            continue
        runs.setdefault(job.id, OnDemandRun(job.id, created))
    ordered = sorted(runs.values(), key=lambda run: (run.created_at, run.job_id))
    return OnDemandUsage(
        now=now,
        today=tuple(run for run in ordered if run.created_at >= day_start),
        this_year=tuple(run for run in ordered if run.created_at >= year_start),
        daily_reset=day_start + timedelta(days=1) if day_start < _LAST_DAY else _CALENDAR_END,
        yearly_reset=allowance.anniversary(year_start.year + 1) if year_start.year < 9999 else _CALENDAR_END,
    )


# A reset past the calendar (a clock on 9999-12-31) is its last instant: nothing resets after it.
_CALENDAR_END = datetime.max.replace(tzinfo=timezone.utc)
_LAST_DAY = _CALENDAR_END.replace(hour=0, minute=0, second=0, microsecond=0)


def _listed(runs: Sequence[OnDemandRun]) -> str:
    shown = ", ".join(map(str, runs[-5:]))
    return f"{len(runs) - 5} earlier and {shown}" if len(runs) > 5 else shown or "none"


def check_quota(
    usage: OnDemandUsage, allowance: OnDemandAllowance, runs_to_spend: int = 1
) -> RuleFinding | None:
    """A finding when ``runs_to_spend`` more runs would pass the yearly or the daily allowance (the
    yearly one first: its reset is later), naming the runs that used it and when it resets."""
    if not allowance.enabled or runs_to_spend <= 0:
        return None
    if len(usage.this_year) + runs_to_spend > allowance.yearly_limit:
        return finding(
            "on-demand.yearly-runs",
            f"the {allowance.sandbox_type} sandbox has used {len(usage.this_year)} of its "
            f"{allowance.yearly_limit} on-demand runs this contract year (runs: {_listed(usage.this_year)}); "
            f"the allowance resets at {usage.yearly_reset:%Y-%m-%d %H:%M} UTC",
        )
    if len(usage.today) + runs_to_spend > allowance.daily:
        return finding(
            "on-demand.daily-runs",
            f"the sandbox has used {len(usage.today)} of its {allowance.daily} on-demand runs today "
            f"(UTC; runs: {_listed(usage.today)}); the allowance resets at "
            f"{usage.daily_reset:%Y-%m-%d %H:%M} UTC",
        )
    return None


def check_on_demand_ids(
    segment_ids: Sequence[str],
    definitions: Iterable[AudienceLike] = (),
    *,
    max_ids: int = MAX_ON_DEMAND_IDS,
) -> list[RuleFinding]:
    """What is wrong with evaluating ``segment_ids`` on demand: more than ``max_ids``, an id listed twice,
    ``"*"`` (run-all), and, for the ids found among ``definitions``, an audience that is not batch,
    not people-based or not of origin Segmentation Service. Ids not among ``definitions`` are not judged.
    """
    ids = [str(i) for i in segment_ids]
    findings: list[RuleFinding] = []
    if is_run_all(ids):
        if len(ids) == 1:
            return [finding("on-demand.run-all", "the job evaluates every segment definition ('*')")]
        findings.append(finding("on-demand.run-all-mixed", f"'*' is listed with {len(ids) - 1} other id(s)"))
        ids = [i for i in ids if i != RUN_ALL]
    if len(ids) > max_ids:
        findings.append(
            finding(
                "on-demand.max-ids",
                f"the job lists {len(ids)} segment definition ids; an on-demand job takes at most {max_ids}",
            )
        )
    repeated = sorted(i for i, count in Counter(ids).items() if count > 1)
    if repeated:
        findings.append(finding("on-demand.duplicate-ids", f"listed more than once: {', '.join(repeated)}"))
    listed = set(ids)
    known = {d.id: d for d in definitions if d.id in listed}
    problems = {
        "on-demand.batch-only": [
            f"{i} ({method_of(d)})" for i, d in known.items() if method_of(d) != "batch"
        ],
        "on-demand.people-based": [
            f"{i} (schema {schema_of(d)})" for i, d in known.items() if schema_of(d) != PROFILE_SCHEMA
        ],
        "on-demand.origin": [
            f"{i} (origin {origin_of(d)})" for i, d in known.items() if origin_of(d) != SEGMENTATION_SERVICE
        ],
    }
    what = {
        "on-demand.batch-only": "not batch-evaluated",
        "on-demand.people-based": "not people-based",
        "on-demand.origin": "not of origin Segmentation Service (REAL_TIME_CUSTOMER_PROFILE)",
    }
    for rule_id, offending in problems.items():
        if offending:
            findings.append(finding(rule_id, f"{what[rule_id]}: {', '.join(sorted(offending))}"))
    return findings
