"""A retried task re-attaches to the job of an earlier try only when it was made for the same request.

Generated: pairs of requests (sandbox, segment ids or names in any order, export filters) for the two
tries of one task, with the task state store carrying the first try's job to the second.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.operators.export_jobs import AEPExportAudienceOperator
from airflow_provider_segmentation.operators.segment_jobs import AEPRunSegmentJobOperator
from tests.conftest import TEST_SETTINGS
from tests.operators.conftest import MemoryTaskStateStore, make_context

NAMES = ("Alpha", "Beta", "Gamma")
SANDBOXES = ("prod", "dev")
FUNCTION_FIXTURES = settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def definitions() -> dict[str, dict[str, str]]:
    """The same names defined in both sandboxes (so names resolve to different ids in each)."""
    ids: dict[str, dict[str, str]] = {}
    for sandbox in SANDBOXES:
        hook = SegmentationHook(sandbox=sandbox)
        ids[sandbox] = {
            name: str(
                hook.client.create_segment_definition({"name": name, "expression": {"value": "true"}}).id
            )
            for name in NAMES
        }
    return ids


def fresh_emulator(emulator_admin) -> dict[str, dict[str, str]]:
    """Each example starts from an empty emulator whose jobs stay running (the first try's job too)."""
    emulator_admin.reset()
    emulator_admin.configure(**{**TEST_SETTINGS, "max_processing_segment_jobs": 1000})
    # retried tasks and their re-attachment, not AEP's on-demand allowance (2 a day): the quota is off
    emulator_admin.configure(rules={"enforce_on_demand_quota": False})
    emulator_admin.advance_clock(0, frozen=True)
    return definitions()


chosen_names = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True)
segment_request = st.fixed_dictionaries(
    {"sandbox": st.sampled_from(SANDBOXES), "names": chosen_names, "by_name": st.booleans()}
)


def segment_task(request: dict, ids: dict[str, dict[str, str]]) -> AEPRunSegmentJobOperator:
    chosen = (
        {"segment_names": request["names"]}
        if request["by_name"]
        else {"segment_ids": [ids[request["sandbox"]][n] for n in request["names"]]}
    )
    return AEPRunSegmentJobOperator(
        task_id="run", sandbox=request["sandbox"], wait_for_completion=False, deferrable=False, **chosen
    )


def jobs_made(emulator_admin) -> list[dict]:
    return [
        r
        for r in emulator_admin.requests("POST")
        if r["path"].endswith("/segment/jobs") or r["path"].endswith("/export/jobs")
    ]


@FUNCTION_FIXTURES
@given(first=segment_request, second=segment_request)
def test_a_segment_job_is_reattached_only_for_the_same_request(
    aep_conn, emulator_admin, capsys, first, second
) -> None:
    ids = fresh_emulator(emulator_admin)
    store = MemoryTaskStateStore()
    earlier = segment_task(first, ids).execute(make_context(store))["job_id"]
    emulator_admin.clear_requests()
    capsys.readouterr()
    again = segment_task(second, ids).execute(make_context(store, try_number=2))["job_id"]
    same = first["sandbox"] == second["sandbox"] and set(first["names"]) == set(second["names"])
    said = capsys.readouterr().out  # the task's log (Airflow writes it to stdout here)
    if same:
        assert again == earlier and jobs_made(emulator_admin) == []
        assert "re-attaching" in said and "same request" in said
    else:
        assert again != earlier and len(jobs_made(emulator_admin)) == 1
        assert "another request" in said and earlier in said
        assert emulator_admin.requests("DELETE") == []  # the earlier job is left alone
        old = SegmentationHook(sandbox=first["sandbox"]).client.get_segment_job(earlier)
        assert old.status.value not in ("CANCELLING", "CANCELLED")


export_request = st.fixed_dictionaries(
    {
        "names": chosen_names,
        "status": st.lists(
            st.sampled_from(["realized", "existing", "exited"]), min_size=1, max_size=3, unique=True
        ),
        "fields": st.sampled_from(
            [None, "identityMap", "person.name,identityMap", "identityMap,person.name"]
        ),
        "segment_per_batch": st.booleans(),
    }
)


def normal(request: dict) -> tuple:
    fields = ",".join(sorted(request["fields"].split(","))) if request["fields"] else None
    return frozenset(request["names"]), frozenset(request["status"]), fields, request["segment_per_batch"]


@FUNCTION_FIXTURES
@given(first=export_request, second=export_request)
def test_an_export_is_reattached_only_for_the_same_request(
    aep_conn, emulator_admin, capsys, first, second
) -> None:
    ids = fresh_emulator(emulator_admin)

    def task(request: dict) -> AEPExportAudienceOperator:
        return AEPExportAudienceOperator(
            task_id="export",
            segment_ids=[ids["prod"][n] for n in request["names"]],
            dataset_id=PROFILE_DATASET_ID,
            fields=request["fields"],
            status=request["status"],
            segment_per_batch=request["segment_per_batch"],
            wait_for_completion=False,
            deferrable=False,
        )

    store = MemoryTaskStateStore()
    earlier = task(first).execute(make_context(store))["job_id"]
    emulator_admin.clear_requests()
    capsys.readouterr()
    again = task(second).execute(make_context(store, try_number=2))["job_id"]
    said = capsys.readouterr().out
    if normal(first) == normal(second):
        assert again == earlier and jobs_made(emulator_admin) == []
        assert "same request" in said
    else:
        assert again != earlier and len(jobs_made(emulator_admin)) == 1
        assert "another request" in said and emulator_admin.requests("DELETE") == []
