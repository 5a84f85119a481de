"""Execute exactly a plan: refuse a stale one, survive 429/503 storms and lost answers, resume after a crash.

Each round reads the sandbox (list pages) and sorts every planned change by what AEP now holds:

- *to do*: the definition is still what the plan saw (same id and fingerprint; for a create, no
  definition has the name);
- *done*: AEP already holds the planned result (a create or update whose answer was lost, or an
  earlier apply of this plan that stopped half way; a delete whose definition is gone);
- *stale*: anything else. In the first round, any stale entry (also among the unchanged ones, or a
  managed definition the plan never saw) refuses the whole apply before anything is written.

Then it makes each change to do with one call. A create is never retried blindly: a create that failed
(5xx, a broken connection, a 422 "already exists" after a lost answer) is looked up by name in the next
round's listing and counted as done when AEP made it, so there are never two definitions of one
audience. Rounds repeat until nothing is left (at most ``max_rounds``); what is left then raises
``ApplyIncompleteError``, and applying the same plan again picks up there.

After each create or update, the evaluation AEP stored is compared with the one asked for: AEP
downgrades an ineligible streaming/edge definition to batch silently, so each downgrade is reported
(``ApplyResult.downgrades``, a warning in the log, the text and the JSON), never passed over.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_segmentation.audiences.checks import Downgrade, downgrade_of
from airflow_provider_segmentation.audiences.errors import (
    ApplyIncompleteError,
    AudienceConflictError,
    StalePlanError,
)
from airflow_provider_segmentation.audiences.ownership import (
    diff_states,
    fingerprint,
    owner,
    state_of,
    state_of_body,
)
from airflow_provider_segmentation.audiences.plans import WRITES, Change, Plan
from airflow_provider_segmentation.audiences.sandbox import PAGE_SIZE, Snapshot, client_for, read_sandbox
from airflow_provider_segmentation.client import (
    AEPAuthError,
    AEPConflictError,
    AEPConnectionError,
    AEPError,
    AEPNotFoundError,
    AEPPermissionError,
    AEPRateLimitError,
    AEPServerError,
    SegmentationClient,
)
from airflow_provider_segmentation.models import SegmentDefinition

log = logging.getLogger("airflow_provider_segmentation.audiences")
TRANSIENT = (AEPServerError, AEPConnectionError, AEPRateLimitError, AEPConflictError)
PAST = {"create": "created", "update": "updated", "delete": "deleted"}
FOUND_EARLIER = "found applied by an earlier run"


@dataclass
class ApplyResult:
    """What an apply of ``plan`` did: each change made now or found made by an earlier run (``done``,
    with ``how``), and what it cost."""

    plan: Plan = field(repr=False)
    done: list[dict[str, Any]] = field(default_factory=list)
    rounds: int = 0
    list_pages: int = 0
    bulk_gets: int = 0
    writes: int = 0
    downgrades: list[Downgrade] = field(default_factory=list)

    @property
    def sandbox(self) -> str:
        return self.plan.sandbox

    @property
    def project(self) -> str:
        return self.plan.project

    @property
    def fingerprint(self) -> str:
        return self.plan.fingerprint

    def record(self, change: Change, ident: str | None, how: str) -> None:
        self.done.append({"action": change.action, "name": change.name, "id": ident, "how": how})

    def check_evaluation(self, change: Change, stored: SegmentDefinition) -> None:
        """Report (once per audience) when AEP stored another evaluation than ``change`` asked for."""
        assert change.body is not None
        requested = state_of_body(change.body)
        downgrade = downgrade_of(requested.evaluation, stored, requested.expression)
        if downgrade is not None and all(d.name != downgrade.name for d in self.downgrades):
            self.downgrades.append(downgrade)
            log.warning("evaluation downgraded: %s", downgrade.message)

    def names(self, action: str) -> list[str]:
        return [d["name"] for d in self.done if d["action"] == action]

    @property
    def made(self) -> list[dict[str, Any]]:
        """The changes this run made (also those whose answer was lost), not those found made before."""
        return [d for d in self.done if d["how"] != FOUND_EARLIER]

    @property
    def changed_ids(self) -> list[str]:
        """Ids of the definitions created or updated (e.g. for a segment job on what changed)."""
        return [d["id"] for d in self.done if d["action"] in ("create", "update") and d["id"]]

    @property
    def scheduled_ids(self) -> list[str]:
        """Ids of the plan's audiences with ``schedule: true``, the created ones included
        (``Plan.scheduled_ids``): the segments of a daily evaluation."""
        created = {d["name"]: d["id"] for d in self.done if d["action"] == "create" and d["id"]}
        return self.plan.scheduled_ids(created)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sandbox": self.sandbox,
            "project": self.project,
            "plan_fingerprint": self.fingerprint,
            "created": self.names("create"),
            "updated": self.names("update"),
            "deleted": self.names("delete"),
            "changed_ids": self.changed_ids,
            "scheduled_ids": self.scheduled_ids,
            "done": list(self.done),
            "requests": {"list_pages": self.list_pages, "bulk_gets": self.bulk_gets, "writes": self.writes},
            "rounds": self.rounds,
            "evaluation_downgrades": [d.to_dict() for d in self.downgrades],
        }

    def render(self) -> str:
        """The headline counts the changes made now; those an earlier run made are counted apart."""
        made = self.made
        earlier = [d for d in self.done if d["how"] == FOUND_EARLIER]
        counts = {action: sum(1 for d in made if d["action"] == action) for action in WRITES}
        out = [
            f"Applied plan {self.fingerprint} to sandbox '{self.sandbox}': "
            f"{counts['create']} created, {counts['update']} updated, {counts['delete']} deleted"
            + (f"; {len(earlier)} found made by an earlier run." if earlier else ".")
        ]
        symbols = {"create": "+", "update": "~", "delete": "-"}
        for entry in made + earlier:
            note = "" if entry["how"] == "applied" else f"  ({entry['how']})"
            action = entry["action"]
            out.append(f"  {symbols[action]} {PAST[action]} {entry['name']!r} ({entry['id']}){note}")
        out.append(
            f"Requests: {self.list_pages} list page(s), {self.bulk_gets} bulk-get(s), {self.writes} write(s) "
            f"in {self.rounds} round(s)."
        )
        for downgrade in self.downgrades:
            out.append(f"WARNING: evaluation downgraded: {downgrade.message}")
        return "\n".join(out)


def apply(
    plan: Plan, client: SegmentationClient, *, max_rounds: int = 5, page_size: int = PAGE_SIZE
) -> ApplyResult:
    """Make the changes of ``plan`` in its sandbox; see the module's docstring for the guarantees."""
    if plan.conflicts:
        names = ", ".join(repr(c.name) for c in plan.conflicts)
        raise AudienceConflictError(f"the plan has conflicts ({names}): resolve them and plan again")
    client = client_for(client, plan.sandbox)
    result = ApplyResult(plan)
    remaining = plan.of(*WRITES)
    failures: dict[str, AEPError] = {}
    for round_number in range(1, max_rounds + 1):
        snapshot = read_sandbox(client, wanted_names=[c.name for c in plan.changes], page_size=page_size)
        result.rounds = round_number
        result.list_pages += snapshot.reads.list_pages
        result.bulk_gets += snapshot.reads.bulk_gets
        stale = _stale_beyond_writes(plan, snapshot) if round_number == 1 else []
        todo: list[Change] = []
        for change in remaining:
            verdict, definition = _classify(change, plan.project, snapshot)
            if verdict == "todo":
                todo.append(change)
            elif verdict == "done":
                how = FOUND_EARLIER if round_number == 1 else "found applied (answer lost)"
                result.record(change, definition.id if definition else change.id, how)
                if definition is not None and change.action != "delete":
                    result.check_evaluation(change, definition)
                log.info("%s %r: %s", PAST[change.action], change.name, how)
            else:
                stale.append(f"{change.name!r}: {verdict}")
        if stale:
            if round_number == 1:
                raise StalePlanError(
                    f"the sandbox '{plan.sandbox}' changed since plan {plan.fingerprint} was made, so it "
                    "is not applied (nothing was changed): plan again.\n  " + "\n  ".join(stale)
                )
            raise ApplyIncompleteError(
                "the sandbox changed while the plan was being applied; what was applied stays, plan again:"
                "\n  " + "\n  ".join(stale)
            )
        if not todo:
            return result
        remaining = []
        for change in todo:
            outcome = _execute(change, client, result)
            if isinstance(outcome, AEPError):
                failures[change.name] = outcome
                remaining.append(change)
        if not remaining:
            return result
        log.warning(
            "%d change(s) failed in round %d; checking the sandbox and retrying", len(remaining), round_number
        )
    details = "\n  ".join(f"{name!r}: {failures[name]}" for name in (c.name for c in remaining))
    raise ApplyIncompleteError(
        f"{len(remaining)} change(s) could not be made after {max_rounds} rounds; the "
        f"{len(result.done)} made stay made, and applying the same plan again completes it:\n  {details}"
    )


