"""What a plan is: its changes, as data. A ``Plan`` prints like ``terraform plan`` (``render``), travels as
JSON (``to_dict`` / ``from_dict``, e.g. through XCom or a ``plan.json`` file) and carries, per definition
it saw, the ``fingerprint`` of what it saw (see ``ownership.fingerprint``), and for each create and update
the exact body to send. ``planning`` makes one; ``apply`` executes exactly that and refuses when the
sandbox no longer is what the plan saw.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from airflow_provider_segmentation.audiences.checks import finding_from_dict, finding_to_dict
from airflow_provider_segmentation.audiences.ownership import FieldDiff, digest, state_of_body
from airflow_provider_segmentation.rules import RuleFinding

PLAN_FORMAT = "aep-audiences-plan/1"
WRITES = ("create", "update", "delete")
ACTIONS = (*WRITES, "unchanged", "orphan", "conflict")
SYMBOLS = {"create": "+", "update": "~", "delete": "-", "conflict": "!", "orphan": "?", "unchanged": " "}


@dataclass(frozen=True)
class Change:
    """One line of a plan. ``seen`` is the fingerprint of the definition the plan saw (None: none);
    ``schedule`` is the file's ``schedule`` (None for a definition without a file)."""

    action: str
    name: str
    id: str | None = None
    source: str | None = None
    seen: str | None = None
    body: dict[str, Any] | None = None
    diffs: tuple[FieldDiff, ...] = ()
    reason: str = ""
    schedule: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"action": self.action, "name": self.name}
        for key in ("id", "source", "seen", "body", "schedule"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.diffs:
            data["diffs"] = [d.to_dict() for d in self.diffs]
        if self.reason:
            data["reason"] = self.reason
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        action = data.get("action")
        if action not in ACTIONS or not isinstance(data.get("name"), str):
            raise ValueError(f"not a plan entry: {data!r}")
        body = data.get("body")
        if action in ("create", "update") and not isinstance(body, dict):
            raise ValueError(f"the {action} of {data['name']!r} has no body")
        return cls(
            action=str(action),
            name=data["name"],
            id=data.get("id"),
            source=data.get("source"),
            seen=data.get("seen"),
            body=body,
            diffs=tuple(FieldDiff.from_dict(d) for d in data.get("diffs") or ()),
            reason=str(data.get("reason") or ""),
            schedule=data["schedule"] if isinstance(data.get("schedule"), bool) else None,
        )

    def identity(self) -> list[Any]:
        """What the plan's fingerprint covers of this change (``schedule`` when set, so that a plan saved
        before it existed keeps its fingerprint)."""
        identity = [self.action, self.name, self.id, self.seen, self.body]
        return identity if self.schedule is None else [*identity, self.schedule]


@dataclass(frozen=True)
class Plan:
    sandbox: str
    project: str
    folder: str
    changes: tuple[Change, ...]
    prune: bool = False
    adopt: bool = False
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    reads: dict[str, int] = field(default_factory=dict, compare=False)
    # the sandbox guardrails the sandbox would be past after this plan (``checks.guardrail_findings``)
    findings: tuple[RuleFinding, ...] = field(default=(), compare=False)

    @property
    def on_demand_runs(self) -> int:
        """On-demand (flexible) evaluation runs that applying this plan spends: none, since apply only
        writes definitions (a segment job on the result is a step of its own, e.g. one run for all ids)."""
        return 0

    @property
    def warnings(self) -> list[RuleFinding]:
        return [f for f in self.findings if f.severity == "warning"]

    def of(self, *actions: str) -> list[Change]:
        return [c for c in self.changes if c.action in actions]

    @property
    def has_changes(self) -> bool:
        """True when applying would write something: a create, an update or a delete."""
        return bool(self.of(*WRITES))

    @property
    def conflicts(self) -> list[Change]:
        """Names the files want that this project may not touch; a plan with conflicts is not applied."""
        return self.of("conflict")

    @property
    def drifted(self) -> bool:
        """The sandbox differs from the files (changes to make, or conflicts in the way)."""
        return self.has_changes or bool(self.conflicts)

    def changed_names(self) -> list[str]:
        return [c.name for c in self.of(*WRITES)]

    def scheduled_ids(self, created: Mapping[str, str] | None = None) -> list[str]:
        """Ids of the definitions of the audiences whose file says ``schedule: true`` (the default), by
        name: the segments of a daily evaluation (a segment job, or a schedule's ``properties.segments``).
        A create has an id only once applied: ``created`` maps its name to it (``ApplyResult`` does)."""
        ids = []
        for change in sorted(self.of("create", "update", "unchanged"), key=lambda c: c.name):
            ident = (created or {}).get(change.name) if change.action == "create" else change.id
            if change.schedule and ident:
                ids.append(ident)
        return ids

    @property
    def fingerprint(self) -> str:
        """A digest of the sandbox, project and every entry (what was seen, what will be sent): approving
        a fingerprint approves exactly these changes against exactly that state."""
        entries = sorted((c.identity() for c in self.changes), key=lambda e: (e[1], e[0]))
        return digest([PLAN_FORMAT, self.sandbox, self.project, self.prune, entries])

    def counts(self) -> dict[str, int]:
        return {action: len(self.of(action)) for action in ACTIONS}

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PLAN_FORMAT,
            "sandbox": self.sandbox,
            "project": self.project,
            "folder": self.folder,
            "prune": self.prune,
            "adopt": self.adopt,
            "created_at": self.created_at,
            "fingerprint": self.fingerprint,
            "has_changes": self.has_changes,
            "drifted": self.drifted,
            "counts": self.counts(),
            "reads": dict(self.reads),
            "findings": [finding_to_dict(f) for f in self.findings],
            "on_demand_runs": self.on_demand_runs,
            "changes": [c.to_dict() for c in self.changes],
        }

    @classmethod
    def from_dict(cls, data: Any) -> Plan:
        """Read a plan back; ``ValueError`` if it is not one, or was altered after it was made."""
        if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
            raise ValueError(f"not an aep-audiences plan (expected format {PLAN_FORMAT!r})")
        plan = cls(
            sandbox=str(data["sandbox"]),
            project=str(data["project"]),
            folder=str(data.get("folder") or ""),
            changes=tuple(Change.from_dict(c) for c in data.get("changes") or ()),
            prune=bool(data.get("prune")),
            adopt=bool(data.get("adopt")),
            created_at=str(data.get("created_at") or ""),
            reads=dict(data.get("reads") or {}),
            findings=tuple(finding_from_dict(f) for f in data.get("findings") or ()),
        )
        if data.get("fingerprint") not in (None, plan.fingerprint):
            raise ValueError("the plan was altered after it was made (its fingerprint does not match)")
        return plan

    def render(self) -> str:
        """The plan as a person reads it (like ``terraform plan``)."""
        out = [f"aep-audiences plan: {self.folder} -> sandbox '{self.sandbox}' (project '{self.project}')"]
        if self.reads:
            seen = self.reads.get("definitions", 0)
            out.append(
                f"Read {seen} definition{'s' if seen != 1 else ''} in {self.reads.get('list_pages', 0)} list "
                f"page(s) and {self.reads.get('bulk_gets', 0)} bulk-get(s)."
            )
        out.append("")
        for change in (*self.of(*WRITES), *self.of("conflict")):
            out.extend(_render_change(change))
        orphans = self.of("orphan")
        if orphans:
            names = ", ".join(repr(c.name) for c in orphans)
            out.append(f"  ? {len(orphans)} managed definition(s) have no file and are kept: {names}")
            out.append("    (prune deletes them)")
            out.append("")
        for found in self.findings:
            out.append(f"  {found.severity.upper()}: {found}")
        if self.findings:
            out.append("")
        counts = self.counts()
        if not self.drifted:
            out.append(
                f"No changes. Sandbox '{self.sandbox}' matches the files ({counts['unchanged']} unchanged)."
            )
        else:
            out.append(
                f"Plan: {counts['create']} to create, {counts['update']} to update, "
                f"{counts['delete']} to delete, {counts['unchanged']} unchanged."
            )
            if counts["conflict"]:
                out.append(
                    f"{counts['conflict']} conflict(s) must be resolved before this plan can be applied."
                )
        out.append(f"On-demand evaluation runs this apply spends: {self.on_demand_runs}.")
        out.append(f"Plan fingerprint: {self.fingerprint}")
        return "\n".join(out)


