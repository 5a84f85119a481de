"""Segment definitions as code: create-or-update by name, update, delete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context

from airflow_provider_segmentation.hooks.segmentation import (
    EVALUATIONS,
    AEPConflictError,
    AEPNotFoundError,
    AEPValidationError,
    definition_body,
)
from airflow_provider_segmentation.links import AEPSegmentDefinitionLink, push_link, ui_url
from airflow_provider_segmentation.models import SegmentDefinition
from airflow_provider_segmentation.operators.base import AEPBaseOperator

IF_EXISTS = ("update", "skip", "fail")


def _choice(value: str, choices: Sequence[str], name: str) -> str:
    if value not in choices:
        raise AEPValidationError(f"{name} {value!r} must be one of {', '.join(choices)}", field=name)
    return value


class _DefinitionOperator(AEPBaseOperator):
    operator_extra_links = (AEPSegmentDefinitionLink(),)

    def _result(self, context: Context, definition: SegmentDefinition, action: str) -> dict[str, Any]:
        assert definition.id is not None
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
            "action": action,
        }


class AEPUpsertSegmentDefinitionOperator(_DefinitionOperator):
    """Create a segment definition, or update the one with the same name, so reruns never duplicate.

    Returns ``{"id", "name", "description", "expression", "evaluation", "action"}`` where ``action`` is
    ``created``, ``updated``, ``unchanged`` or ``skipped``.

    :param if_exists: ``update`` (PATCH only when something changed), ``skip`` or ``fail``
    :param evaluation: ``batch``, ``streaming`` or ``edge``
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.expression = expression
        self.description = description
        self.if_exists = _choice(if_exists, IF_EXISTS, "if_exists")
        self.evaluation = _choice(evaluation, tuple(EVALUATIONS), "evaluation")
        self.merge_policy_id = merge_policy_id
        self.schema_name = schema_name

    def execute(self, context: Context) -> dict[str, Any]:
        if not str(self.name or "").strip():
            raise AEPValidationError("name is empty: definitions are matched by name", field="name")
        body = definition_body(
            self.name,
            self.expression,
            description=self.description,
            evaluation=self.evaluation,
            merge_policy_id=self.merge_policy_id,
            schema_name=self.schema_name,
        )
        existing = next((d for d in self.hook.list_segment_definitions() if d.name == self.name), None)
        if existing is None:
            return self._result(context, self.hook.create_segment_definition(body), "created")
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
        return self._result(context, self.hook.update_segment_definition(existing.id, body), "updated")


class AEPUpdateSegmentDefinitionOperator(_DefinitionOperator):
    """Overwrite the expression (and optionally name/description) of a definition by id."""

    template_fields: Sequence[str] = ("segment_id", "name", "expression", "description", "sandbox")

    def __init__(
        self,
        *,
        segment_id: str,
        expression: str,
        name: str | None = None,
        description: str | None = None,
        evaluation: str = "batch",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.segment_id = segment_id
        self.expression = expression
        self.name = name
        self.description = description
        self.evaluation = _choice(evaluation, tuple(EVALUATIONS), "evaluation")

    def execute(self, context: Context) -> dict[str, Any]:
        current = self.hook.get_segment_definition(self.segment_id)
        body = definition_body(
            self.name or current.name,
            self.expression,
            description=self.description if self.description is not None else current.description,
            evaluation=self.evaluation,
            merge_policy_id=current.merge_policy_id,
        )
        return self._result(context, self.hook.update_segment_definition(self.segment_id, body), "updated")


class AEPDeleteSegmentDefinitionOperator(AEPBaseOperator):
    """Delete a definition; with ``missing_ok`` a definition that is already gone is not an error."""

    template_fields: Sequence[str] = ("segment_id", "sandbox")

    def __init__(self, *, segment_id: str, missing_ok: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.segment_id = segment_id
        self.missing_ok = missing_ok

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            self.hook.delete_segment_definition(self.segment_id)
        except AEPNotFoundError:
            if not self.missing_ok:
                raise
            return {"id": self.segment_id, "deleted": False}
        return {"id": self.segment_id, "deleted": True}
