"""Which definitions this tool manages, what they should hold, and how to compare the two.

Ownership is a marker line at the end of the definition's ``description``::

    Gold and platinum members in the US.

    -- managed by aep-audiences: project=default schedule=daily labels=loyalty,us key=daddd40fed2a

The description is a plain text field that AEP stores as sent and returns unchanged from create,
get, list, bulk-get and the whole-object PATCH, in every sandbox; the marker does not depend on ids
(which differ per sandbox), on names (which people change) or on fields AEP may drop. It also tells
someone looking at the definition in the AEP UI that git is where it is edited. The marker carries the
``project`` (so two folders can manage one sandbox side by side), the schedule membership and the
labels, which the Segmentation API has no field for, and the audience's ``key``: a digest of its name in
the file, so that a definition renamed in AEP is still recognised (``matching``). Markers without a key
(written before keys existed) are matched by name. Only definitions whose last description line is
this project's marker are ever changed or deleted.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from airflow_provider_segmentation import pql
from airflow_provider_segmentation.audiences.model import Audience
from airflow_provider_segmentation.client import definition_body
from airflow_provider_segmentation.models import SegmentDefinition
from airflow_provider_segmentation.rules.kinds import schema_of

MARKER_PREFIX = "-- managed by aep-audiences:"
PROJECT = re.compile(r"[a-z0-9][a-z0-9_.-]*")
KEY = re.compile(r"[0-9a-f]{12}")
_MARKER = re.compile(r"-- managed by aep-audiences: (?P<attrs>.*)")
# what a plan compares, in the order it prints them
FIELDS = (
    "name",
    "description",
    "expression",
    "evaluation",
    "ttl_in_days",
    "schedule",
    "labels",
    "project",
    "key",
)


def audience_key(name: str) -> str:
    """The stable key of the audience named ``name`` in the files (12 hex digits of its SHA-256)."""
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Ownership:
    project: str
    schedule: bool = True
    labels: tuple[str, ...] = ()
    key: str | None = None  # None: a marker written before keys existed

    def marker(self) -> str:
        text = f"{MARKER_PREFIX} project={self.project} schedule={'daily' if self.schedule else 'none'}"
        text += f" labels={','.join(self.labels)}" if self.labels else ""
        return text + (f" key={self.key}" if self.key else "")


def render_description(description: str, ownership: Ownership) -> str:
    """The description sent to AEP: the file's text, a blank line, the marker."""
    text = description.strip()
    return f"{text}\n\n{ownership.marker()}" if text else ownership.marker()


def split_description(description: str | None) -> tuple[str, Ownership | None]:
    """(the description without the marker, the ownership) — or (description, None) if unmanaged."""
    lines = (description or "").replace("\r\n", "\n").rstrip().split("\n")
    match = _MARKER.fullmatch(lines[-1].strip())
    if match is None:
        return (description or "").strip(), None
    attrs = dict(part.split("=", 1) for part in match["attrs"].split() if "=" in part)
    project, key = attrs.get("project", ""), attrs.get("key")
    if (
        not PROJECT.fullmatch(project)
        or attrs.get("schedule", "daily") not in ("daily", "none")
        or (key is not None and not KEY.fullmatch(key))
    ):
        return (description or "").strip(), None  # not a marker this version wrote: not ours
    labels = tuple(sorted(label for label in attrs.get("labels", "").split(",") if label))
    ownership = Ownership(project, attrs.get("schedule", "daily") == "daily", labels, key)
    return "\n".join(lines[:-1]).strip(), ownership


def owner(definition: SegmentDefinition) -> str | None:
    """The project that manages ``definition``, or None when no aep-audiences project does."""
    ownership = split_description(definition.description)[1]
    return ownership.project if ownership else None


@dataclass(frozen=True)
class State:
    """What a plan compares: the fields of a definition that the audience files declare."""

    name: str
    description: str
    expression: str
    evaluation: str
    ttl_in_days: int | None
    schedule: bool | None
    labels: tuple[str, ...]
    project: str | None
    key: str | None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"] = list(self.labels)
        return data


def expression_text(definition: SegmentDefinition) -> str:
    expression = definition.expression
    if expression is None:
        return ""
    if expression.format == "pql/json":
        try:
            return pql.to_text(pql.from_json(expression.value))
        except pql.PQLError:
            return expression.value
    return expression.value.strip()


