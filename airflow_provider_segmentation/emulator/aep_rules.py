"""AEP's documented rules, enforced by the emulator through the package's one rules home
(``airflow_provider_segmentation.rules``): this module only decides when to ask and how to answer.

Enforced by default, each switched by ``settings.RuleSettings`` (``PATCH /_emulator/settings
{"rules": {...}}``; a reset puts back the start-up values):
- on-demand segment jobs: at most 20 ids; 2 runs per sandbox per UTC day on the emulator's clock and
  50 (production) / 100 (development) per contract year, counted from the sandbox's own jobs as a client
  counts them (scheduled and run-all jobs do not count); ids that are not batch, people-based
  Segmentation Service audiences are refused (or dropped);
- definitions declared streaming or edge that AEP evaluates as batch are stored as batch, silently;
- a schedule's cron fires at most once a day;
- at most 50 account audiences per sandbox (the soft guardrails are accepted, as AEP accepts them).
Not enforced: one Active-on-Edge merge policy per sandbox (the emulator has no merge-policy API).

Adobe documents no status, code or body for these refusals: the emulator answers
``rule_refusal_status`` (default 400, an assumption) with ``error_code`` (default the rule id), ``title``,
``detail`` (the rule's message and fix), ``rule`` and, for the quota, ``resetsAt``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from airflow_provider_segmentation import rules
from airflow_provider_segmentation.emulator.settings import RuleSettings
from airflow_provider_segmentation.emulator.state import EmulatorState, Job, Sandbox
from airflow_provider_segmentation.models import Audience, SegmentDefinition, SegmentJob
from airflow_provider_segmentation.pql import parse
from airflow_provider_segmentation.rules.kinds import AudienceLike, is_account
from airflow_provider_segmentation.rules.pql_facts import analyse

ORIGIN_RULES = ("on-demand.origin", "on-demand.batch-only", "on-demand.people-based")
ERROR_TYPE = "https://ns.adobe.com/aep/errors/"


class RuleRefused(Exception):
    """A request AEP refuses under one of its documented rules (answered by ``refusal_response``)."""

    def __init__(self, finding: rules.RuleFinding, resets_at: datetime | None = None) -> None:
        super().__init__(str(finding))
        self.finding = finding
        self.resets_at = resets_at


async def refusal_response(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RuleRefused)
    settings: RuleSettings = request.app.state.emulator.settings.rules
    found, status = exc.finding, settings.rule_refusal_status
    code = settings.rule_refusal_error_code or found.rule_id
    body: dict[str, Any] = {
        "error_code": code,
        "message": str(found),
        "type": ERROR_TYPE + code,
        "title": rules.RULES[found.rule_id].what,
        "detail": str(found),
        "status": status,
        "rule": found.rule_id,
        "requestId": request.headers.get("x-request-id", ""),
    }
    if exc.resets_at is not None:
        body["resetsAt"] = exc.resets_at.isoformat().replace("+00:00", "Z")
    return JSONResponse(body, status_code=status)


# -- settings ------------------------------------------------------------------------------------------


def changed_rules(current: RuleSettings, changes: Any) -> RuleSettings:
    """``current`` with ``changes`` (an object of rule settings) applied; ``ValueError`` names a bad one."""
    if not isinstance(changes, dict):
        raise ValueError("rules takes an object of rule settings")
    fields = {f.name for f in dataclasses.fields(RuleSettings)}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise ValueError(f"unknown rule settings {unknown}; known: {sorted(fields)}")
    for key, value in changes.items():
        _check_rule_setting(key, value)
    values: dict[str, Any] = {k: tuple(v) if k == "production_sandboxes" else v for k, v in changes.items()}
    return dataclasses.replace(current, **values)


def _check_rule_setting(key: str, value: Any) -> None:
    default = getattr(RuleSettings(), key)
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif key in ("daily_on_demand_runs", "yearly_on_demand_runs"):
        ok = (value is None and key == "yearly_on_demand_runs") or (
            isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10**6
        )
    elif key == "rule_refusal_status":
        ok = isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 499
    elif key == "production_sandboxes":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif key == "on_demand_origin_checks":
        ok = value in ("refuse", "drop", "off")
    elif key == "rule_refusal_error_code":
        ok = value is None or (isinstance(value, str) and bool(value))
    else:  # contract_start
        ok = isinstance(value, str) and _contract_start(value) is not None
    if not ok:
        raise ValueError(f"bad value {value!r} for rules.{key} (default {default!r})")


def _contract_start(text: str) -> tuple[int, int] | None:
    month, _, day = text.partition("-")
    try:
        rules.OnDemandAllowance(contract_start_month=int(month), contract_start_day=int(day))
    except ValueError:
        return None
    return int(month), int(day)


def allowance(settings: RuleSettings, sandbox: str) -> rules.OnDemandAllowance:
    month, day = _contract_start(settings.contract_start) or (1, 1)
    return rules.OnDemandAllowance(
        sandbox_type=settings.sandbox_type(sandbox),
        daily=settings.daily_on_demand_runs,
        yearly=settings.yearly_on_demand_runs,
        contract_start_month=month,
        contract_start_day=day,
        enabled=settings.enforce_on_demand_quota,
    )


# -- on-demand segment jobs ----------------------------------------------------------------------------


def _utc(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)


def counted_jobs(jobs: Iterable[Job]) -> list[SegmentJob]:
    """A sandbox's segment jobs as a client reads them (``rules.on_demand_usage`` picks the runs)."""
    fields = ("id", "status", "source", "segments", "properties", "creationTime")
    return [SegmentJob.model_validate({k: job.body[k] for k in fields}) for job in jobs]


