"""A templated field that renders to a value of the wrong type fails before any request, with a message
naming the field and the type it got (generated for every templated field sent to AEP)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation.client import AEPValidationError
from airflow_provider_segmentation.operators.export_jobs import AEPExportAudienceOperator
from airflow_provider_segmentation.operators.previews import AEPEstimateAudienceOperator
from airflow_provider_segmentation.operators.schedules import AEPUpsertScheduleOperator
from airflow_provider_segmentation.operators.segment_definitions import AEPUpsertSegmentDefinitionOperator
from airflow_provider_segmentation.operators.segment_jobs import AEPRunSegmentJobOperator
from tests.operators.conftest import make_context

TASKS: dict[str, Any] = {
    "run": lambda: AEPRunSegmentJobOperator(task_id="t", segment_ids=["s1"], deferrable=False),
    "export": lambda: AEPExportAudienceOperator(task_id="t", segment_ids=["s1"], dataset_id="d1"),
    "estimate": lambda: AEPEstimateAudienceOperator(task_id="t", expression="true", deferrable=False),
    "definition": lambda: AEPUpsertSegmentDefinitionOperator(task_id="t", name="n", expression="true"),
    "schedule": lambda: AEPUpsertScheduleOperator(task_id="t", name="n", cron="0 0 1 * * ?"),
}
STRING_FIELDS = [
    ("export", "dataset_id"),
    ("export", "fields"),
    ("export", "merge_policy_id"),
    ("estimate", "expression"),
    ("definition", "name"),
    ("definition", "expression"),
    ("definition", "description"),
    ("definition", "merge_policy_id"),
    ("schedule", "name"),
]
ID_LIST_FIELDS = [("run", "segment_ids"), ("export", "segment_ids"), ("schedule", "segments")]
NOT_TEXT = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from("ab"), st.integers(), max_size=1),
)
OPTIONAL = {"fields", "merge_policy_id", "description"}
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def rendered_wrong(task: str, field: str, value: Any, emulator_admin) -> str:
    op = TASKS[task]()
    setattr(op, field, value)  # what templating rendered
    emulator_admin.clear_requests()
    with pytest.raises(AEPValidationError) as excinfo:
        op.execute(make_context())
    assert emulator_admin.requests() == []
    assert excinfo.value.field == field
    return str(excinfo.value)


@SETTINGS
@given(target=st.sampled_from(STRING_FIELDS), value=NOT_TEXT)
def test_a_string_field_rendered_as_another_type_is_named(aep_conn, emulator_admin, target, value) -> None:
    task, field = target
    if value is None and field in OPTIONAL:
        return
    message = rendered_wrong(task, field, value, emulator_admin)
    assert f"{field} must be a string; got {type(value).__name__}" in message


@SETTINGS
@given(
    target=st.sampled_from(ID_LIST_FIELDS),
    value=st.one_of(
        st.integers(),
        st.floats(allow_nan=False),
        st.booleans(),
        st.none(),
        st.dictionaries(st.sampled_from("ab"), st.integers(), min_size=1, max_size=1),
    ),
)
def test_an_id_list_rendered_as_another_type_is_named(aep_conn, emulator_admin, target, value) -> None:
    task, field = target
    message = rendered_wrong(task, field, value, emulator_admin)
    assert f"{field} must be a list of ids" in message and f"got {type(value).__name__}" in message