def ttl_of(definition: SegmentDefinition) -> int | None:
    value = (definition.model_extra or {}).get("ttlInDays")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def state_of(definition: SegmentDefinition) -> State:
    description, ownership = split_description(definition.description)
    return State(
        name=definition.name,
        description=description,
        expression=expression_text(definition),
        evaluation=definition.evaluation_type,
        ttl_in_days=ttl_of(definition),
        schedule=ownership.schedule if ownership else None,
        labels=ownership.labels if ownership else (),
        project=ownership.project if ownership else None,
        key=ownership.key if ownership else None,
    )


def body_for(audience: Audience, project: str, current: SegmentDefinition | None = None) -> dict[str, Any]:
    """The create (or whole-object PATCH) body for ``audience``; an update keeps the merge policy and the
    schema (Adobe documents no change of a definition's XDM class, so the files set it at creation)."""
    ownership = Ownership(project, audience.schedule, audience.labels, audience_key(audience.name))
    body = definition_body(
        audience.name,
        audience.expression,
        description=render_description(audience.description, ownership),
        evaluation=audience.evaluation,
        merge_policy_id=current.merge_policy_id if current is not None else None,
        schema_name=schema_of(current) if current is not None else audience.schema,
    )
    if audience.ttl_in_days is not None:
        body["ttlInDays"] = audience.ttl_in_days
    return body


def state_of_body(body: dict[str, Any]) -> State:
    return state_of(SegmentDefinition.model_validate(body))


@functools.lru_cache(maxsize=4096)
def _tree(text: str) -> pql.Node | None:
    try:
        return pql.parse(text)
    except pql.PQLError:
        return None


def same_pql(first: str, second: str) -> bool:
    """The same expression: the same text, or texts that parse to the same tree (spacing, parentheses)."""
    if first.strip() == second.strip():
        return True
    left, right = _tree(first), _tree(second)
    return left is not None and left == right


@dataclass(frozen=True)
class FieldDiff:
    field: str
    before: Any
    after: Any
    diff: str = ""  # a unified diff, for multi-line text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FieldDiff:
        return cls(str(data["field"]), data.get("before"), data.get("after"), str(data.get("diff") or ""))


def diff_states(
    current: State, desired: State, *, where: tuple[str, str] = ("sandbox", "files")
) -> list[FieldDiff]:
    """The fields in which ``current`` (the sandbox) differs from ``desired`` (the files).

    ``ttl_in_days`` is compared only when the file sets it (an optional field the files do not manage
    keeps whatever AEP holds, as Terraform does with optional, computed attributes). ``key`` is compared
    only when the sandbox has one (a marker without a key gets it with the definition's next update) and
    the names agree (a new name brings its new key: the name's diff says it).
    """
    diffs: list[FieldDiff] = []
    uncompared = {"ttl_in_days"} if desired.ttl_in_days is None else set()
    if current.key is None or current.name != desired.name:
        uncompared.add("key")
    for name in FIELDS:
        before, after = getattr(current, name), getattr(desired, name)
        if name in uncompared:
            continue
        if name == "expression":
            if not same_pql(before, after):
                diffs.append(FieldDiff(name, before, after, unified(before, after, where)))
        elif before != after:
            text = (
                unified(before, after, where) if name == "description" and "\n" in f"{before}{after}" else ""
            )
            diffs.append(FieldDiff(name, _plain(before), _plain(after), text))
    return diffs


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def unified(before: str, after: str, where: tuple[str, str]) -> str:
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), fromfile=where[0], tofile=where[1], lineterm="", n=2
    )
    return "\n".join(lines)


def fingerprint(definition: SegmentDefinition) -> str:
    """What a plan saw of one definition: a digest of the fields this tool reads or writes (id, name,
    description with the marker, expression format and value, evaluation type, ttlInDays); timestamps
    and fields the tool never sets are left out, so a save that changes nothing is not a change."""
    expression = definition.expression
    seen = {
        "id": definition.id,
        "name": definition.name,
        "description": definition.description or "",
        "expression": [expression.format, expression.value] if expression else None,
        "evaluation": definition.evaluation_type,
        "ttlInDays": ttl_of(definition),
    }
    return digest(seen)


def digest(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