def on_demand_ids(state: EmulatorState, sandbox: Sandbox, segment_ids: Sequence[str]) -> list[str]:
    """The ids an on-demand job of ``segment_ids`` evaluates (ids refused by the origin checks dropped
    when so configured); raises ``RuleRefused`` for a job AEP refuses. Call under the state lock."""
    settings = state.settings.rules
    definitions = [
        SegmentDefinition.model_validate(sandbox.definitions[i]) for i in dict.fromkeys(segment_ids)
    ]
    findings = rules.check_on_demand_ids(segment_ids, definitions)
    if settings.enforce_on_demand_ids:
        _refuse_any(f for f in findings if f.rule_id == "on-demand.max-ids")
    origin = [f for f in findings if f.rule_id in ORIGIN_RULES]
    if origin and settings.on_demand_origin_checks == "refuse":
        raise RuleRefused(origin[0])
    if origin and settings.on_demand_origin_checks == "drop":
        # the UI's documented behaviour: the ineligible audiences are left out of the job
        eligible = {d.id for d in definitions if not rules.check_on_demand_ids([str(d.id)], [d])}
        kept = [i for i in segment_ids if i in eligible]
        if not kept:
            raise RuleRefused(origin[0])
        segment_ids = kept
    if not settings.enforce_on_demand_quota:
        return list(segment_ids)
    allowed = allowance(settings, sandbox.name)
    usage = rules.on_demand_usage(counted_jobs(sandbox.segment_jobs.values()), _utc(state.now()), allowed)
    quota = rules.check_quota(usage, allowed)
    if quota is not None:
        yearly = quota.rule_id == "on-demand.yearly-runs"
        raise RuleRefused(quota, usage.yearly_reset if yearly else usage.daily_reset)
    return list(segment_ids)


def _refuse_any(findings: Iterable[rules.RuleFinding]) -> None:
    for found in findings:
        raise RuleRefused(found)


# -- definitions, schedules, guardrails ----------------------------------------------------------------


def resolved_evaluation_info(
    state: EmulatorState, sandbox: Sandbox, pql: str, declared_info: Any
) -> dict[str, dict[str, bool]]:
    """The ``evaluationInfo`` AEP stores for a definition of ``pql`` declared with ``declared_info``: the
    declared method when the expression is eligible for it, else the one AEP falls back to (silently)."""
    declared: rules.Method = SegmentDefinition(
        evaluationInfo=declared_info if isinstance(declared_info, dict) else None
    ).evaluation_type  # type: ignore[assignment]
    method = declared
    if state.settings.rules.resolve_evaluation_method and declared != "batch":
        tree = parse(pql)
        targets = set(analyse(tree).in_segment_ids)
        profile_only = [
            target
            for target in targets
            if target in sandbox.definitions
            and not analyse(parse(sandbox.definitions[target]["expression"]["value"])).events
        ]
        method = rules.resolved_method(
            declared, rules.evaluation_method(tree, profile_only_segments=profile_only)
        )
    return {
        "batch": {"enabled": method == "batch"},
        "continuous": {"enabled": method == "streaming"},
        "synchronous": {"enabled": method == "edge"},
    }


def check_schedule(state: EmulatorState, cron: str) -> None:
    """Refuse a schedule whose (valid) cron fires more than once a day."""
    if state.settings.rules.schedule_once_a_day:
        _refuse_any(filter(None, [rules.check_schedule_frequency(cron)]))


def check_account_audiences(state: EmulatorState, sandbox: Sandbox, item: dict[str, Any]) -> None:
    """Refuse an account audience (definition or audience) that would take the sandbox past 50; the
    soft guardrails are accepted, as AEP accepts them."""
    if not state.settings.rules.account_audience_limit:
        return
    new_audience = SegmentDefinition.model_validate(item)
    if not is_account(new_audience):
        return
    ident = item.get("id")
    held: list[AudienceLike] = [
        SegmentDefinition.model_validate(d) for d in sandbox.definitions.values() if d.get("id") != ident
    ]
    held += [Audience.model_validate(a) for a in sandbox.audiences.values() if a.get("id") != ident]
    counts = rules.sandbox_counts([*held, new_audience])
    _refuse_any(f for f in rules.check_sandbox(counts) if f.rule_id == "sandbox.account-audiences")
