"""Segment definitions as code: create-or-update by name, update, delete.

AEP decides a definition's evaluation from its PQL and stores an ineligible streaming or edge one as batch,
silently. So before a write, a ``streaming``/``edge`` definition whose PQL AEP would not evaluate so is
refused (``AEPGuardrailError`` naming the rule and the fix; ``on_ineligible="warn"`` writes it anyway),
and after it, the evaluation AEP stored is compared with the one asked for: a downgrade is logged as a
warning and returned (``evaluation_downgraded``, ``requested_evaluation``, ``evaluation``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import Context

from airflow_provider_segmentation.client import (
    AEPConflictError,
    AEPGuardrailError,
    AEPNotFoundError,
    check_choice,
)
from airflow_provider_segmentation.kinds import EVALUATIONS
from airflow_provider_segmentation.links import AEPSegmentDefinitionLink, push_link, ui_url
from airflow_provider_segmentation.operators.base import AEPBaseOperator

if TYPE_CHECKING:
    from airflow_provider_segmentation.models import SegmentDefinition

IF_EXISTS = ("update", "skip", "fail")
ON_INELIGIBLE = ("fail", "warn")


class _DefinitionOperator(AEPBaseOperator):
    operator_extra_links = (AEPSegmentDefinitionLink(),)
    evaluation: str
    expression: str
    on_ineligible: str

    def _check_eligible(self) -> None:
        """Refuse (or, with ``on_ineligible="warn"``, log) a streaming/edge declaration that AEP would
        evaluate as batch, before any HTTP call. The merge policy's Active-on-Edge property is unknown
        here, so it is not held against the definition."""
        from airflow_provider_segmentation.audiences.checks import eligibility_problem

        problem = eligibility_problem(self.expression, self.evaluation)
        if problem is None:
            return
        if self.on_ineligible == "warn":
            self.log.warning("writing it anyway (on_ineligible='warn'): %s", problem)
            return
        raise AEPGuardrailError(
            f"{problem}. To write it anyway (AEP will store it as evaluated), pass on_ineligible='warn'",
            findings=[problem],
            field="evaluation",
            error_code=problem.rule_id,
        )

    def _result(self, context: Context, definition: SegmentDefinition, action: str) -> dict[str, Any]:
        from airflow_provider_segmentation.audiences.checks import downgrade_of

        assert definition.id is not None
        written = action != "skipped"
        downgrade = downgrade_of(self.evaluation, definition, self.expression) if written else None
        if downgrade is not None:
            self.log.warning("AEP downgraded the evaluation: %s", downgrade.message)
        push_link(
            context,
            "segment_definition",
            ui_url(self.hook.config, "segment_definition", definition.id),
        )
        return {
            "id": definition.id,
            "name": definition.name,
            "description": definition.description,
            "expression": definition.expression.value if definition.expression else None,
            "evaluation": definition.evaluation_type,
            "requested_evaluation": self.evaluation,
            "evaluation_downgraded": downgrade is not None,
            "action": action,
        }


class AEPUpsertSegmentDefinitionOperator(_DefinitionOperator):
    """Create a segment definition, or update the one with the same name, so reruns never duplicate.

    Returns ``{"id", "name", "description", "expression", "evaluation", "requested_evaluation",
    "evaluation_downgraded", "action"}`` where ``action`` is ``created``, ``updated``, ``unchanged`` or
    ``skipped``, ``evaluation`` is what AEP stored and ``evaluation_downgraded`` says whether AEP stored
    another evaluation than ``requested_evaluation`` (see the module's docstring).

    :param if_exists: ``update`` (PATCH only when something changed), ``skip`` or ``fail``
    :param evaluation: ``batch``, ``streaming`` or ``edge``
    :param on_ineligible: ``fail`` (default): refuse a streaming/edge definition that AEP would evaluate
        as batch, naming the rule and the fix; ``warn``: log it and write it anyway
    """

    template_fields: Sequence[str] = ("name", "expression", "description", "merge_policy_id", "sandbox")

    def __init__(
        self,
        *,
        name: str,
        expression: str,
        description: str | None = None,
        if_exists: str = "update",
        evaluation: str = "batch",
        merge_policy_id: str | None = None,
        schema_name: str = "_xdm.context.profile",
        on_ineligible: str = "fail",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.on_ineligible = check_choice(on_ineligible, ON_INELIGIBLE, field_name="on_ineligible")
        self.name = name
        self.expression = expression
        self.description = description
        self.if_exists = check_choice(if_exists, IF_EXISTS, field_name="if_exists")
        self.evaluation = check_choice(evaluation, tuple(EVALUATIONS), field_name="evaluation")
        self.merge_policy_id = merge_policy_id
        self.schema_name = schema_name

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_segmentation.client import definition_body

        body = definition_body(
            self.name,
            self.expression,
            description=self.description,
            evaluation=self.evaluation,
            merge_policy_id=self.merge_policy_id,
            schema_name=self.schema_name,
        )
        self._check_eligible()
        existing = next((d for d in self.hook.client.list_segment_definitions() if d.name == self.name), None)
        if existing is None:
            return self._result(context, self.hook.client.create_segment_definition(body), "created")
        if self.if_exists == "fail":
            raise AEPConflictError(
                f"a segment definition named {self.name!r} already exists ({existing.id}) and "
                "if_exists='fail'"
            )
        if self.if_exists == "skip":
            return self._result(context, existing, "skipped")
        unchanged = (
            existing.expression is not None
            and existing.expression.value == self.expression
            and (self.description is None or existing.description == self.description)
            and existing.evaluation_type == self.evaluation
        )
        if unchanged:
            return self._result(context, existing, "unchanged")
        assert existing.id is not None
        return self._result(context, self.hook.client.update_segment_definition(existing.id, body), "updated")


class AEPUpdateSegmentDefinitionOperator(_DefinitionOperator):
    """Overwrite the expression (and optionally name/description) of a definition by id; the evaluation
    is checked before and after the write as in ``AEPUpsertSegmentDefinitionOperator`` (same result)."""

    template_fields: Sequence[str] = ("segment_id", "name", "expression", "description", "sandbox")

    def __init__(
        self,
        *,
        segment_id: str,
        expression: str,
        name: str | None = None,
        description: str | None = None,
        evaluation: str = "batch",
        on_ineligible: str = "fail",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.on_ineligible = check_choice(on_ineligible, ON_INELIGIBLE, field_name="on_ineligible")
        self.segment_id = segment_id
        self.expression = expression
        self.name = name
        self.description = description
        self.evaluation = check_choice(evaluation, tuple(EVALUATIONS), field_name="evaluation")

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_segmentation.client import definition_body

        self._check_eligible()
        current = self.hook.client.get_segment_definition(self.segment_id)
        body = definition_body(
            self.name or current.name,
            self.expression,
            description=self.description if self.description is not None else current.description,
            evaluation=self.evaluation,
            merge_policy_id=current.merge_policy_id,
        )
        return self._result(
            context, self.hook.client.update_segment_definition(self.segment_id, body), "updated"
        )


class AEPDeleteSegmentDefinitionOperator(AEPBaseOperator):
    """Delete a definition; with ``missing_ok`` a definition that is already gone is not an error."""

    template_fields: Sequence[str] = ("segment_id", "sandbox")

    def __init__(self, *, segment_id: str, missing_ok: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.segment_id = segment_id
        self.missing_ok = missing_ok

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            self.hook.client.delete_segment_definition(self.segment_id)
        except AEPNotFoundError:
            if not self.missing_ok:
                raise
            return {"id": self.segment_id, "deleted": False}
        return {"id": self.segment_id, "deleted": True}
