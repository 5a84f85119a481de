"""Every AEP rule this package enforces, as data: the single source of the README table and of the
messages that lint, plan, operators and the emulator give.

``documented`` says whether Adobe documents the rule (DOC) or whether it is this package's reading of
Adobe's text (INFER). ``aep`` says what AEP itself does when the rule is broken: ``hard`` (AEP refuses;
the status and body are not documented), ``soft`` (a performance guardrail: AEP accepts and slows down)
``silent`` (AEP accepts and changes the request, e.g. evaluates a streaming audience as batch), or
``undocumented`` (Adobe says nothing; this package's choice).
``severity`` is what this package makes of it: ``error`` refuses before any HTTP call, ``warning`` logs.
Sources are the tags of ``reference/aep-evaluation-rules.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]
AEPBehaviour = Literal["hard", "soft", "silent", "undocumented"]

SOURCES: dict[str, str] = {
    "S-FAE": "https://experienceleague.adobe.com/en/docs/experience-platform/segmentation/methods/"
    "flexible-audience-evaluation",
    "S-JOBS": "https://experienceleague.adobe.com/en/docs/experience-platform/segmentation/api/segment-jobs",
    "S-STRM-M": "https://experienceleague.adobe.com/en/docs/experience-platform/segmentation/methods/"
    "streaming-segmentation",
    "S-ELIG": "https://experienceleague.adobe.com/en/docs/experience-platform/segmentation/"
    "eligibility-criteria-update",
    "S-EDGE-M": "https://experienceleague.adobe.com/en/docs/experience-platform/segmentation/methods/"
    "edge-segmentation",
    "S-STRM-API-OLD": "https://experienceleague.adobe.com/en/docs/experience-platform/segmentation/api/"
    "streaming-segmentation",
    "S-IGN": "https://experienceleague.adobe.com/en/docs/experience-platform/segmentation/ui/ignore-year",
    "S-MP-UI": "https://experienceleague.adobe.com/en/docs/experience-platform/profile/merge-policies/ui-guide",
    "S-GR": "https://experienceleague.adobe.com/en/docs/experience-platform/profile/guardrails",
    "S-FBS": "https://experienceleague.adobe.com/en/docs/experience-platform/segmentation/methods/"
    "flexible-batch-schedules",
    "S-SCHED": "https://experienceleague.adobe.com/en/docs/experience-platform/segmentation/api/schedules",
    "S-FAQ": "https://experienceleague.adobe.com/en/docs/experience-platform/segmentation/faq",
}


@dataclass(frozen=True)
class Rule:
    """One rule: what it says, its limit, where Adobe says it, what AEP does and what this package does."""

    id: str
    what: str
    limit: str
    documented: bool
    source: str  # a tag of SOURCES
    aep: AEPBehaviour
    severity: Severity
    fix: str

    @property
    def url(self) -> str:
        return SOURCES[self.source]


@dataclass(frozen=True)
class RuleFinding:
    """A rule broken by a request or a sandbox: data, not an exception, so that the emulator (which
    answers with AEP's kind of error) and the client (which raises a typed error) can both use it."""

    rule_id: str
    severity: Severity
    message: str  # names the offending ids or values
    fix: str
    source: str
    documented: bool

    @property
    def url(self) -> str:
        return SOURCES[self.source]

    def __str__(self) -> str:
        return f"{self.message} ({self.rule_id}); {self.fix}"


def _rule(
    id: str,
    what: str,
    limit: str,
    documented: bool,
    source: str,
    aep: AEPBehaviour,
    severity: Severity,
    fix: str,
) -> tuple[str, Rule]:
    return id, Rule(id, what, limit, documented, source, aep, severity, fix)


_EVENT_SPLIT = (
    "put each event (and the batch part) in an audience of its own and combine them in a third audience "
    "that only uses inSegment"
)

# fmt: off
RULES: dict[str, Rule] = dict(
    [
        _rule(
            "on-demand.max-ids", "segment definition ids per on-demand (flexible) segment job", "20",
            True, "S-FAE", "hard", "error", "split the ids into jobs of at most 20",
        ),
        _rule(
            "on-demand.duplicate-ids", "an id listed more than once in one segment job", "once each",
            False, "S-FAE", "undocumented", "error", "list each segment definition id once",
        ),
        _rule(
            "on-demand.daily-runs", "on-demand (flexible) evaluation runs per sandbox per UTC day",
            "2, reset at 00:00 UTC; the nightly scheduled job does not count", True, "S-FAE", "hard",
            "error", "wait for the daily reset, or evaluate the audiences in the nightly scheduled job",
        ),
        _rule(
            "on-demand.yearly-runs", "on-demand (flexible) evaluation runs per sandbox per contract year",
            "50 in a production sandbox, 100 in a development sandbox; reset on the contract anniversary",
            True, "S-FAE", "hard", "error",
            "wait for the contract anniversary, buy more runs through Adobe Customer Care, or use the "
            "nightly scheduled job",
        ),
        _rule(
            "on-demand.origin", "audiences of an on-demand job must have origin Segmentation Service",
            "originName REAL_TIME_CUSTOMER_PROFILE", True, "S-FAE", "hard", "error",
            "leave compositions, custom uploads and Data Distiller audiences out of the job",
        ),
        _rule(
            "on-demand.batch-only", "audiences of an on-demand job must be batch-evaluated",
            "evaluationInfo batch", True, "S-FAE", "hard", "error",
            "leave streaming and edge audiences out of the job (they are evaluated continuously)",
        ),
        _rule(
            "on-demand.people-based", "audiences of an on-demand job must be people-based",
            "schema _xdm.context.profile", True, "S-FAE", "hard", "error",
            "leave account (and other non-profile) audiences out of the job",
        ),
        _rule(
            "on-demand.run-all", "a run-all segment job ([{\"segmentId\": \"*\"}])",
            "documented, 'highly not recommended'", True, "S-JOBS", "soft", "warning",
            "list the segment definition ids to evaluate instead",
        ),
        _rule(
            "on-demand.run-all-mixed", "'*' listed together with other ids", "'*' alone", False,
            "S-JOBS", "undocumented", "error", "send [{\"segmentId\": \"*\"}] alone, or list ids without '*'",
        ),
        _rule(
            "eligibility.declared-method",
            "a definition declared streaming or edge that AEP evaluates otherwise (silently)",
            "the 2025-05-20 eligibility rules", True, "S-STRM-M", "silent", "error",
            "make the expression eligible (see the reasons) or declare it batch",
        ),
        _rule(
            "eligibility.event-window", "streaming/edge events must fall within a window under 24 hours",
            "< 24 h (WHEN(today), WHEN(< 24 hours before now)); a window of exactly 24 h counts as batch",
            True, "S-ELIG", "silent", "error", "narrow the window to under 24 hours, e.g. WHEN(today)",
        ),
        _rule(
            "eligibility.event-no-window", "a streaming/edge event must have a time window", "< 24 h",
            True, "S-ELIG", "silent", "error",
            "add a window under 24 hours to the event, e.g. WHEN(<= 12 hours before now)",
        ),
        _rule(
            "eligibility.mixed-sources", "an audience may not mix batch-only and streaming conditions",
            "one kind per audience", True, "S-ELIG", "silent", "error",
            "split the batch part into its own (profile-based) audience and reference it with inSegment",
        ),
        _rule(
            "eligibility.unordered-events", "several events need one CHAIN (strict time ordering)",
            "one CHAIN", True, "S-STRM-M", "silent", "error", _EVENT_SPLIT + ", or order them in one CHAIN",
        ),
        _rule(
            "eligibility.event-and-insegment", "a single event combined with inSegment in one ruleset",
            "streaming: never; edge: only when the inSegment target is profile-only", True, "S-STRM-M",
            "silent", "error", _EVENT_SPLIT,
        ),
        _rule(
            "eligibility.negated-event", "the whole event condition may not be a negation",
            "negate a part, not the whole event", True, "S-STRM-M", "silent", "error",
            "negate a condition inside the event (e.g. in WHAT), not the whole event",
        ),
        _rule(
            "eligibility.multiple-events-edge", "edge evaluates at most one event (no event history)",
            "single event", True, "S-EDGE-M", "silent", "error", "declare it streaming, or keep one event",
        ),
        _rule(
            "eligibility.ignore-year", "'ignore year' date conditions are batch only",
            "getMonth/getDayOfMonth/currentMonth/currentDayOfMonth are read as ignore-year", True, "S-IGN",
            "silent", "error", "compare full dates, not the month or day alone",
        ),
        _rule(
            "eligibility.aam", "Audience Manager segments or traits are batch only",
            "segmentMembership namespaces AAM, AAMSegments, AAMTraits", True, "S-STRM-M", "silent",
            "error", "leave Audience Manager data out of the audience",
        ),
        _rule(
            "eligibility.merge-policy", "streaming and edge need an Active-on-Edge merge policy",
            "one Active-on-Edge merge policy per sandbox", True, "S-ELIG", "silent", "error",
            "use the sandbox's Active-on-Edge merge policy",
        ),
        _rule(
            "sandbox.audiences", "active audiences per sandbox (batch, streaming and edge)", "4,000", True,
            "S-GR", "soft", "warning", "delete or deactivate audiences that are no longer used",
        ),
        _rule(
            "sandbox.batch", "batch audiences per sandbox", "4,000; 10,000 with Flexible Batch Schedules",
            True, "S-GR", "soft", "warning",
            "delete unused batch audiences, or enable Flexible Batch Schedules (up to 10,000)",
        ),
        _rule(
            "sandbox.streaming", "streaming audiences per sandbox, edge included", "500", True, "S-GR",
            "soft", "warning", "evaluate some audiences in batch instead",
        ),
        _rule(
            "sandbox.edge", "edge audiences per sandbox", "150", True, "S-GR", "soft", "warning",
            "evaluate some edge audiences as streaming or batch instead",
        ),
        _rule(
            "sandbox.compositions", "published audience compositions per sandbox", "10", True, "S-GR",
            "soft", "warning", "unpublish compositions that are no longer used",
        ),
        _rule(
            "sandbox.account-audiences", "account audiences per sandbox", "50", True, "S-GR", "hard",
            "error", "delete account audiences that are no longer used",
        ),
        _rule(
            "schedule.once-a-day", "a segmentation schedule runs at most once in 24 hours",
            "one time of day", True, "S-SCHED", "hard", "error",
            "give the cron a single second, minute and hour, e.g. '0 0 1 * * ?' (01:00 UTC daily)",
        ),
    ]
)

# fmt: on


def finding(
    rule_id: str, message: str, *, fix: str | None = None, severity: Severity | None = None
) -> RuleFinding:
    """A finding of ``rule_id`` (its severity, fix and source unless given)."""
    rule = RULES[rule_id]
    return RuleFinding(
        rule_id=rule_id,
        severity=severity or rule.severity,
        message=message,
        fix=fix or rule.fix,
        source=rule.source,
        documented=rule.documented,
    )
