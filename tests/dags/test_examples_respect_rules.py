"""No example DAG, run on its schedule for a year with its default params, spends more on-demand
evaluation runs than AEP allows a production sandbox (50 a contract year, [S-FAE]).

An on-demand run is an ``AEPRunSegmentJobOperator`` task. It counts for a DAG run unless a decision
task upstream of it (short-circuit or branch) that reads only the params turns it away with the
default params; a decision that reads other input is assumed to let it through (the worst case).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from croniter import croniter

from airflow_provider_segmentation import rules
from airflow_provider_segmentation.operators.segment_jobs import AEPRunSegmentJobOperator

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
YEAR = (datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2027, 1, 1, tzinfo=timezone.utc))
PRODUCTION_YEARLY = rules.OnDemandAllowance().yearly_limit


@pytest.fixture(scope="module")
def example_dags() -> dict[str, Any]:
    from tests.compat import dag_bag

    bag = dag_bag(str(EXAMPLE_DAGS))
    assert not bag.import_errors and bag.dags
    return dict(bag.dags)


def runs_a_year(dag: Any) -> int:
    """DAG runs its schedule makes in a year: a cron's fires; asset-triggered, at most one a day (the
    nightly events these examples wait for); manual DAGs none."""
    kind = type(dag.timetable).__name__
    if kind == "NullTimetable":
        return 0
    if kind.startswith("Asset"):
        return 366
    expression = getattr(dag.timetable, "expression", None) or dag.timetable._expression  # 3.0: private
    cron = croniter(expression, YEAR[0] - timedelta(seconds=1))
    count = 0
    while cron.get_next(datetime) < YEAR[1]:
        count += 1
    return count


def turned_away(task: Any, decision: Any, params: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> bool:
    """Does ``decision`` (a short-circuit or branch task) keep ``task`` from running with ``params``?"""
    callable_ = getattr(decision, "python_callable", None)
    if callable_ is None or decision.op_args or decision.op_kwargs:
        return False  # it reads more than the params: assume it lets the run through
    monkeypatch.setitem(callable_.__globals__, "get_current_context", lambda: {"params": params})
    chosen = callable_()
    if type(decision).__name__.startswith("_ShortCircuit"):
        return not chosen
    chosen_ids = {chosen} if isinstance(chosen, str) else set(chosen or ())
    on_path = {decision.task_id, *(t.task_id for t in task.get_flat_relatives(upstream=True))}
    return not any(c == task.task_id or c in on_path for c in chosen_ids)


def on_demand_runs_per_dag_run(dag: Any, params: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> int:
    runs = 0
    for task in dag.tasks:
        if not isinstance(task, AEPRunSegmentJobOperator):
            continue
        decisions = [
            t
            for t in task.get_flat_relatives(upstream=True)
            if type(t).__name__.startswith(("_ShortCircuit", "_BranchPython"))
        ]
        if not any(turned_away(task, d, params, monkeypatch) for d in decisions):
            runs += 1
    return runs


def defaults(dag: Any) -> dict[str, Any]:
    return {key: dag.params.get_param(key).value for key in dag.params}  # unvalidated (a required one)


def test_no_example_spends_more_on_demand_runs_a_year_than_a_production_sandbox_has(
    example_dags, monkeypatch
) -> None:
    spent = {
        dag_id: runs_a_year(dag) * on_demand_runs_per_dag_run(dag, defaults(dag), monkeypatch)
        for dag_id, dag in example_dags.items()
    }
    assert sum(spent.values()) <= PRODUCTION_YEARLY, spent


def test_the_pipeline_spends_a_run_only_when_a_run_asks_for_it(example_dags, monkeypatch) -> None:
    pipeline = example_dags["aep_audience_pipeline"]
    assert on_demand_runs_per_dag_run(pipeline, defaults(pipeline), monkeypatch) == 0
    asked = {**defaults(pipeline), "evaluate_now": True}
    assert on_demand_runs_per_dag_run(pipeline, asked, monkeypatch) == 1


def test_the_daily_drift_check_rides_the_nightly_evaluation(example_dags, monkeypatch) -> None:
    drift = example_dags["aep_audiences_drift"]
    assert runs_a_year(drift) == 365
    assert on_demand_runs_per_dag_run(drift, defaults(drift), monkeypatch) == 0
    asked = {**defaults(drift), "evaluate_now": True}
    assert on_demand_runs_per_dag_run(drift, asked, monkeypatch) == 1  # the count sees a gated run
