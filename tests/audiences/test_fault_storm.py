"""Apply through a storm of 503s and 429s, with answers lost after AEP did the work: re-running the same
plan ends with exactly the planned state, no definition twice, and the unmanaged one untouched."""

from __future__ import annotations

from collections import Counter

import pytest

from airflow_provider_segmentation import audiences
from airflow_provider_segmentation.audiences.ownership import fingerprint, split_description
from airflow_provider_segmentation.client import AEPError
from tests.audiences.conftest import write

pytestmark = pytest.mark.reliability
PLATFORM = "/data/core/ups/*"
DEFINITIONS = "/data/core/ups/segment/definitions"


def audience_file(count: int, *, points: int, start: int = 0) -> str:
    return "audiences:\n" + "".join(
        f"  - name: Storm {i:03d}\n    expression: loyalty.points > {points + i}\n    labels: [storm]\n"
        for i in range(start, start + count)
    )


def test_a_fault_storm_during_apply_ends_in_exactly_the_planned_state(
    client, tmp_path, emulator_admin, capsys
) -> None:
    folder = tmp_path / "storm"
    write(folder, "storm.yaml", audience_file(40, points=100))
    audiences.apply(audiences.plan(folder, client, "dev"), client)
    bystander = client.create_segment_definition(
        {"name": "Hand-made", "expression": {"value": "loyalty.points > 7"}, "description": "not managed"}
    )
    # the next version: 0-9 deleted (prune), 10-29 updated, 30-39 unchanged, 40-69 new
    write(
        folder,
        "storm.yaml",
        audience_file(20, points=5000, start=10) + audience_file(40, points=100, start=30)[11:],
    )
    plan = audiences.plan(folder, client, "dev", prune=True)
    assert plan.counts() == {
        "create": 30,
        "update": 20,
        "delete": 10,
        "unchanged": 10,
        "orphan": 0,
        "conflict": 0,
    }

    emulator_admin.clear_requests()
    for method, seed in (("*", 1), ("POST", 2), ("PATCH", 3), ("DELETE", 4)):
        emulator_admin.inject_fault(
            method=method, path=PLATFORM, kind="status", status=503, probability=0.12, seed=seed
        )
    emulator_admin.inject_fault(
        method="*", path=PLATFORM, kind="status", status=429, probability=0.10, seed=5
    )
    for method, seed in (("POST", 6), ("PATCH", 7), ("DELETE", 8)):  # lost answers: done, then a 503
        emulator_admin.inject_fault(
            method=method, path=PLATFORM, kind="status", status=503, after=True, probability=0.15, seed=seed
        )
    runs, outcomes = 0, []
    try:
        while True:
            runs += 1
            try:
                result = audiences.apply(plan, client, max_rounds=2)
                outcomes.append("complete")
                break
            except AEPError as exc:  # half way: the next run of the same plan picks up
                outcomes.append(type(exc).__name__)
                assert runs < 10, outcomes
    finally:
        emulator_admin.clear_faults()

    log = emulator_admin.requests(path="/data/core")
    faults = Counter(f"{e['status']} {e.get('fault')}" for e in log if e.get("fault"))
    lost = sum(1 for e in log if "after" in str(e.get("fault")))
    assert lost > 0 and faults and any(k.startswith("429") for k in faults)
    final = {d.name: d for d in client.list_segment_definitions()}
    names = Counter(d.name for d in client.list_segment_definitions())
    assert max(names.values()) == 1  # no definition twice
    wanted = {f"Storm {i:03d}" for i in range(10, 70)}
    assert set(final) == wanted | {"Hand-made"}
    assert fingerprint(final["Hand-made"]) == fingerprint(bystander)
    assert all(split_description(final[n].description)[1] is not None for n in wanted)
    assert not audiences.plan(folder, client, "dev", prune=True).drifted  # exactly the planned state
    assert all(str(final[f"Storm {i:03d}"].expression.value).endswith(str(5000 + i)) for i in range(10, 30))
    creates = [e for e in log if e["method"] == "POST" and e["path"] == DEFINITIONS]
    with capsys.disabled():
        print(
            f"\n[fault storm] {runs} apply run(s) ({', '.join(outcomes)}); "
            f"last run {result.rounds} round(s); "
            f"{len(log)} platform requests, faults injected: {dict(faults)}; "
            f"{len(creates)} create attempts for 30 creates, 0 duplicates"
        )
