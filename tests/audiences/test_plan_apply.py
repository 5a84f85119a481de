"""Plan and apply against the emulator over HTTP: creates, updates, deletes, drift, ownership, stale plans."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace

import pytest

from airflow_provider_segmentation import audiences
from airflow_provider_segmentation.audiences.ownership import audience_key, fingerprint, split_description
from airflow_provider_segmentation.client import SegmentationClient
from tests.audiences.conftest import write

DEFINITIONS = "/data/core/ups/segment/definitions"
GOLD = "US gold and platinum members"
GOLD_OWNERSHIP = audiences.Ownership("default", True, ("loyalty", "us"), key=audience_key(GOLD))
POINTS = "Points about to expire"


def definitions(client: SegmentationClient, sandbox: str = "dev") -> dict[str, object]:
    on = SegmentationClient(replace(client.config, sandbox=sandbox))
    found = list(on.list_segment_definitions())
    names = Counter(d.name for d in found)
    assert all(count == 1 for count in names.values()), f"duplicate definitions: {names}"
    return {d.name: d for d in found}


def writes(admin, sandbox: str = "dev") -> list[tuple[str, str]]:
    return [
        (e["method"], e["path"])
        for e in admin.requests(path=DEFINITIONS)
        if e["method"] in ("POST", "PATCH", "DELETE") and e["sandbox"] == sandbox
    ]


def test_plan_apply_then_a_second_plan_has_no_changes(client, folder, emulator_admin) -> None:
    plan = audiences.plan(folder, client, "dev")
    assert plan.counts()["create"] == 4 and plan.has_changes
    text = plan.render()
    assert f"+ create '{GOLD}'" in text and "Plan: 4 to create, 0 to update, 0 to delete" in text
    emulator_admin.clear_requests()
    result = audiences.apply(plan, client)
    assert sorted(result.to_dict()["created"]) == sorted(c.name for c in plan.changes)
    # one list page to check the plan, then one call per change
    assert [(e["method"], e["path"]) for e in emulator_admin.requests(path="/data/core")] == [
        ("GET", DEFINITIONS)
    ] + [("POST", DEFINITIONS)] * 4
    stored = definitions(client)
    gold = stored[GOLD]
    assert gold.model_extra["ttlInDays"] == 30 and gold.evaluation_type == "batch"
    assert stored["Recent high-value buyers"].evaluation_type == "batch"  # a 30-day window: batch
    again = audiences.plan(folder, client, "dev")
    assert not again.has_changes and not again.drifted and again.counts()["unchanged"] == 4
    assert "No changes. Sandbox 'dev' matches the files (4 unchanged)." in again.render()


def test_the_ownership_marker_survives_every_round_trip_through_aep(client, folder) -> None:
    audiences.apply(audiences.plan(folder, client, "dev"), client)
    listed = definitions(client)
    gold = listed[GOLD]
    assert gold.id is not None
    bulk = client.bulk_get_segment_definitions([gold.id])[gold.id]
    for seen in (gold, client.get_segment_definition(gold.id), bulk):
        description, ownership = split_description(seen.description)
        assert (
            description
            == "Loyalty members in the US at the two top tiers, for the quarterly rewards mailing."
        )
        assert ownership == GOLD_OWNERSHIP
    assert gold.description.endswith(
        "\n\n-- managed by aep-audiences: project=default schedule=daily labels=loyalty,us key=daddd40fed2a"
    )
    engaged = split_description(listed["Engaged by e-mail, no purchase"].description)[1]
    assert engaged is not None and engaged.schedule is False
    # an overwrite (PATCH) from the tool keeps it; a description that merely mentions it is not managed
    write(folder, "loyalty.yaml", (folder / "loyalty.yaml").read_text().replace("quarterly", "monthly"))
    audiences.apply(audiences.plan(folder, client, "dev"), client)
    patched = client.get_segment_definition(gold.id)
    assert split_description(patched.description) == (
        "Loyalty members in the US at the two top tiers, for the monthly rewards mailing.",
        GOLD_OWNERSHIP,
    )
    for lookalike in (
        "see -- managed by aep-audiences: project=default in the wiki",
        "-- managed by aep-audiences: project=Default",  # not a project name this tool writes
        "-- managed by aep-audiences: schedule=daily",
        "-- managed by aep-audiences: project=default key=not-a-digest",
    ):
        assert split_description(lookalike)[1] is None


def test_an_edit_through_the_api_shows_as_drift_with_a_readable_diff(client, folder) -> None:
    audiences.apply(audiences.plan(folder, client, "dev"), client)
    gold = definitions(client)[GOLD]
    body = {
        "name": GOLD,
        "description": gold.description.replace("quarterly", "weekly"),
        "expression": {"type": "PQL", "format": "pql/text", "value": 'homeAddress.countryCode = "CA"'},
        "ttlInDays": 60,
    }
    client.update_segment_definition(gold.id, body)
    drift = audiences.plan(folder, client, "dev")
    (update,) = drift.of("update")
    assert update.id == gold.id and drift.counts()["unchanged"] == 3
    assert [d.field for d in update.diffs] == ["description", "expression", "ttl_in_days"]
    expression = update.diffs[1].diff
    assert f"--- dev: {GOLD}" in expression and "+++ " in expression and "loyalty.yaml:4" in expression
    assert '-homeAddress.countryCode = "CA"' in expression
    assert (
        '+homeAddress.countryCode = "US"' in expression
        and '+and loyalty.tier in ["gold", "platinum"]' in expression
    )
    text = drift.render()
    assert "~ update 'US gold and platinum members'" in text and "~ ttl_in_days: 60 -> 30" in text
    with pytest.raises(audiences.AudienceDriftError, match="has drifted") as raised:
        audiences.check_drift(drift)
    assert '+homeAddress.countryCode = "US"' in str(raised.value)
    audiences.apply(drift, client)
    assert not audiences.plan(folder, client, "dev").drifted


def test_the_same_pql_written_differently_is_not_a_change(client, folder) -> None:
    audiences.apply(audiences.plan(folder, client, "dev"), client)
    loyalty = folder / "loyalty.yaml"
    text = loyalty.read_text().replace(
        'loyalty.points > 4000 and consents.marketing.email.val = "y"',
        '(loyalty.points > 4000)   and   (consents.marketing.email.val = "y")',
    )
    loyalty.write_text(text)
    assert not audiences.plan(folder, client, "dev").drifted


def test_unmanaged_definitions_are_never_touched(client, folder, emulator_admin) -> None:
    legacy = client.create_segment_definition(
        {
            "name": "Legacy VIPs",
            "description": "made by hand",
            "expression": {"value": "loyalty.points > 9000"},
        }
    )
    clash = client.create_segment_definition(
        {"name": GOLD, "description": "someone else's", "expression": {"value": 'loyalty.tier = "gold"'}}
    )
    before = {d.id: fingerprint(d) for d in definitions(client).values()}
    plan = audiences.plan(folder, client, "dev", prune=True)
    (conflict,) = plan.conflicts
    assert conflict.name == GOLD and "not managed by aep-audiences" in conflict.reason
    assert not plan.of("delete") and "Legacy VIPs" not in {c.name for c in plan.changes}
    assert "! conflict 'US gold and platinum members'" in plan.render()
    emulator_admin.clear_requests()
    with pytest.raises(audiences.AudienceConflictError):
        audiences.apply(plan, client)
    assert writes(emulator_admin) == []
    # adopting is explicit: then the clash is updated (and marked), the hand-made one still untouched
    adopting = audiences.plan(folder, client, "dev", prune=True, adopt=True)
    (update,) = adopting.of("update")
    assert update.id == clash.id and [d.field for d in update.diffs][-1] == "project"
    audiences.apply(adopting, client)
    after = definitions(client)
    assert fingerprint(after["Legacy VIPs"]) == before[legacy.id]
    assert split_description(after[GOLD].description)[1] is not None and after[GOLD].id == clash.id
    assert all(legacy.id not in path for _, path in writes(emulator_admin))


def test_prune_is_opt_in_and_deletes_only_this_projects_definitions(client, folder) -> None:
    audiences.apply(audiences.plan(folder, client, "dev"), client)
    other = write(folder.parent / "web", "web.yaml", "name: Web visitors\nexpression: loyalty.points > 1\n")
    audiences.apply(audiences.plan(other.parent, client, "dev", project="web"), client)
    (folder / "engagement.yaml").unlink()
    kept = audiences.plan(folder, client, "dev")
    assert not kept.has_changes and [c.name for c in kept.of("orphan")] == ["Engaged by e-mail, no purchase"]
    assert "1 managed definition(s) have no file and are kept" in kept.render()
    pruning = audiences.plan(folder, client, "dev", prune=True)
    deleted = [c.name for c in pruning.of("delete")]
    assert deleted == ["Engaged by e-mail, no purchase"]  # never 'Web visitors', another project's
    audiences.apply(pruning, client)
    names = set(definitions(client))
    assert "Engaged by e-mail, no purchase" not in names and "Web visitors" in names
    # the other project's names are conflicts for this one, never updates
    write(folder, "clash.yaml", "name: Web visitors\nexpression: loyalty.points > 2\n")
    (conflict,) = audiences.plan(folder, client, "dev", adopt=True).conflicts
    assert "belongs to aep-audiences project 'web'" in conflict.reason


@pytest.mark.parametrize("edit", ["unchanged", "planned", "new"])
def test_apply_refuses_a_stale_plan_and_writes_nothing(client, folder, emulator_admin, edit) -> None:
    audiences.apply(audiences.plan(folder, client, "dev"), client)
    write(folder, "more.yaml", 'name: Silver\nexpression: loyalty.tier = "silver"\n')
    loyalty = folder / "loyalty.yaml"
    loyalty.write_text(loyalty.read_text().replace("4000", "5000"))
    plan = audiences.plan(folder, client, "dev")
    assert plan.counts()["create"] == 1 and plan.counts()["update"] == 1
    current = definitions(client)
    if edit == "new":  # someone else created a definition with a planned name
        client.create_segment_definition(
            {"name": "Silver", "expression": {"value": 'loyalty.tier = "silver"'}}
        )
    else:  # someone edited a definition the plan saw, one it would update or one it left alone
        target = current[POINTS if edit == "planned" else GOLD]
        client.update_segment_definition(
            target.id,
            {"name": target.name, "description": target.description, "expression": {"value": "x = 2"}},
        )
    emulator_admin.clear_requests()
    with pytest.raises(audiences.StalePlanError, match=r"changed since plan .* plan again"):
        audiences.apply(plan, client)
    assert writes(emulator_admin) == []


def test_promotion_plans_the_same_folder_against_dev_then_prod(client, folder) -> None:
    dev = audiences.plan(folder, client, "dev")
    audiences.apply(dev, client)
    prod = audiences.plan(folder, client, "prod")
    assert prod.sandbox == "prod" and prod.counts()["create"] == 4 and prod.fingerprint != dev.fingerprint
    audiences.apply(prod, client)
    in_dev, in_prod = definitions(client, "dev"), definitions(client, "prod")
    assert set(in_dev) == set(in_prod) and {d.id for d in in_dev.values()}.isdisjoint(
        d.id for d in in_prod.values()
    )
    assert not audiences.plan(folder, client, "prod").drifted
    assert not audiences.plan(folder, client, "dev").drifted


def test_a_plan_travels_as_json_and_an_altered_plan_is_refused(client, folder) -> None:
    plan = audiences.plan(folder, client, "dev")
    data = json.loads(json.dumps(plan.to_dict()))
    back = audiences.Plan.from_dict(data)
    assert back == plan and back.fingerprint == plan.fingerprint and back.render() == plan.render()
    data["changes"][0]["body"]["expression"]["value"] = "loyalty.points > 0"
    with pytest.raises(ValueError, match="altered"):
        audiences.Plan.from_dict(data)
    with pytest.raises(ValueError, match="not an aep-audiences plan"):
        audiences.Plan.from_dict({"changes": []})


class CrashingClient(SegmentationClient):
    """Dies (like a killed worker) after ``writes`` write calls."""

    def __init__(self, *args, writes: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.left = writes

    def execute(self, operation):
        if operation.method in ("POST", "PATCH", "DELETE") and "bulk-get" not in operation.path:
            if self.left == 0:
                raise KeyboardInterrupt("the worker was killed")
            self.left -= 1
        return super().execute(operation)


def test_an_apply_that_died_half_way_is_completed_by_the_next_one(client, folder, emulator_admin) -> None:
    plan = audiences.plan(folder, client, "dev")
    with pytest.raises(KeyboardInterrupt):
        audiences.apply(plan, CrashingClient(client.config, writes=2))
    assert len(definitions(client)) == 2
    result = audiences.apply(plan, client)
    hows = Counter(d["how"] for d in result.done)
    assert hows == {"found applied by an earlier run": 2, "applied": 2}
    assert result.render().startswith(
        f"Applied plan {plan.fingerprint} to sandbox 'dev': 2 created, 0 updated, 0 deleted; "
        "2 found made by an earlier run.\n"
    )
    assert set(definitions(client)) == {c.name for c in plan.changes}
    assert len([w for w in writes(emulator_admin) if w[0] == "POST"]) == 4  # no create was sent twice
    assert not audiences.plan(folder, client, "dev").drifted


def test_reapplying_an_applied_plan_counts_nothing_as_made_now(client, folder, emulator_admin) -> None:
    plan = audiences.plan(folder, client, "dev")
    first = audiences.apply(plan, client)
    assert first.render().startswith(
        f"Applied plan {plan.fingerprint} to sandbox 'dev': 4 created, 0 updated, 0 deleted.\n"
    )
    emulator_admin.clear_requests()
    again = audiences.apply(plan, client)
    assert writes(emulator_admin) == [] and again.made == []
    lines = again.render().splitlines()
    assert lines[0] == (
        f"Applied plan {plan.fingerprint} to sandbox 'dev': 0 created, 0 updated, 0 deleted; "
        "4 found made by an earlier run."
    )
    assert (
        f"  + created '{GOLD}' ({definitions(client)[GOLD].id})  (found applied by an earlier run)" in lines
    )


def test_a_rename_in_aep_is_planned_as_a_name_change_and_apply_renames_it_back(
    client, folder, emulator_admin
) -> None:
    audiences.apply(audiences.plan(folder, client, "dev"), client)
    points = definitions(client)[POINTS]
    client.update_segment_definition(points.id, {"name": "Points expiring (renamed in UI)"})
    plan = audiences.plan(folder, client, "dev")
    assert plan.counts() == {
        "create": 0,
        "update": 1,
        "delete": 0,
        "unchanged": 3,
        "orphan": 0,
        "conflict": 0,
    }
    (update,) = plan.of("update")
    assert update.id == points.id and update.name == POINTS
    assert [(d.field, d.before, d.after) for d in update.diffs] == [
        ("name", "Points expiring (renamed in UI)", POINTS)
    ]
    assert f"~ update '{POINTS}' (id {points.id})" in plan.render()
    assert f"~ name: 'Points expiring (renamed in UI)' -> '{POINTS}'" in plan.render()
    emulator_admin.clear_requests()
    result = audiences.apply(plan, client)
    assert writes(emulator_admin) == [("PATCH", f"{DEFINITIONS}/{points.id}")]
    assert result.to_dict()["updated"] == [POINTS] and result.changed_ids == [points.id]
    stored = definitions(client)
    assert len(stored) == 4 and stored[POINTS].id == points.id
    assert not audiences.plan(folder, client, "dev").drifted
    # renamed in AEP again, and meanwhile someone made another definition with the file's name: the
    # rename back would clash with it (AEP names are unique), so it is a conflict, not a second definition
    client.update_segment_definition(points.id, {"name": "Points expiring (renamed in UI)"})
    other = client.create_segment_definition({"name": POINTS, "expression": {"value": "loyalty.points > 1"}})
    blocked = audiences.plan(folder, client, "dev")
    (conflict,) = blocked.conflicts
    assert conflict.name == POINTS and conflict.id == points.id and not blocked.of("create", "orphan")
    assert f"{other.id} holds the name '{POINTS}'" in conflict.reason


def test_a_rename_in_the_file_is_an_update_with_renamed_from_else_a_create_and_an_orphan(
    client, folder, emulator_admin
) -> None:
    audiences.apply(audiences.plan(folder, client, "dev"), client)
    points = definitions(client)[POINTS]
    loyalty = folder / "loyalty.yaml"
    original = loyalty.read_text()
    loyalty.write_text(original.replace(f"name: {POINTS}", "name: Points expiring soon"))
    plain = audiences.plan(folder, client, "dev")  # like Terraform without a `moved` block
    assert [c.name for c in plain.of("create")] == ["Points expiring soon"]
    assert [(c.name, c.id) for c in plain.of("orphan")] == [(POINTS, points.id)]
    loyalty.write_text(
        original.replace(f"name: {POINTS}", f"name: Points expiring soon\n    renamed_from: {POINTS}")
    )
    moved = audiences.plan(folder, client, "dev")
    assert not moved.of("create", "orphan", "delete", "conflict")
    (update,) = moved.of("update")
    assert update.id == points.id and [(d.field, d.after) for d in update.diffs] == [
        ("name", "Points expiring soon")
    ]
    emulator_admin.clear_requests()
    audiences.apply(moved, client)
    assert writes(emulator_admin) == [("PATCH", f"{DEFINITIONS}/{points.id}")]
    renamed = definitions(client)["Points expiring soon"]
    assert renamed.id == points.id and POINTS not in definitions(client)
    assert split_description(renamed.description)[1].key == audience_key("Points expiring soon")
    assert not audiences.plan(folder, client, "dev").drifted


def test_markers_without_a_key_still_match_by_name_and_get_it_with_the_next_update(client, folder) -> None:
    audiences.apply(audiences.plan(folder, client, "dev"), client)
    for definition in definitions(client).values():  # as an earlier version wrote them
        client.update_segment_definition(
            definition.id, {"description": re.sub(r" key=[0-9a-f]+$", "", definition.description)}
        )
    assert all(split_description(d.description)[1].key is None for d in definitions(client).values())
    again = audiences.plan(folder, client, "dev")
    assert not again.drifted and again.counts()["unchanged"] == 4
    loyalty = folder / "loyalty.yaml"
    loyalty.write_text(loyalty.read_text().replace("4000", "5000"))
    (update,) = audiences.plan(folder, client, "dev").of("update")
    assert update.name == POINTS and [d.field for d in update.diffs] == ["expression"]
    audiences.apply(audiences.plan(folder, client, "dev"), client)
    stored = definitions(client)
    assert split_description(stored[POINTS].description)[1].key == audience_key(POINTS)
    assert split_description(stored[GOLD].description)[1].key is None


def test_a_copy_made_in_aep_is_an_orphan_and_the_original_keeps_its_audience(client, folder) -> None:
    audiences.apply(audiences.plan(folder, client, "dev"), client)
    gold = definitions(client)[GOLD]
    copy = client.create_segment_definition(  # the AEP UI's "duplicate" copies the description
        {"name": f"{GOLD} (copy)", "description": gold.description, "expression": {"value": "x = 1"}}
    )
    plan = audiences.plan(folder, client, "dev")
    assert not plan.has_changes and plan.counts()["unchanged"] == 4
    assert [(c.name, c.id) for c in plan.of("orphan")] == [(f"{GOLD} (copy)", copy.id)]
    client.update_segment_definition(gold.id, {"name": f"{GOLD} (renamed)"})  # now neither has the name
    (conflict,) = audiences.plan(folder, client, "dev").conflicts
    assert conflict.name == GOLD and "2 definitions carry the key of" in conflict.reason


def test_schedule_true_puts_an_audience_in_scheduled_ids(client, folder) -> None:
    plan = audiences.plan(folder, client, "dev")
    assert plan.scheduled_ids() == []  # nothing exists yet: creates get their ids when applied
    result = audiences.apply(plan, client)
    stored = definitions(client)
    scheduled = sorted([GOLD, POINTS, "Recent high-value buyers"])  # engagement.yaml: schedule: false
    assert result.scheduled_ids == [stored[name].id for name in scheduled]
    assert result.to_dict()["scheduled_ids"] == result.scheduled_ids
    assert audiences.plan(folder, client, "dev").scheduled_ids() == result.scheduled_ids
    engagement = folder / "engagement.yaml"
    engagement.write_text(engagement.read_text().replace("schedule: false", "schedule: true"))
    flipped = audiences.plan(folder, client, "dev")
    (update,) = flipped.of("update")
    assert [(d.field, d.before, d.after) for d in update.diffs] == [("schedule", False, True)]
    assert audiences.Plan.from_dict(json.loads(json.dumps(flipped.to_dict()))) == flipped
    assert len(audiences.apply(flipped, client).scheduled_ids) == 4
