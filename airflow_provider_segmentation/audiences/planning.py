"""Compare the audience files with a sandbox: what to create, update and delete, and what is unchanged.

``plan`` lints a folder, reads the sandbox and returns a ``plans.Plan`` (what a plan holds, prints and
carries as JSON is that module's); ``compare`` is the offline half, files against a ``Snapshot``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from airflow_provider_segmentation.audiences.checks import guardrail_findings, sandbox_after
from airflow_provider_segmentation.audiences.errors import AudienceLintError
from airflow_provider_segmentation.audiences.files import Audience, read_folder
from airflow_provider_segmentation.audiences.matching import Match, match_audiences
from airflow_provider_segmentation.audiences.ownership import (
    PROJECT,
    body_for,
    diff_states,
    fingerprint,
    owner,
    state_of,
    state_of_body,
)
from airflow_provider_segmentation.audiences.plans import ACTIONS, Change, Plan
from airflow_provider_segmentation.audiences.sandbox import PAGE_SIZE, Snapshot, client_for, read_sandbox
from airflow_provider_segmentation.client import AEPGuardrailError, AEPValidationError, SegmentationClient


def check_project(project: str) -> str:
    """``project`` if it can name an ownership scope (``ownership.PROJECT``), else an error with the fix."""
    if not isinstance(project, str) or not PROJECT.fullmatch(project):
        raise AEPValidationError(
            f"project {project!r} must be lowercase letters, digits, '_', '.' or '-' (e.g. 'default')",
            field="project",
        )
    return project


def load(folder: str | Path) -> list[Audience]:
    """The audiences of ``folder``; ``AudienceLintError`` lists every problem of every file at once."""
    audiences, issues = read_folder(folder)
    if issues:
        raise AudienceLintError(issues)
    return audiences


def compare(
    audiences: Sequence[Audience],
    snapshot: Snapshot,
    *,
    project: str,
    folder: str = "",
    prune: bool = False,
    adopt: bool = False,
) -> Plan:
    """The plan that takes ``snapshot`` to ``audiences``; only ``project``'s definitions are touched."""
    matches = match_audiences(audiences, snapshot, project=project, adopt=adopt)
    changes = [
        _change_for(audience, matches[audience.name], snapshot, project=project)
        for audience in sorted(audiences, key=lambda a: a.name)
    ]
    involved = {ident for found in matches.values() for ident in found.involved}
    for definition in snapshot.by_id.values():
        if owner(definition) == project and definition.id not in involved:
            changes.append(
                Change(
                    "delete" if prune else "orphan",
                    definition.name,
                    id=definition.id,
                    seen=fingerprint(definition),
                    reason="" if prune else "managed by this project, but no file declares it",
                )
            )
    order = {action: index for index, action in enumerate(ACTIONS)}
    changes.sort(key=lambda c: (order[c.action], c.name, c.id or ""))
    reads = {**snapshot.reads.to_dict(), "definitions": len(snapshot.by_id)}
    after = sandbox_after(
        snapshot.by_id.values(),
        created=[c.body for c in changes if c.action == "create" and c.body is not None],
        updated={c.id: c.body for c in changes if c.action == "update" and c.id and c.body is not None},
        deleted=[c.id for c in changes if c.action == "delete" and c.id],
    )
    findings = tuple(guardrail_findings(snapshot.by_id.values(), after))
    return Plan(
        snapshot.sandbox,
        project,
        folder,
        tuple(changes),
        prune=prune,
        adopt=adopt,
        reads=reads,
        findings=findings,
    )


def _change_for(audience: Audience, found: Match, snapshot: Snapshot, *, project: str) -> Change:
    current = found.definition
    if found.conflict:
        return Change(
            "conflict",
            audience.name,
            id=current.id if current else None,
            source=audience.source,
            seen=fingerprint(current) if current else None,
            reason=found.conflict,
        )
    if current is None:
        return Change(
            "create",
            audience.name,
            source=audience.source,
            body=body_for(audience, project),
            schedule=audience.schedule,
        )
    body = body_for(audience, project, current)
    diffs = diff_states(
        state_of(current),
        state_of_body(body),
        where=(f"{snapshot.sandbox}: {audience.name}", audience.source),
    )
    return Change(
        "update" if diffs else "unchanged",
        audience.name,
        id=current.id,
        source=audience.source,
        seen=fingerprint(current),
        body=body if diffs else None,
        diffs=tuple(diffs),
        schedule=audience.schedule,
    )


def plan(
    folder: str | Path,
    client: SegmentationClient,
    sandbox: str | None = None,
    *,
    project: str = "default",
    prune: bool = False,
    adopt: bool = False,
    page_size: int = PAGE_SIZE,
) -> Plan:
    """Lint ``folder`` (``AudienceLintError`` with every problem), read ``sandbox`` (default: the
    client's) with list pages (and bulk-gets only if needed), and compare. A plan that would take the
    sandbox past a hard guardrail (``rules.check_sandbox``, e.g. 50 account audiences) raises
    ``AEPGuardrailError`` naming the rule; soft ones are the plan's ``warnings``."""
    check_project(project)
    audiences = load(folder)
    on_sandbox = client_for(client, sandbox or client.config.sandbox)
    snapshot = read_sandbox(on_sandbox, wanted_names=_names(audiences), page_size=page_size)
    made = compare(audiences, snapshot, project=project, folder=str(folder), prune=prune, adopt=adopt)
    errors = [f for f in made.findings if f.severity == "error"]
    if errors:
        raise AEPGuardrailError(
            f"the plan would take sandbox '{made.sandbox}' past AEP's hard limits, so it is refused "
            "(nothing was written):\n  " + "\n  ".join(str(f) for f in errors),
            findings=errors,
            error_code=errors[0].rule_id,
        )
    return made


def _names(audiences: Iterable[Audience]) -> list[str]:
    """Every name a definition of these audiences may have: their names and their earlier ones."""
    return [name for a in audiences for name in (a.name, *a.renamed_from)]
