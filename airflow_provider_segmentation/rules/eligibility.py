"""Which evaluation method AEP gives a segment definition, from its PQL: streaming, edge or batch.

AEP decides from the expression and silently evaluates an ineligible streaming/edge definition as batch
(DOC, [S-STRM-M], [S-ELIG]); no error is documented, so the lint reports the mismatch instead.

Current rules (definitions created or edited from 2025-05-20), DOC unless marked:
- events must lie within a window under 24 hours (``WHEN(today)``, ``< 24 hours before now``); a single
  event with a longer window or none is batch. INFER: a window of exactly 24 hours (``<= 24 hours``,
  ``<= 1 day``) is batch, and a window between fixed dates is not a relative window, so batch;
- no mixing of batch-only and streaming conditions; several events need one CHAIN (strict ordering);
  the whole event may not be negated;
- a single event with ``inSegment`` is never streaming; it is edge only when every ``inSegment`` target
  is profile-only (the caller knows which: ``profile_only_segments``);
- edge takes one event (no event history); "ignore year" and Audience Manager data are batch only
  (INFER: ignore-year is read from getMonth/getDayOfMonth/currentMonth/currentDayOfMonth);
- streaming and edge need an Active-on-Edge merge policy (``merge_policy_active_on_edge=False``: batch;
  ``None``: unknown, not held against it).
Multi-entity queries are also batch only, but PQL does not show them (a relationship field looks like
any other field): not checked.

Legacy rules (``legacy=True``, definitions not edited since 2025-05-20, section 2b): a single event may
have any window or none; several events must lie within 24 hours; a single event with ``inSegment`` is
allowed when the targets are profile-only; edge needs the Active-on-Edge merge policy (without it AEP
marks the audience streaming [S-MP-UI]); ignore-year and AAM stay batch only.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timezone

from airflow_provider_segmentation.pql import Node, parse
from airflow_provider_segmentation.rules.catalogue import RULES, RuleFinding, finding
from airflow_provider_segmentation.rules.kinds import Method
from airflow_provider_segmentation.rules.pql_facts import PqlFacts, Window, analyse

ELIGIBILITY_UPDATE = datetime(2025, 5, 20, tzinfo=timezone.utc)
"""Definitions created or edited from this day follow the current rules; older ones keep the legacy."""


def uses_legacy_rules(last_modified: datetime | None) -> bool:
    """Does a definition last modified at ``last_modified`` keep the pre-2025-05-20 eligibility?"""
    return last_modified is not None and last_modified.astimezone(timezone.utc) < ELIGIBILITY_UPDATE


@dataclass(frozen=True)
class Reason:
    """Why an expression is not streaming- or edge-eligible: which rule, in words, and what it blocks."""

    rule_id: str
    text: str
    blocks_streaming: bool
    blocks_edge: bool


@dataclass(frozen=True)
class Eligibility:
    """``method``: the most real-time method the expression qualifies for (edge, then streaming, else
    batch); ``streaming``/``edge``: whether it qualifies for each; ``problems``: why not."""

    method: Method
    streaming: bool
    edge: bool
    problems: tuple[Reason, ...] = ()

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(problem.text for problem in self.problems)


def _describe(window: Window | None) -> str:
    return "no time window" if window is None else f"window {window.text!r}"


def _window_reasons(facts: PqlFacts, legacy: bool) -> list[Reason]:
    steps = facts.event_steps
    if legacy and len(steps) <= 1:
        return []  # legacy: a single event may have any window
    reasons: list[Reason] = []
    for window in steps:
        if window is None and not legacy:
            reasons.append(Reason("eligibility.event-no-window", "an event has no time window", True, True))
        elif window is None or not window.under_a_day:
            reasons.append(
                Reason(
                    "eligibility.event-window",
                    f"an event has the {_describe(window)}, not under 24 hours",
                    True,
                    True,
                )
            )
    if not legacy and reasons and any(w is not None and w.under_a_day for w in steps):
        reasons.append(
            Reason(
                "eligibility.mixed-sources",
                "it mixes streaming events (under 24 hours) with batch-only ones",
                True,
                True,
            )
        )
    return reasons


def _current_reasons(facts: PqlFacts) -> list[Reason]:
    reasons = _window_reasons(facts, legacy=False)
    if len(facts.events) > 1:
        reasons.append(
            Reason(
                "eligibility.unordered-events",
                f"it combines {len(facts.events)} event conditions that are not steps of one CHAIN",
                True,
                True,
            )
        )
    if facts.events and all(event.negated for event in facts.events):
        reasons.append(
            Reason("eligibility.negated-event", "the whole event condition is negated", True, True)
        )
    if len(facts.event_steps) > 1:
        reasons.append(
            Reason(
                "eligibility.multiple-events-edge", "edge evaluates a single event, not several", False, True
            )
        )
    return reasons


def evaluation_method(
    expression: str | Node,
    *,
    merge_policy_active_on_edge: bool | None = None,
    legacy: bool = False,
    profile_only_segments: Collection[str] = (),
) -> Eligibility:
    """The evaluation method AEP gives ``expression`` (PQL text or tree; text that is not PQL raises
    ``PQLError``). ``legacy=True`` applies the pre-2025-05-20 table (see ``uses_legacy_rules``);
    ``profile_only_segments`` are the ``inSegment`` targets known to be profile-only."""
    facts = analyse(parse(expression) if isinstance(expression, str) else expression)
    reasons = _window_reasons(facts, legacy=True) if legacy else _current_reasons(facts)
    if facts.ignore_year:
        found = ", ".join(sorted(set(facts.ignore_year)))
        reasons.append(Reason("eligibility.ignore-year", f"it ignores the year ({found})", True, True))
    if facts.aam:
        found = ", ".join(sorted(set(facts.aam)))
        reasons.append(Reason("eligibility.aam", f"it reads Audience Manager data ({found})", True, True))
    if facts.in_segment_ids and len(facts.event_steps) == 1:
        targets = sorted(set(facts.in_segment_ids))
        profile_only = all(target in profile_only_segments for target in targets)
        reasons.append(
            Reason(
                "eligibility.event-and-insegment",
                f"it combines a single event with inSegment({', '.join(targets)})"
                + ("" if profile_only else ", whose targets are not known to be profile-only"),
                blocks_streaming=not (legacy and profile_only),
                blocks_edge=not profile_only,
            )
        )
    if merge_policy_active_on_edge is False:
        reasons.append(
            Reason(
                "eligibility.merge-policy",
                "its merge policy is not Active-on-Edge",
                blocks_streaming=not legacy,
                blocks_edge=True,
            )
        )
    streaming = not any(r.blocks_streaming for r in reasons)
    edge = not any(r.blocks_edge for r in reasons)
    method: Method = "edge" if edge else "streaming" if streaming else "batch"
    return Eligibility(method, streaming, edge, tuple(reasons))


def resolved_method(declared: Method, eligibility: Eligibility) -> Method:
    """The method AEP evaluates a definition declared ``declared`` with: batch stays batch; streaming
    needs streaming eligibility; edge falls back to streaming (if eligible), then batch."""
    if declared == "edge" and eligibility.edge:
        return "edge"
    if declared in ("edge", "streaming") and eligibility.streaming:
        return "streaming"
    return "batch"


def declared_method_problem(declared: Method, eligibility: Eligibility) -> RuleFinding | None:
    """A finding when AEP would evaluate a definition declared ``declared`` otherwise (silently)."""
    actual = resolved_method(declared, eligibility)
    if actual == declared:
        return None
    relevant = [
        p for p in eligibility.problems if (p.blocks_edge if declared == "edge" else p.blocks_streaming)
    ]
    fixes = list(dict.fromkeys(RULES[p.rule_id].fix for p in relevant))
    return finding(
        "eligibility.declared-method",
        f"declared {declared}, but AEP evaluates it as {actual}: {'; '.join(p.text for p in relevant)}",
        fix="; or ".join(fixes) + f"; or declare it {actual}",
    )