def _execute(change: Change, client: SegmentationClient, result: ApplyResult) -> AEPError | None:
    """Make one change; a transient failure is returned (the next round sorts it out), others raise."""
    result.writes += 1
    try:
        if change.action == "create":
            assert change.body is not None
            made = client.create_segment_definition(change.body)
            result.record(change, made.id, "applied")
            result.check_evaluation(change, made)
        elif change.action == "update":
            assert change.body is not None and change.id is not None
            updated = client.update_segment_definition(change.id, change.body)
            result.record(change, change.id, "applied")
            result.check_evaluation(change, updated)
        else:
            assert change.id is not None
            with contextlib.suppress(AEPNotFoundError):  # a retried delete whose first answer was lost
                client.delete_segment_definition(change.id)
            result.record(change, change.id, "applied")
    except (AEPAuthError, AEPPermissionError):
        raise
    except TRANSIENT as exc:
        log.warning(
            "%s %r failed (%s); the next round checks what AEP holds", change.action, change.name, exc
        )
        return exc
    except AEPError as exc:
        raise ApplyIncompleteError(
            f"{change.action} {change.name!r} failed: {exc}; the {len(result.done)} change(s) made "
            "before stay made: fix the cause and apply again",
            status=exc.status,
            error_code=exc.error_code,
            request_id=exc.request_id,
        ) from exc
    log.info("%s %r", PAST[change.action], change.name)
    return None