def _render_change(change: Change) -> list[str]:
    ident = f" (id {change.id})" if change.id else ""
    source = f"  [{change.source}]" if change.source else ""
    lines = [f"  {SYMBOLS[change.action]} {change.action} {change.name!r}{ident}{source}"]
    if change.action == "create" and change.body is not None:
        desired = state_of_body(change.body)
        lines.append(f"      evaluation: {desired.evaluation}")
        lines.append(f"      schedule:   {'daily' if desired.schedule else 'none'}")
        if desired.labels:
            lines.append(f"      labels:     {', '.join(desired.labels)}")
        if desired.ttl_in_days is not None:
            lines.append(f"      ttl_in_days: {desired.ttl_in_days}")
        if desired.description:
            lines.append(f"      description: {_short(desired.description)}")
        lines.append("      expression:")
        lines.append(textwrap.indent(desired.expression, "        + "))
    for diff in change.diffs:
        if diff.diff:
            lines.append(f"      ~ {diff.field}:")
            lines.append(textwrap.indent(diff.diff, "          "))
        else:
            lines.append(f"      ~ {diff.field}: {_short(diff.before)} -> {_short(diff.after)}")
    if change.reason:
        lines.append(textwrap.indent(textwrap.fill(change.reason, 100), "      "))
    lines.append("")
    return lines


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, list) else "[" + ", ".join(map(str, value)) + "]"
    return text if len(text) <= 100 else text[:97] + "..."
