"""The Airflow faces: plan to XCom (and fail on drift), apply an upstream plan after approval."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from airflow_provider_segmentation import audiences
from airflow_provider_segmentation.client import AEPValidationError
from airflow_provider_segmentation.compat import HITL_AVAILABLE
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.operators.audiences import (
    AEPApplyAudiencesOperator,
    AEPPlanAudiencesOperator,
    approval_gate,
    resolve_folder,
)
from tests.operators.conftest import make_context


def plan_task(folder, **kwargs) -> tuple[dict, dict]:
    context = make_context()
    plan = AEPPlanAudiencesOperator(task_id="plan", folder=str(folder), sandbox="dev", **kwargs).execute(
        context
    )
    return plan, context["ti"].xcoms


def test_plan_goes_to_xcom_and_apply_makes_it(aep_conn, folder, emulator_admin) -> None:
    plan, xcoms = plan_task(folder)
    assert plan["has_changes"] and plan["counts"]["create"] == 4 and plan["sandbox"] == "dev"
    assert xcoms["has_changes"] is True and xcoms["fingerprint"] == plan["fingerprint"]
    assert "Plan: 4 to create" in xcoms["plan_text"]
    context = make_context()
    result = AEPApplyAudiencesOperator(
        task_id="apply", plan=plan, approved_fingerprint=plan["fingerprint"]
    ).execute(context)
    assert len(result["created"]) == 4 and context["ti"].xcoms["changed_ids"] == result["changed_ids"]
    stored = {d.name: d.id for d in SegmentationHook(sandbox="dev").client.list_segment_definitions()}
    assert set(stored) == set(result["created"])
    # schedule: true (the default) puts an audience in scheduled_ids; engagement.yaml says false
    scheduled = [stored[n] for n in sorted(set(stored) - {"Engaged by e-mail, no purchase"})]
    assert xcoms["scheduled_ids"] == []  # planned before anything existed
    assert context["ti"].xcoms["scheduled_ids"] == result["scheduled_ids"] == scheduled
    again, again_xcoms = plan_task(folder, fail_on_drift=True)  # no drift: the task passes
    assert not again["drifted"] and again_xcoms["scheduled_ids"] == scheduled
    nothing = make_context()
    assert AEPApplyAudiencesOperator(task_id="apply", plan=again).execute(nothing)["changed_ids"] == []
    assert nothing["ti"].xcoms["changed_ids"] == [] and nothing["ti"].xcoms["scheduled_ids"] == scheduled


def test_a_drift_check_fails_with_the_diff(aep_conn, folder) -> None:
    plan, _ = plan_task(folder)
    AEPApplyAudiencesOperator(task_id="apply", plan=plan).execute(make_context())
    hook = SegmentationHook(sandbox="dev")
    target = next(d for d in hook.client.list_segment_definitions() if d.name == "Recent high-value buyers")
    edited = target.description.replace("Bought for", "Edited in the UI: bought for")
    hook.client.update_segment_definition(target.id, {"description": edited})
    with pytest.raises(audiences.AudienceDriftError) as raised:
        plan_task(folder, fail_on_drift=True)
    assert "~ update 'Recent high-value buyers'" in str(raised.value)
    assert "-Edited in the UI: bought for more than 300" in str(raised.value)
    # a description rewritten without the marker line: no longer managed, so a conflict (never an update)
    hook.client.update_segment_definition(target.id, {"description": "rewritten by hand"})
    with pytest.raises(audiences.AudienceDriftError) as raised:
        plan_task(folder, fail_on_drift=True)
    assert "! conflict 'Recent high-value buyers'" in str(raised.value)


def test_apply_needs_the_approved_plan(aep_conn, folder, emulator_admin) -> None:
    plan, _ = plan_task(folder)
    emulator_admin.clear_requests()
    for kwargs, match in (
        ({"approved_fingerprint": "0123456789abcdef"}, "the approved plan is 0123456789abcdef"),
        ({"require_approval": True}, "require_approval=True"),
        ({"sandbox": "prod"}, "the plan is for sandbox 'dev'"),
    ):
        with pytest.raises(AEPValidationError, match=match):
            AEPApplyAudiencesOperator(task_id="apply", plan=plan, **kwargs).execute(make_context())
    assert emulator_admin.requests(path="/data/core") == []
    with pytest.raises(AEPValidationError, match="not a plan"):
        AEPApplyAudiencesOperator(task_id="apply", plan={"changes": []}).execute(make_context())
    result = AEPApplyAudiencesOperator(
        task_id="apply",
        plan=json.dumps(plan),  # a plan rendered from a template arrives as JSON text
        approved_fingerprint="auto",
        require_approval=True,
    ).execute(make_context())
    assert len(result["created"]) == 4


def test_folders_are_relative_to_the_dag_file(tmp_path) -> None:
    (tmp_path / "audiences").mkdir()
    context = {"dag": SimpleNamespace(fileloc=str(tmp_path / "my_dag.py"))}
    assert resolve_folder("audiences", context) == tmp_path / "audiences"
    assert resolve_folder(str(tmp_path), context) == tmp_path


@pytest.mark.skipif(not HITL_AVAILABLE, reason="this Airflow has no human-in-the-loop operators")
def test_the_approval_gate_shows_the_plan_to_a_person() -> None:
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    gate = approval_gate(task_id="approve", plan_task_id="plan")
    assert isinstance(gate, ApprovalOperator)
    assert "xcom_pull(task_ids='plan', key='plan_text')" in gate.body
    assert "xcom_pull(task_ids='plan', key='fingerprint')" in gate.subject
