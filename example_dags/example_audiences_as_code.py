# mypy: disable-error-code="arg-type"
"""Audiences as code: the YAML files in ``audiences/`` are the truth; AEP follows them.

``aep_audiences_as_code`` (manual, or after a merge to main):

1. lint the files offline (YAML, keys, names, PQL; every problem with file:line:column);
2. plan them against the sandbox (param ``sandbox``: ``dev``, then ``prod`` to promote);
3. gate: nothing to do ends here; otherwise a person approves. Param ``approve`` set to the plan's
   fingerprint (printed at the end of the plan task's log) applies exactly that plan; ``auto``
   applies whatever the plan says (for dev); empty asks a person in the UI (Airflow's HITL
   ``ApprovalOperator``) where the installed Airflow has it, and fails with instructions otherwise;
4. apply exactly the plan (refused if the sandbox changed since it was made);
5. evaluate what changed in one segment job (one on-demand run, on a manual run only; the plan's
   ``on_demand_runs`` is 0 because applying itself evaluates nothing).

``aep_audiences_drift`` (daily): plans ``prod`` and fails, with the diff, if it has drifted from the
files. It needs the folder applied to the sandbox first (``aep-audiences apply example_dags/audiences
--sandbox prod``, or ``aep_audiences_as_code`` with ``sandbox=prod``): until then it skips, saying
so. The audiences whose file says ``schedule: true`` are evaluated by the sandbox's nightly batch
evaluation, which spends none of AEP's on-demand allowance (2 runs a day, 50 a year in production: a
daily on-demand job would use 365). Only a run with the param ``evaluate_now`` evaluates them at once
in one segment job (one on-demand run). The same folder works in CI without Airflow: ``aep-audiences
plan example_dags/audiences --sandbox dev``.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.sdk import Param, XComArg, dag, get_current_context, task

from airflow_provider_segmentation import audiences
from airflow_provider_segmentation.client import SANDBOX_NAME_PATTERN, AEPValidationError
from airflow_provider_segmentation.compat import AirflowSkipException
from airflow_provider_segmentation.operators.audiences import (
    HITL_AVAILABLE,
    AEPApplyAudiencesOperator,
    AEPPlanAudiencesOperator,
    approval_gate,
)
from airflow_provider_segmentation.operators.segment_jobs import AEPRunSegmentJobOperator

AUDIENCES = str(Path(__file__).parent / "audiences")
POLL_INTERVAL = float(os.environ.get("AEP_DEMO_POLL_INTERVAL", "30"))
# what the approve param accepts: empty (ask), "auto", or a plan's fingerprint (16 hex digits)
APPROVAL_PATTERN = r"^(|auto|[0-9a-f]{16})(?![\s\S])"
# plan entries of definitions these files manage in the sandbox (creates and conflicts are not managed)
MANAGED = ("update", "delete", "unchanged", "orphan")


@dag(
    dag_id="aep_audiences_as_code",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["adobe", "aep", "segmentation", "audiences-as-code", "example"],
    params={
        "sandbox": Param("dev", type="string", pattern=SANDBOX_NAME_PATTERN, description="Target sandbox"),
        "approve": Param(
            "",
            type="string",
            pattern=APPROVAL_PATTERN,
            description="The fingerprint of the plan you reviewed, 'auto', or empty to be asked",
        ),
    },
    doc_md=__doc__,
)
def aep_audiences_as_code() -> None:
    @task
    def lint() -> int:
        """Offline: every problem of every file at once, before anything talks to AEP."""
        problems = audiences.lint(AUDIENCES)
        if problems:
            raise audiences.AudienceLintError(problems)  # every problem, file:line:column
        return len(audiences.load(AUDIENCES))

    plan = AEPPlanAudiencesOperator(task_id="plan", folder=AUDIENCES, sandbox="{{ params.sandbox }}")

    @task.branch
    def route(plan: dict[str, Any]) -> str:
        approve = str(get_current_context()["params"].get("approve") or "").strip()
        if not plan["has_changes"] and not plan["drifted"]:
            return "nothing_to_apply"
        if approve:
            return "approved_by_param"
        if HITL_AVAILABLE:
            return "approve_changes"
        raise AEPValidationError(
            f"plan {plan['fingerprint']} has changes: review the plan task's log, then trigger again with "
            f"approve={plan['fingerprint']} (or approve=auto)"
        )

    @task
    def nothing_to_apply() -> None:
        print("The sandbox matches the files: nothing to apply.")

    @task
    def approved_by_param() -> None:
        print("Approved by the 'approve' param; the apply task checks it against the plan's fingerprint.")

    apply = AEPApplyAudiencesOperator(
        task_id="apply",
        plan=plan.output,
        approved_fingerprint="{{ params.approve }}",
        trigger_rule="none_failed_min_one_success",
    )

    changed_ids = XComArg(apply, key="changed_ids")  # pushed by the apply task

    @task.short_circuit
    def anything_to_evaluate(changed_ids: list[str]) -> bool:
        return bool(changed_ids)

    evaluate = AEPRunSegmentJobOperator(
        task_id="evaluate_changed",
        segment_ids=changed_ids,
        sandbox="{{ params.sandbox }}",
        poll_interval=POLL_INTERVAL,
    )

    routed = route(plan.output)
    lint() >> plan >> routed
    routed >> nothing_to_apply()
    routed >> approved_by_param() >> apply
    gate = approval_gate(task_id="approve_changes", plan_task_id="plan")
    if gate is not None:
        routed >> gate >> apply
    anything_to_evaluate(changed_ids) >> evaluate


@dag(
    dag_id="aep_audiences_drift",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["adobe", "aep", "segmentation", "audiences-as-code", "example"],
    params={
        "sandbox": Param("prod", type="string", pattern=SANDBOX_NAME_PATTERN),
        "evaluate_now": Param(
            False, type="boolean", description="Spend an on-demand run now instead of the nightly evaluation"
        ),
    },
    doc_md=__doc__,
)
def aep_audiences_drift() -> None:
    plan = AEPPlanAudiencesOperator(task_id="plan_sandbox", folder=AUDIENCES, sandbox="{{ params.sandbox }}")

    @task
    def check_drift(plan: dict[str, Any]) -> None:
        """Skips while the sandbox holds none of the folder's audiences (nothing applied yet: no drift
        to check), fails with the diff when the sandbox differs from the files."""
        planned = audiences.Plan.from_dict(plan)
        if not planned.of(*MANAGED):
            raise AirflowSkipException(
                f"nothing in sandbox '{planned.sandbox}' is managed by these audience files yet: apply the "
                f"folder to {planned.sandbox} first (`aep-audiences apply example_dags/audiences --sandbox "
                f"{planned.sandbox}`, or run aep_audiences_as_code with sandbox={planned.sandbox}), then "
                "this check compares the sandbox with the files"
            )
        audiences.check_drift(planned)

    check = check_drift(plan.output)
    scheduled_ids = XComArg(plan, key="scheduled_ids")  # the audiences with schedule: true

    @task.short_circuit
    def evaluate_now_asked() -> bool:
        """On-demand runs are scarce (AEP: 2 a day, 50 a year): only when this run asks for one."""
        return bool(get_current_context()["params"].get("evaluate_now"))

    @task.short_circuit
    def anything_scheduled(scheduled_ids: list[str]) -> bool:
        return bool(scheduled_ids)

    evaluate = AEPRunSegmentJobOperator(
        task_id="evaluate_scheduled",
        segment_ids=scheduled_ids,
        sandbox="{{ params.sandbox }}",
        poll_interval=POLL_INTERVAL,
    )
    check >> evaluate_now_asked() >> anything_scheduled(scheduled_ids) >> evaluate


aep_audiences_as_code()
aep_audiences_drift()