def _classify(change: Change, project: str, snapshot: Snapshot) -> tuple[str, SegmentDefinition | None]:
    """("todo" | "done" | why it is stale, the definition AEP holds now)."""
    if change.action == "create":
        named = snapshot.named(change.name)
        if not named:
            return "todo", None
        if len(named) == 1 and _holds(named[0], change, project):
            return "done", named[0]
        return f"a definition with this name appeared since the plan ({named[0].id})", None
    current = snapshot.by_id.get(change.id or "")
    if change.action == "delete":
        if current is None:
            return "done", None
        if fingerprint(current) == change.seen:
            return "todo", current
        return "changed since the plan", current
    if current is None:
        return "deleted since the plan", None
    if fingerprint(current) == change.seen:
        return "todo", current
    if _holds(current, change, project):
        return "done", current
    return "changed since the plan", current


def _holds(definition: SegmentDefinition, change: Change, project: str) -> bool:
    """Does AEP hold what ``change`` would make (same name, managed by ``project``, no difference but an
    evaluation AEP downgraded, which is reported, not retried)?"""
    assert change.body is not None
    desired = state_of_body(change.body)
    diffs = diff_states(state_of(definition), desired)
    return (
        definition.name == change.name
        and owner(definition) == project
        and all(d.field == "evaluation" and _downgraded(desired.evaluation, d.before) for d in diffs)
    )


def _downgraded(requested: str, stored: str) -> bool:
    """AEP falls back from edge to streaming to batch, never the other way."""
    order = ("batch", "streaming", "edge")
    return order.index(stored) < order.index(requested)


def _stale_beyond_writes(plan: Plan, snapshot: Snapshot) -> list[str]:
    """Entries the plan does not write that are no longer what it saw; managed definitions it never saw."""
    stale = []
    for change in plan.of("unchanged", "orphan", "conflict"):
        if change.id is None:
            continue
        current = snapshot.by_id.get(change.id)
        if current is None or fingerprint(current) != change.seen:
            stale.append(f"{change.name!r}: {'deleted' if current is None else 'changed'} since the plan")
    known_ids = {c.id for c in plan.changes if c.id}
    created = {c.name for c in plan.of("create")}
    for definition in snapshot.by_id.values():
        if (
            owner(definition) == plan.project
            and definition.id not in known_ids
            and definition.name not in created
        ):
            stale.append(f"{definition.name!r}: a managed definition the plan did not see ({definition.id})")
    return stale
