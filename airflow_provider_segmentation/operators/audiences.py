"""Audiences as code in a DAG: plan a folder of audience files against a sandbox, approve, apply.

The logic lives in ``airflow_provider_segmentation.audiences`` (no Airflow there; the ``aep-audiences``
command uses the same); these operators add the connection, templating and XCom.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, Context

from airflow_provider_segmentation.client import AEPValidationError
from airflow_provider_segmentation.compat import HITL_AVAILABLE
from airflow_provider_segmentation.operators.base import AEPBaseOperator

if TYPE_CHECKING:  # planning and applying run in the task, never when a DAG file is parsed
    from airflow_provider_segmentation import audiences

AUTO = "auto"


def resolve_folder(folder: str | Path, context: Context) -> Path:
    """``folder`` as given if absolute, else relative to the folder of the DAG file (then the cwd)."""
    path = Path(str(folder)).expanduser()
    if path.is_absolute():
        return path
    dag = context.get("dag")
    fileloc = getattr(dag, "fileloc", None)
    if fileloc and (Path(fileloc).parent / path).exists():
        return Path(fileloc).parent / path
    return path


class AEPPlanAudiencesOperator(AEPBaseOperator):
    """Lint a folder of audience files and plan it against a sandbox; the plan goes to XCom.

    Returns the plan as JSON (``Plan.to_dict``: ``changes``, ``has_changes``, ``drifted``,
    ``fingerprint``...) and pushes ``plan_text`` (the plan as printed), ``has_changes``,
    ``fingerprint`` and ``scheduled_ids`` (``Plan.scheduled_ids``: the ids of the audiences with
    ``schedule: true`` that exist; all of them when nothing is to create). Lint problems fail the task,
    every one of them listed with file, line and column (also a ``streaming``/``edge`` audience that AEP
    would evaluate as batch). The plan's ``findings`` are AEP's sandbox guardrails the sandbox would be
    past: soft ones are logged as warnings, a hard one (50 account audiences) fails the task
    (``AEPGuardrailError`` naming the rule) before anything is written; ``on_demand_runs`` is 0 (applying
    evaluates nothing).

    :param folder: the folder of audience files (absolute, or relative to the DAG file's folder)
    :param project: the ownership scope: only definitions this project manages are changed or deleted
    :param prune: plan deletes of managed definitions that no longer have a file
    :param adopt: manage unmanaged definitions that have a file's name (else they are conflicts)
    :param fail_on_drift: fail (``AudienceDriftError``, with the plan) when the sandbox differs from
        the files: the drift check of a scheduled DAG
    """

    template_fields: Sequence[str] = ("folder", "sandbox", "project")

    def __init__(
        self,
        *,
        folder: str,
        project: str = "default",
        prune: bool = False,
        adopt: bool = False,
        fail_on_drift: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.folder = folder
        self.project = project
        self.prune = prune
        self.adopt = adopt
        self.fail_on_drift = fail_on_drift

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_segmentation import audiences

        hook = self.hook
        plan = audiences.plan(
            resolve_folder(self.folder, context),
            hook.client,
            hook.config.sandbox,
            project=self.project,
            prune=self.prune,
            adopt=self.adopt,
        )
        text = plan.render()
        self.log.info("%s", text)
        for found in plan.warnings:
            self.log.warning("%s", found)
        ti = context["ti"]
        ti.xcom_push(key="plan_text", value=text)
        ti.xcom_push(key="has_changes", value=plan.has_changes)
        ti.xcom_push(key="fingerprint", value=plan.fingerprint)
        ti.xcom_push(key="scheduled_ids", value=plan.scheduled_ids())
        if self.fail_on_drift:
            audiences.check_drift(plan)
        elif plan.conflicts:
            self.log.warning("%d conflict(s): this plan cannot be applied", len(plan.conflicts))
        return plan.to_dict()


class AEPApplyAudiencesOperator(AEPBaseOperator):
    """Apply the plan of an upstream ``AEPPlanAudiencesOperator``, exactly, in the plan's sandbox.

    Refuses a stale plan (the sandbox changed since it was planned: plan again) and a plan with
    conflicts; resumes a plan that an earlier try applied in part. Returns ``ApplyResult.to_dict``
    (``created``, ``updated``, ``deleted``, ``changed_ids``, ``scheduled_ids``, ``requests``) and pushes
    ``changed_ids`` (for a segment job on what changed), ``scheduled_ids`` (the ids of the audiences
    with ``schedule: true``, for the daily evaluation) and ``evaluation_downgrades`` (each audience AEP
    stored with another evaluation than its file declares: name, id, ``requested_evaluation``,
    ``evaluation``, ``why``; logged as warnings, the task does not fail for them, since the changes were
    made: the next plan shows the drift).

    Approval: put an approval gate upstream (``approval_gate``: Airflow's HITL ``ApprovalOperator``
    when the installed Airflow has it), or use ``approved_fingerprint``: the fingerprint of the plan a
    person reviewed (printed at the end of every plan), usually from a DAG param
    (``"{{ params.approve }}"``). When it is set, any other plan is refused; ``"auto"`` accepts any
    plan (for dev sandboxes). With ``require_approval=True`` a plan with changes needs one of the two
    set to a non-empty value.

    :param plan: the plan (``plan_task.output``), as a dict or its JSON text
    :param approved_fingerprint: the approved plan's fingerprint, ``"auto"``, or empty
    :param require_approval: refuse to apply changes without ``approved_fingerprint``
    :param max_rounds: rounds of (read the sandbox, make what is left) before giving up
    """

    template_fields: Sequence[str] = ("plan", "approved_fingerprint", "sandbox")

    def __init__(
        self,
        *,
        plan: Any,
        approved_fingerprint: str | None = None,
        require_approval: bool = False,
        max_rounds: int = 5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
            raise AEPValidationError(f"max_rounds must be a whole number of at least 1, got {max_rounds!r}")
        self.plan = plan
        self.approved_fingerprint = approved_fingerprint
        self.require_approval = require_approval
        self.max_rounds = max_rounds

    def _read_plan(self) -> audiences.Plan:
        from airflow_provider_segmentation import audiences

        data = json.loads(self.plan) if isinstance(self.plan, str) else self.plan
        try:
            return audiences.Plan.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise AEPValidationError(
                f"plan is not a plan of AEPPlanAudiencesOperator ({exc}): pass plan_task.output", field="plan"
            ) from None

    def _check_approval(self, plan: audiences.Plan) -> None:
        approved = str(self.approved_fingerprint or "").strip()
        if approved and approved != AUTO and approved != plan.fingerprint:
            raise AEPValidationError(
                f"the approved plan is {approved}, but this plan is {plan.fingerprint}: the files or the "
                f"sandbox changed since the approved plan. Review this plan and approve {plan.fingerprint}",
                field="approved_fingerprint",
            )
        if self.require_approval and not approved and plan.has_changes:
            raise AEPValidationError(
                f"plan {plan.fingerprint} has changes and require_approval=True: review it and pass its "
                "fingerprint as approved_fingerprint (e.g. the DAG param approve)",
                field="approved_fingerprint",
            )

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_segmentation import audiences
        from airflow_provider_segmentation.hooks.segmentation import SegmentationHook

        plan = self._read_plan()
        if self.sandbox is not None and self.sandbox != plan.sandbox:
            raise AEPValidationError(
                f"the plan is for sandbox '{plan.sandbox}', not '{self.sandbox}': "
                f"plan against '{self.sandbox}'",
                field="sandbox",
            )
        self._check_approval(plan)
        ti = context["ti"]
        if not plan.has_changes and not plan.conflicts:
            self.log.info("Nothing to apply: sandbox '%s' matched the files when planned", plan.sandbox)
            result = audiences.ApplyResult(plan)
        else:
            hook = SegmentationHook(aep_conn_id=self.aep_conn_id, sandbox=plan.sandbox)
            result = audiences.apply(plan, hook.client, max_rounds=self.max_rounds)
            self.log.info("%s", result.render())
        ti.xcom_push(key="changed_ids", value=result.changed_ids)
        ti.xcom_push(key="scheduled_ids", value=result.scheduled_ids)
        ti.xcom_push(key="evaluation_downgrades", value=[d.to_dict() for d in result.downgrades])
        return result.to_dict()


def approval_gate(*, task_id: str, plan_task_id: str, **kwargs: Any) -> BaseOperator | None:
    """A human approval of the plan of ``plan_task_id`` (Airflow's HITL ``ApprovalOperator``, showing
    the plan), or None when the installed Airflow has no HITL (then use ``approved_fingerprint``)."""
    if not HITL_AVAILABLE:
        return None
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    pulled = f"ti.xcom_pull(task_ids='{plan_task_id}', key='{{key}}')"
    return ApprovalOperator(
        task_id=task_id,
        subject=f"Apply audience plan {{{{ {pulled.format(key='fingerprint')} }}}}?",
        body=f"```\n{{{{ {pulled.format(key='plan_text')} }}}}\n```",
        **kwargs,
    )
