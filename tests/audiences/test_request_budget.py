"""Planning 500 audiences costs list pages (plus bulk-gets only when listed items lack the expression), not
500 GETs; applying costs one call per change. Counted in the emulator's request log and printed."""

from __future__ import annotations

from collections import Counter

from airflow_provider_segmentation import audiences
from airflow_provider_segmentation.client import SegmentationClient
from airflow_provider_segmentation.client.operations import Page
from tests.audiences.conftest import write

AUDIENCES = 500
UNMANAGED = 50
DEFINITIONS = "/data/core/ups/segment/definitions"


def kinds(admin) -> Counter[str]:
    counted: Counter[str] = Counter()
    for entry in admin.requests():
        if entry["path"] == DEFINITIONS:
            counted[
                f"{entry['method']} list" if entry["method"] == "GET" else f"{entry['method']} create"
            ] += 1
        elif entry["path"] == f"{DEFINITIONS}/bulk-get":
            counted["POST bulk-get"] += 1
        elif entry["path"].startswith(f"{DEFINITIONS}/"):
            counted[f"{entry['method']} one"] += 1
        elif entry["path"].startswith("/ims/"):
            counted["IMS token"] += 1
    return counted


class ListsWithoutExpressions(SegmentationClient):
    """As if AEP's list answer left the expression out: the planner must bulk-get what it needs."""

    def execute(self, operation):
        answer = super().execute(operation)
        if operation.name == "listSegmentDefinitions":
            return Page([d.model_copy(update={"expression": None}) for d in answer.items], answer.next)
        return answer


def test_planning_500_audiences_costs_list_pages_not_500_gets(
    client, tmp_path, emulator_admin, capsys
) -> None:
    folder = tmp_path / "many"
    for part in range(5):
        write(
            folder,
            f"part{part}.yaml",
            "audiences:\n"
            + "".join(
                f"  - name: Audience {n:03d}\n    expression: loyalty.points > {n}\n"
                for n in range(part * 100, part * 100 + 100)
            ),
        )
    for n in range(UNMANAGED):
        client.create_segment_definition(
            {"name": f"Other {n}", "expression": {"value": f"loyalty.points > {n}"}}
        )
    emulator_admin.clear_requests()
    first = audiences.plan(folder, client, "dev")
    planned_empty = kinds(emulator_admin)
    assert first.counts()["create"] == AUDIENCES and planned_empty["GET list"] == 1

    emulator_admin.clear_requests()
    result = audiences.apply(first, client)
    applied = kinds(emulator_admin)
    assert len(result.done) == AUDIENCES
    assert applied["POST create"] == AUDIENCES and applied["GET list"] == 1 and applied["GET one"] == 0

    emulator_admin.clear_requests()
    second = audiences.plan(folder, client, "dev")
    planned = kinds(emulator_admin)
    assert not second.drifted and second.counts()["unchanged"] == AUDIENCES
    pages = -(-(AUDIENCES + UNMANAGED) // 100)
    assert planned == {"GET list": pages}  # the IMS token is cached for the process
    assert second.reads == {"list_pages": pages, "bulk_gets": 0, "definitions": AUDIENCES + UNMANAGED}

    emulator_admin.clear_requests()
    degraded = audiences.plan(folder, ListsWithoutExpressions(client.config), "dev")
    with_bulk = kinds(emulator_admin)
    assert not degraded.drifted
    # only the managed ones are fetched, 100 per call
    assert with_bulk == {"GET list": pages, "POST bulk-get": AUDIENCES // 100}
    with capsys.disabled():
        print(
            f"\n[request budget] planning {AUDIENCES} audiences in a sandbox of "
            f"{AUDIENCES + UNMANAGED} definitions: "
            f"{planned['GET list']} list pages + {planned.get('POST bulk-get', 0)} bulk-gets (0 GETs of one "
            f"definition; a GET per audience would be {AUDIENCES}); if listed items lacked the expression: "
            f"{with_bulk['GET list']} list pages + {with_bulk['POST bulk-get']} bulk-gets. The first plan "
            f"(all {AUDIENCES} to create): {planned_empty['GET list']} list page. Apply of {AUDIENCES} "
            f"creates: {applied['GET list']} list page + {applied['POST create']} creates."
        )
