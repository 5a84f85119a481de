"""AEP's documented rules, in one place, as pure functions returning data (no Airflow, no HTTP).

Lint and plan, the operators (through the client, which raises a typed error built from the findings)
and the emulator all use these. ``catalogue.RULES`` lists every rule with its limit, source and whether
Adobe documents it; each check returns ``RuleFinding`` objects (severity ``error`` refuses, ``warning``
warns) whose messages name the offending ids or values and the fix.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from airflow_provider_segmentation.rules.catalogue import RULES, SOURCES, Rule, RuleFinding, finding
from airflow_provider_segmentation.rules.kinds import Method
from airflow_provider_segmentation.rules.on_demand import (
    MAX_ON_DEMAND_IDS,
    OnDemandAllowance,
    OnDemandRun,
    OnDemandUsage,
    check_on_demand_ids,
    check_quota,
    is_on_demand_run,
    on_demand_usage,
)

# Loaded on first use: eligibility parses PQL and the guardrails read cron, so a task that only creates
# or reads a job (the client's on-demand check needs the names above) does not import the PQL parser.
_LAZY_HOMES = {
    **dict.fromkeys(
        (
            "ELIGIBILITY_UPDATE",
            "Eligibility",
            "Reason",
            "declared_method_problem",
            "evaluation_method",
            "resolved_method",
            "uses_legacy_rules",
        ),
        "eligibility",
    ),
    **dict.fromkeys(
        (
            "SandboxCounts",
            "check_sandbox",
            "check_schedule_frequency",
            "sandbox_counts",
            "schedule_fires_more_than_once_a_day",
        ),
        "guardrails",
    ),
}

if TYPE_CHECKING:
    from airflow_provider_segmentation.rules.eligibility import (
        ELIGIBILITY_UPDATE,
        Eligibility,
        Reason,
        declared_method_problem,
        evaluation_method,
        resolved_method,
        uses_legacy_rules,
    )
    from airflow_provider_segmentation.rules.guardrails import (
        SandboxCounts,
        check_sandbox,
        check_schedule_frequency,
        sandbox_counts,
        schedule_fires_more_than_once_a_day,
    )

__all__ = [
    "ELIGIBILITY_UPDATE",
    "MAX_ON_DEMAND_IDS",
    "RULES",
    "SOURCES",
    "Eligibility",
    "Method",
    "OnDemandAllowance",
    "OnDemandRun",
    "OnDemandUsage",
    "Reason",
    "Rule",
    "RuleFinding",
    "SandboxCounts",
    "check_on_demand_ids",
    "check_quota",
    "check_sandbox",
    "check_schedule_frequency",
    "declared_method_problem",
    "evaluation_method",
    "finding",
    "is_on_demand_run",
    "on_demand_usage",
    "resolved_method",
    "sandbox_counts",
    "schedule_fires_more_than_once_a_day",
    "uses_legacy_rules",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY_HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY_HOMES[name]}"), name)
