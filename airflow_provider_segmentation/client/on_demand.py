"""AEP's on-demand (flexible) evaluation guardrails, applied on the create path of segment jobs.

``SegmentationClient.execute`` runs ``check_on_demand`` once before it sends a ``createSegmentJob``
(never when the call flow adopts the job of a create whose answer was lost, nor when a retried task
re-attaches to its job: neither sends a new create). The rules themselves are ``rules.on_demand``'s;
this module only gathers what they need, from AEP itself and not from local state:

1. the ids alone (more than 20, duplicates, ``"*"``): no request;
2. the definitions (batch, people-based, origin Segmentation Service): one ``bulk-get``;
3. the sandbox's on-demand runs today (UTC) and this contract year: the sandbox's job listing, newest
   first, 100 a page, read until a job older than the contract year's start (one page for a sandbox
   with fewer than 100 jobs in the year). "Now" is AEP's clock (the ``Date`` of its answers).

So a check typically costs 2 requests; none when the ids alone break a rule, or ``aep_rules`` is "off".
Adobe documents no error for any of these refusals; the limits are its documented ones, configurable
per connection (``ClientConfig.on_demand``, ``ClientConfig.aep_rules``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

from airflow_provider_segmentation.client.api.definitions import SegmentDefinitions
from airflow_provider_segmentation.client.api.segment_jobs import SegmentJobs
from airflow_provider_segmentation.client.config import ClientConfig
from airflow_provider_segmentation.client.errors import AEPGuardrailError
from airflow_provider_segmentation.client.operations import Operation
from airflow_provider_segmentation.models import SegmentJob
from airflow_provider_segmentation.rules import (
    RuleFinding,
    check_on_demand_ids,
    check_quota,
    on_demand_usage,
)

log = logging.getLogger("airflow_provider_segmentation.client")

JOBS_PAGE = 100
RELAX = (
    "to relax it, set the connection's extra aep_rules to 'warn' (log and send) or 'off', or raise "
    "on_demand_daily_runs / on_demand_yearly_runs (runs bought through Adobe Customer Care)"
)
Execute = Callable[[Operation[Any]], Any]


def created_segment_ids(operation: Operation[Any]) -> list[str] | None:
    """The ids a ``createSegmentJob`` would evaluate, or None for any other operation."""
    if operation.name != "createSegmentJob" or operation.body is None:
        return None
    return [str(entry.get("segmentId")) for entry in json.loads(operation.body) if isinstance(entry, dict)]


def check_on_demand(
    execute: Execute, config: ClientConfig, segment_ids: Sequence[str], now: Callable[[], datetime]
) -> list[RuleFinding]:
    """Refuse (``AEPGuardrailError``) a segment job for ``segment_ids`` that AEP's on-demand rules refuse,
    or that would pass the sandbox's allowance; return the findings that only warn (logged here).

    ``execute`` runs a read (the client's); ``now`` is AEP's time, asked after the reads.
    With ``aep_rules="warn"`` every finding is logged and nothing is refused; with "off" nothing is read.
    """
    if config.aep_rules == "off":
        return []
    ids = [str(i) for i in segment_ids]
    findings = check_on_demand_ids(ids)
    explicit = [i for i in dict.fromkeys(ids) if i != "*"]
    if explicit and not _refuses(findings, config):
        definitions = execute(SegmentDefinitions.bulk_get_segment_definitions.build(explicit))
        findings = check_on_demand_ids(ids, definitions.values())
        if not _refuses(findings, config) and config.on_demand.enabled:
            jobs = list(_jobs_this_year(execute, config, now))
            usage = on_demand_usage(jobs, now(), config.on_demand)
            quota = check_quota(usage, config.on_demand)
            findings += [quota] if quota is not None else []
    if _refuses(findings, config):
        errors = [f for f in findings if f.severity == "error"]
        raise AEPGuardrailError(
            f"the segment job for {', '.join(ids[:25])}{' ...' if len(ids) > 25 else ''} was not sent: "
            + "; ".join(f"{f} ({f.url})" for f in errors)
            + f"; {RELAX}",
            findings=errors,
            field="segment_ids",
        )
    for found in findings:
        log.warning("AEP rule %s: %s (%s)", found.rule_id, found, found.url)
    return findings


def _refuses(findings: Sequence[RuleFinding], config: ClientConfig) -> bool:
    return config.aep_rules == "enforce" and any(f.severity == "error" for f in findings)


def _jobs_this_year(
    execute: Execute, config: ClientConfig, now: Callable[[], datetime]
) -> Iterator[SegmentJob]:
    """The sandbox's segment jobs, newest first, until the first page that reaches before the contract
    year's start (the year of AEP's "now", asked after the first page: its ``Date`` sets the clock)."""
    page = execute(SegmentJobs.list_segment_jobs.build(limit=JOBS_PAGE, sort="creationTime:desc"))
    year_start = config.on_demand.year_start(now())
    while True:
        yield from page.items
        oldest = min((j.created_at for j in page.items if j.created_at), default=None)
        if page.next is None or oldest is None or oldest < year_start:
            return
        page = execute(page.next)


def utc_now(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
