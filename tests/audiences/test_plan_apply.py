"""Plan and apply against the emulator over HTTP: creates, updates, deletes, drift, ownership, stale plans."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import pytest

from airflow_provider_segmentation import audiences
from airflow_provider_segmentation.audiences.ownership import fingerprint, split_description
from airflow_provider_segmentation.client import SegmentationClient
from tests.audiences.conftest import write

DEFINITIONS = "/data/core/ups/segment/definitions"
GOLD = "US gold and platinum members"


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
    assert stored["Recent high-value buyers"].evaluation_type == "streaming"
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
        assert ownership == audiences.Ownership("default", True, ("loyalty", "us"))
    assert gold.description.endswith(
        "\n\n-- managed by aep-audiences: project=default schedule=daily labels=loyalty,us"
    )
    engaged = split_description(listed["Engaged by e-mail, no purchase"].description)[1]
    assert engaged is not None and engaged.schedule is False
    # an overwrite (PATCH) from the tool keeps it; a description that merely mentions it is not managed
    write(folder, "loyalty.yaml", (folder / "loyalty.yaml").read_text().replace("quarterly", "monthly"))
    audiences.apply(audiences.plan(folder, client, "dev"), client)
    patched = client.get_segment_definition(gold.id)
    assert split_description(patched.description) == (
        "Loyalty members in the US at the two top tiers, for the monthly rewards mailing.",
        audiences.Ownership("default", True, ("loyalty", "us")),
    )
    for lookalike in (
        "see -- managed by aep-audiences: project=default in the wiki",
        "-- managed by aep-audiences: project=Default",  # not a project name this tool writes
        "-- managed by aep-audiences: schedule=daily",
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
        target = current["Points about to expire" if edit == "planned" else GOLD]
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
    assert set(definitions(client)) == {c.name for c in plan.changes}
    assert len([w for w in writes(emulator_admin) if w[0] == "POST"]) == 4  # no create was sent twice
    assert not audiences.plan(folder, client, "dev").drifted
