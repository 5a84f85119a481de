"""Which definition of a sandbox each audience of the files describes: by the marker's key, then by name.

The marker of a definition this tool made carries the audience's ``key`` (``ownership.audience_key``, a
digest of its name in the files), so a definition renamed in AEP is still found, and its name is one more
field to update. Definitions whose marker has no key (written before keys existed) and unmanaged ones
(conflicts, unless adopted) are found by name. ``renamed_from``, an audience's earlier names in the
files, extends both searches, so that a deliberate rename in the files updates the definition instead
of creating a new one beside the old (Terraform's ``moved``); a rename without it is a create, and the
old definition is an orphan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from airflow_provider_segmentation.audiences.files import Audience
from airflow_provider_segmentation.audiences.ownership import audience_key, owner, split_description
from airflow_provider_segmentation.audiences.sandbox import Snapshot
from airflow_provider_segmentation.models import SegmentDefinition


@dataclass(frozen=True)
class Match:
    """The definition an audience describes (None and no conflict: to create), or why it cannot be
    planned; ``involved`` are the ids the match is about, which are therefore never orphans."""

    definition: SegmentDefinition | None = None
    conflict: str = ""
    involved: tuple[str, ...] = ()


def match_audiences(
    audiences: Sequence[Audience], snapshot: Snapshot, *, project: str, adopt: bool
) -> dict[str, Match]:
    """The match of every audience, by name: first by key (for all of them), then by name."""
    by_key: dict[str, list[SegmentDefinition]] = {}
    for definition in snapshot.by_id.values():
        ownership = split_description(definition.description)[1]
        if ownership is not None and ownership.project == project and ownership.key:
            by_key.setdefault(ownership.key, []).append(definition)
    matches: dict[str, Match] = {}
    for audience in audiences:
        found = _by_key(audience, by_key)
        if found is not None:
            matches[audience.name] = found
    claimed = {
        m.definition.id: name for name, m in matches.items() if m.definition is not None and m.definition.id
    }
    for audience in audiences:
        if audience.name not in matches:
            matches[audience.name] = _by_name(audience, snapshot, project, adopt, claimed)
    return {name: _check_name_is_free(matches[name], name, snapshot) for name in matches}


def _ids(definitions: Sequence[SegmentDefinition]) -> tuple[str, ...]:
    return tuple(str(d.id) for d in definitions)


def _by_key(audience: Audience, by_key: dict[str, list[SegmentDefinition]]) -> Match | None:
    for name in (audience.name, *audience.renamed_from):
        found = by_key.get(audience_key(name), [])
        if len(found) == 1:
            return Match(found[0], involved=_ids(found))
        if found:
            named = [d for d in found if d.name == name]
            if len(named) == 1:  # the others are copies made in AEP: orphans of this project
                return Match(named[0], involved=_ids(named))
            return Match(
                conflict=f"{len(found)} definitions carry the key of {name!r} in their marker "
                f"({', '.join(_ids(found))}), copies made in AEP: delete the extra ones, or remove the "
                "marker line from their description",
                involved=_ids(found),
            )
    return None


def _by_name(
    audience: Audience, snapshot: Snapshot, project: str, adopt: bool, claimed: dict[str, str]
) -> Match:
    for name in (audience.name, *audience.renamed_from):
        named = snapshot.named(name)
        if name != audience.name:  # an earlier name can only be this project's own definition
            named = [d for d in named if owner(d) == project]
        if not named:
            continue
        if len(named) > 1:
            return Match(conflict=_name_used_twice(named, name, snapshot), involved=_ids(named))
        current = named[0]
        who = owner(current)
        if current.id in claimed:
            return Match(
                current,
                conflict=f"the definition named {name!r} ({current.id}) is the one of the audience "
                f"{claimed[current.id]!r} (its marker says so; it was renamed in AEP): rename the audience, "
                "or rename that definition in AEP",
            )
        if who is not None and who != project:
            return Match(
                current,
                conflict=f"this name belongs to aep-audiences project '{who}', not '{project}': rename the "
                "audience, or manage it from that project",
            )
        if who is None and not adopt:
            return Match(
                current,
                conflict="a definition with this name exists and is not managed by aep-audiences, so it is "
                "never touched: rename the audience, delete the definition in AEP, or adopt it (adopt=True, "
                "--adopt) to manage it from these files",
            )
        return Match(current, involved=_ids(named))
    return Match()


def _name_used_twice(named: Sequence[SegmentDefinition], name: str, snapshot: Snapshot) -> str:
    return (
        f"{len(named)} definitions in sandbox '{snapshot.sandbox}' have the name {name!r} "
        f"({', '.join(_ids(named))}); AEP names should be unique: delete the extra ones in AEP"
    )


def _check_name_is_free(found: Match, name: str, snapshot: Snapshot) -> Match:
    """A definition found under another name is renamed to ``name``: no other definition may hold it."""
    current = found.definition
    if found.conflict or current is None:
        return found
    holders = [d for d in snapshot.named(name) if d.id != current.id]
    if not holders:
        return found
    if current.name == name:
        reason = _name_used_twice([current, *holders], name, snapshot)
    else:
        reason = (
            f"the definition {current.id} (named {current.name!r} in AEP) is this audience's, but "
            f"{', '.join(_ids(holders))} holds the name {name!r}, and AEP names are unique: delete or "
            "rename that one in AEP"
        )
    return Match(current, conflict=reason, involved=(*found.involved, *_ids(holders)))
