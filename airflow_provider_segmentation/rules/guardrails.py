"""Sandbox guardrails [S-GR] and the once-a-day schedule rule [S-SCHED].

Audience counts per sandbox are performance (soft) guardrails: AEP accepts more and slows down, so they
warn; account audiences are system-enforced (hard: the UI disables "Create audience" at 50), so they
refuse. A limit is the largest number allowed: a sandbox holding more is past it (check the counts a
change would leave). Counted: draft and published audiences, not inactive or deleted ones [S-FAQ];
"audiences" are the batch, streaming and edge ones together (streaming includes edge: 500); INFER:
compositions are audiences of origin ``AUDIENCE_ORCHESTRATION`` and count only when published, and
externally generated audiences (custom upload, Audience Manager) count toward none of the evaluated
limits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from airflow_provider_segmentation.cron import QuartzCron
from airflow_provider_segmentation.rules.catalogue import RuleFinding, finding
from airflow_provider_segmentation.rules.kinds import (
    COMPOSITION,
    SEGMENTATION_SERVICE,
    AudienceLike,
    counts_toward_limits,
    is_account,
    lifecycle_of,
    method_of,
    origin_of,
)

MAX_AUDIENCES = 4000
MAX_BATCH = 4000
MAX_BATCH_WITH_FLEXIBLE_SCHEDULES = 10_000
MAX_STREAMING_INCLUDING_EDGE = 500
MAX_EDGE = 150
MAX_PUBLISHED_COMPOSITIONS = 10
MAX_ACCOUNT_AUDIENCES = 50


@dataclass(frozen=True)
class SandboxCounts:
    """Audiences of one sandbox that count toward the guardrails, by kind (``streaming`` excludes edge)."""

    batch: int = 0
    streaming: int = 0
    edge: int = 0
    account: int = 0
    compositions: int = 0  # published

    @property
    def total(self) -> int:
        return self.batch + self.streaming + self.edge

    @property
    def streaming_including_edge(self) -> int:
        return self.streaming + self.edge


def sandbox_counts(audiences: Iterable[AudienceLike]) -> SandboxCounts:
    """Count a sandbox's definitions or audiences (each once: pass one listing, not both)."""
    tally = {"batch": 0, "streaming": 0, "edge": 0, "account": 0, "compositions": 0}
    for item in audiences:
        if not counts_toward_limits(item):
            continue
        origin = origin_of(item)
        if origin == COMPOSITION:
            tally["compositions"] += lifecycle_of(item) in ("published", "active")
        elif origin == SEGMENTATION_SERVICE:
            tally[method_of(item)] += 1
            tally["account"] += is_account(item)
    return SandboxCounts(**tally)


def check_sandbox(counts: SandboxCounts, *, flexible_batch_schedules: bool = False) -> list[RuleFinding]:
    """The guardrails a sandbox holding ``counts`` is past: soft ones warn, the account limit refuses."""
    max_batch = MAX_BATCH_WITH_FLEXIBLE_SCHEDULES if flexible_batch_schedules else MAX_BATCH
    limits = (
        ("sandbox.audiences", "audiences (batch, streaming and edge)", counts.total, MAX_AUDIENCES),
        ("sandbox.batch", "batch audiences", counts.batch, max_batch),
        ("sandbox.streaming", "streaming audiences (edge included)", counts.streaming_including_edge,
         MAX_STREAMING_INCLUDING_EDGE),
        ("sandbox.edge", "edge audiences", counts.edge, MAX_EDGE),
        ("sandbox.compositions", "published compositions", counts.compositions, MAX_PUBLISHED_COMPOSITIONS),
        ("sandbox.account-audiences", "account audiences", counts.account, MAX_ACCOUNT_AUDIENCES),
    )  # fmt: skip
    return [
        finding(rule_id, f"the sandbox would hold {count:,} {what}; the limit is {limit:,}")
        for rule_id, what, count, limit in limits
        if count > limit
    ]


def schedule_fires_more_than_once_a_day(cron: str | QuartzCron) -> bool:
    """Does a Quartz cron fire more than once within some 24 hours? Any two times of one day are less
    than 24 hours apart, so it does exactly when it names more than one time of day (a valid cron fires
    on some day; ``check_quartz_cron`` refuses one that never fires). Raises ``QuartzCronError``."""
    parsed = cron if isinstance(cron, QuartzCron) else QuartzCron.parse(cron)
    return len(parsed.seconds) * len(parsed.minutes) * len(parsed.hours) > 1


def check_schedule_frequency(cron: str | QuartzCron) -> RuleFinding | None:
    """A finding when the cron runs a segmentation schedule more than once a day."""
    parsed = cron if isinstance(cron, QuartzCron) else QuartzCron.parse(cron)
    if not schedule_fires_more_than_once_a_day(parsed):
        return None
    times = len(parsed.seconds) * len(parsed.minutes) * len(parsed.hours)
    return finding(
        "schedule.once-a-day",
        f"the schedule {parsed.expression!r} fires {times} times on each day it runs; AEP runs a "
        "segmentation schedule at most once a day",
    )
