"""The definition operators refuse a streaming/edge declaration AEP would evaluate as batch before any write,
and report a downgrade AEP made after one (the emulator resolves the evaluation like AEP, over HTTP)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation import rules
from airflow_provider_segmentation.client import AEPGuardrailError, AEPValidationError
from airflow_provider_segmentation.operators.segment_definitions import (
    AEPUpdateSegmentDefinitionOperator,
    AEPUpsertSegmentDefinitionOperator,
)
from tests.operators.conftest import make_context

PURCHASES = 'exists P from xEvent where (P.eventType = "commerce.purchases" and P.timestamp occurs {})'
MONTHLY = PURCHASES.format("<= 30 days before now")
TODAY = PURCHASES.format("< 12 hours before now")


def upsert(**kwargs) -> tuple[dict, dict]:
    context = make_context()
    args = {"task_id": "upsert", "name": "Buyers", "expression": MONTHLY, "evaluation": "streaming", **kwargs}
    return AEPUpsertSegmentDefinitionOperator(**args).execute(context), context["ti"].xcoms


def test_an_ineligible_streaming_definition_is_refused_before_any_http_call(aep_conn, emulator_admin) -> None:
    emulator_admin.clear_requests()
    with pytest.raises(AEPGuardrailError) as refused:
        upsert()
    assert refused.value.error_code == "eligibility.declared-method" and refused.value.field == "evaluation"
    assert "declared streaming, but AEP evaluates it as batch" in str(refused.value)
    assert "narrow the window to under 24 hours" in str(refused.value)
    assert "on_ineligible='warn'" in str(refused.value)
    assert emulator_admin.requests(path="/data/core") == []


def test_the_emulator_stores_it_as_batch_and_the_operator_reports_the_downgrade(
    aep_conn, emulator_admin, caplog, capsys
) -> None:
    emulator_admin.configure(rules={"resolve_evaluation_method": True})  # AEP's behaviour (the default)
    result, _ = upsert(on_ineligible="warn")
    assert result["action"] == "created"
    assert (result["requested_evaluation"], result["evaluation"]) == ("streaming", "batch")
    assert result["evaluation_downgraded"] is True
    captured = capsys.readouterr()
    logged = caplog.text + captured.out + captured.err  # Airflow's task logger may write to the console
    assert "AEP downgraded the evaluation: 'Buyers'" in logged
    assert "asked for streaming evaluation, AEP stored batch" in logged

    updated = AEPUpdateSegmentDefinitionOperator(
        task_id="update", segment_id=result["id"], expression=TODAY, evaluation="streaming"
    ).execute(make_context())
    assert (updated["evaluation"], updated["evaluation_downgraded"]) == ("streaming", False)


def test_an_eligible_streaming_definition_is_written_and_kept(aep_conn) -> None:
    result, _ = upsert(expression=TODAY)
    assert (result["evaluation"], result["evaluation_downgraded"]) == ("streaming", False)


def test_on_ineligible_takes_fail_or_warn() -> None:
    with pytest.raises(AEPValidationError, match="on_ineligible 'ignore' must be one of fail, warn"):
        AEPUpsertSegmentDefinitionOperator(task_id="x", name="n", expression=TODAY, on_ineligible="ignore")


WINDOWS = st.tuples(
    st.sampled_from(["<", "<="]),
    st.integers(min_value=1, max_value=3000),
    st.sampled_from(["minutes", "hours", "days"]),
    st.sampled_from(["streaming", "edge"]),
)


@settings(max_examples=40, deadline=None)
@given(window=WINDOWS)
def test_the_operator_refuses_exactly_what_the_rules_evaluate_otherwise(window) -> None:
    """Before any HTTP call (no connection is configured here): refused iff AEP would not keep it."""
    comparator, amount, unit, evaluation = window
    expression = f"exists P from xEvent where (P.timestamp occurs {comparator} {amount} {unit} before now)"
    kept = rules.resolved_method(evaluation, rules.evaluation_method(expression)) == evaluation
    operator = AEPUpsertSegmentDefinitionOperator(
        task_id="x", name="n", expression=expression, evaluation=evaluation
    )
    if kept:
        operator._check_eligible()
    else:
        with pytest.raises(AEPGuardrailError, match=r"eligibility\.declared-method"):
            operator._check_eligible()
