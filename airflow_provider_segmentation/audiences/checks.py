"""AEP's rules (``airflow_provider_segmentation.rules``) applied to audiences as code: the evaluation a
file declares (lint), the sandbox guardrails a plan would cross (plan), and the evaluation AEP stored
after a write (apply and the upsert operator). Nothing is decided here that ``rules`` decides.

The audience files do not say whether a merge policy is Active-on-Edge, so eligibility is judged with
``merge_policy_active_on_edge=None`` (unknown, not held against the audience); definitions written by
this tool are new or edited, so the current (2025-05-20) rules apply, never the legacy table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from airflow_provider_segmentation import pql, rules
from airflow_provider_segmentation.models import SegmentDefinition

# what each guardrail of ``rules.check_sandbox`` counts, to tell a limit this plan crosses or raises
# from one the sandbox was already past before it
_COUNTED_BY = {
    "sandbox.audiences": "total",
    "sandbox.batch": "batch",
    "sandbox.streaming": "streaming_including_edge",
    "sandbox.edge": "edge",
    "sandbox.compositions": "compositions",
    "sandbox.account-audiences": "account",
}


def eligibility_problem(expression: str, evaluation: str) -> rules.RuleFinding | None:
    """The finding when AEP would evaluate ``expression`` declared ``evaluation`` otherwise (silently);
    None when it keeps it (or the PQL does not parse: that is reported on its own)."""
    if evaluation == "batch":
        return None
    try:
        eligibility = rules.evaluation_method(expression, merge_policy_active_on_edge=None)
    except pql.PQLError:
        return None
    return rules.declared_method_problem(cast(rules.Method, evaluation), eligibility)


@dataclass(frozen=True)
class Downgrade:
    """AEP stored a definition with another evaluation than the one asked for (a silent downgrade)."""

    name: str
    id: str | None
    requested: str
    stored: str
    why: str

    @property
    def message(self) -> str:
        return (
            f"{self.name!r} ({self.id}): asked for {self.requested} evaluation, AEP stored {self.stored} "
            f"({self.why})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.id,
            "requested_evaluation": self.requested,
            "evaluation": self.stored,
            "why": self.why,
        }


def downgrade_of(requested: str, stored: SegmentDefinition, expression: str) -> Downgrade | None:
    """A ``Downgrade`` when AEP's answer ``stored`` has another evaluation than ``requested``; ``why`` is
    the rules' reason for ``expression`` (or says that this package's rules see none)."""
    if stored.evaluation_type == requested:
        return None
    problem = eligibility_problem(expression, requested)
    why = (
        str(problem)
        if problem is not None
        else "this package's rules find the expression eligible: AEP may also need the sandbox's "
        "Active-on-Edge merge policy, or the expression reads several entities (not visible in PQL)"
    )
    return Downgrade(stored.name, stored.id, requested, stored.evaluation_type, why)


def sandbox_after(
    existing: Iterable[SegmentDefinition],
    *,
    created: Sequence[Mapping[str, Any]] = (),
    updated: Mapping[str, Mapping[str, Any]] | None = None,
    deleted: Iterable[str] = (),
) -> list[SegmentDefinition]:
    """The definitions a sandbox holds after a change: ``existing`` without the ``deleted`` ids, the
    ``updated`` ones (id -> body) with the body's fields, and the ``created`` bodies."""
    gone, changes = set(deleted), dict(updated or {})
    after = []
    for definition in existing:
        if definition.id in gone:
            continue
        body = changes.get(definition.id or "")
        if body is not None:
            kept = definition.model_dump(by_alias=True, exclude_none=True)
            definition = SegmentDefinition.model_validate({**kept, **body})
        after.append(definition)
    after.extend(SegmentDefinition.model_validate(dict(body)) for body in created)
    return after


def guardrail_findings(
    before: Iterable[SegmentDefinition], after: Iterable[SegmentDefinition]
) -> list[rules.RuleFinding]:
    """The sandbox guardrails (``rules.check_sandbox``) that ``after`` is past. A limit the change crosses
    or raises keeps its severity (soft: warning, hard: error); one the sandbox was already past before,
    and that the change does not raise, only warns: AEP refuses adding to a hard limit, not other
    writes (as the emulator does)."""
    counts_before, counts_after = rules.sandbox_counts(before), rules.sandbox_counts(after)
    findings = []
    for found in rules.check_sandbox(counts_after):
        attribute = _COUNTED_BY[found.rule_id]
        if getattr(counts_after, attribute) > getattr(counts_before, attribute):
            findings.append(found)
        else:
            findings.append(
                rules.finding(
                    found.rule_id,
                    f"{found.message} (already past before this plan, which adds none)",
                    severity="warning",
                )
            )
    return findings


def finding_to_dict(found: rules.RuleFinding) -> dict[str, Any]:
    return {
        "rule_id": found.rule_id,
        "severity": found.severity,
        "message": found.message,
        "fix": found.fix,
        "source": found.source,
        "documented": found.documented,
        "url": found.url,
    }


def finding_from_dict(data: Mapping[str, Any]) -> rules.RuleFinding:
    """A finding read back from a plan's JSON; ``ValueError`` if it is not one."""
    if data.get("rule_id") not in rules.RULES or data.get("severity") not in ("error", "warning"):
        raise ValueError(f"not a rule finding: {data!r}")
    return rules.RuleFinding(
        rule_id=str(data["rule_id"]),
        severity=data["severity"],
        message=str(data.get("message") or ""),
        fix=str(data.get("fix") or ""),
        source=rules.RULES[str(data["rule_id"])].source,
        documented=bool(data.get("documented")),
    )
