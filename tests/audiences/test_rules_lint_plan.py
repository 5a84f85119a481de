"""AEP's rules in `aep-audiences lint`, `plan` and `apply`: evaluation eligibility, sandbox guardrails and
downgrades AEP makes silently, against the emulator over HTTP where a sandbox is involved."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation import audiences, rules
from airflow_provider_segmentation.audiences.cli import main
from airflow_provider_segmentation.audiences.model import Audience
from airflow_provider_segmentation.audiences.planning import compare
from airflow_provider_segmentation.audiences.sandbox import read_sandbox
from airflow_provider_segmentation.client.api.definitions import definition_body
from airflow_provider_segmentation.client.errors import AEPGuardrailError
from tests.audiences.conftest import write

DEFINITIONS = "/data/core/ups/segment/definitions"
PROFILE_ONLY = 'homeAddress.countryCode = "US"'
ACCOUNT = "_xdm.context.account"


def purchases_within(window: str) -> str:
    return f'exists P from xEvent where (P.eventType = "commerce.purchases" and P.timestamp occurs {window})'


def audience_file(folder: Path, name: str, expression: str, evaluation: str, extra: str = "") -> Path:
    return write(
        folder,
        f"{name.replace(' ', '_')}.yaml",
        f"""
        name: {name}
        expression: '{expression}'
        evaluation: {evaluation}
        {extra}
        """,
    )


# -- lint: evaluation eligibility ------------------------------------------------------------------------


def test_lint_fails_a_streaming_audience_with_a_30_day_window_and_passes_one_within_24_hours(
    tmp_path: Path, capsys
) -> None:
    audience_file(tmp_path / "month", "Buyers", purchases_within("<= 30 days before now"), "streaming")
    audience_file(tmp_path / "hours", "Buyers", purchases_within("< 12 hours before now"), "streaming")

    assert main(["lint", str(tmp_path / "month")]) == 1
    out = capsys.readouterr().out
    assert "Buyers.yaml:3:13: declared streaming, but AEP evaluates it as batch" in out
    assert "'<= 30 days before now', not under 24 hours (eligibility.declared-method)" in out
    assert "narrow the window to under 24 hours" in out and "or declare it batch" in out
    assert main(["lint", str(tmp_path / "hours")]) == 0


def test_lint_names_the_split_fix_for_a_streaming_audience_mixing_batch_and_streaming_events(
    tmp_path: Path,
) -> None:
    mixed = (
        f"{purchases_within('< 12 hours before now')} and "
        'exists V from xEvent where (V.eventType = "web.webpagedetails.pageViews" '
        "and V.timestamp occurs <= 7 days before now)"
    )
    audience_file(tmp_path, "Mixed", mixed, "streaming")
    (issue,) = audiences.lint(tmp_path)
    assert "eligibility.declared-method" in issue.message
    assert "split the batch part into its own (profile-based) audience and reference it with inSegment" in (
        issue.message
    )


WINDOWS = st.tuples(
    st.sampled_from(["<", "<="]),
    st.sampled_from([("minutes", 60), ("hours", 1), ("days", 1 / 24)]),
    st.integers(min_value=-3, max_value=3),
)


@settings(max_examples=40, deadline=None)
@given(window=WINDOWS, evaluation=st.sampled_from(["streaming", "edge"]))
def test_lint_agrees_with_the_rules_on_windows_around_24_hours(window, evaluation) -> None:
    """Windows of 21 to 27 hours (in minutes, hours or days): lint refuses exactly those that
    ``rules.evaluation_method`` does not evaluate as declared."""
    comparator, (unit, per_hour), offset = window
    amount = max(1, round((24 + offset) * per_hour) if unit != "days" else 1 + offset // 3)
    expression = purchases_within(f"{comparator} {amount} {unit} before now")
    eligibility = rules.evaluation_method(expression)
    kept = rules.resolved_method(evaluation, eligibility) == evaluation
    with tempfile.TemporaryDirectory() as folder:
        audience_file(Path(folder), "Window", expression, evaluation)
        issues = audiences.lint(folder)
    assert (not issues) == kept, (expression, [i.message for i in issues])
    assert all("eligibility.declared-method" in i.message for i in issues)


def test_the_example_folder_is_honest() -> None:
    """The examples declare only what AEP does: lint passes and no audience is downgraded."""
    from tests.audiences.conftest import EXAMPLES

    assert audiences.lint(EXAMPLES) == []


# -- plan: sandbox guardrails ----------------------------------------------------------------------------


def fill(client, count: int, *, evaluation: str = "batch", schema: str = "_xdm.context.profile") -> None:
    for number in range(count):
        body = definition_body(
            f"existing {schema} {evaluation} {number}",
            PROFILE_ONLY,
            evaluation=evaluation,
            schema_name=schema,
        )
        client.create_segment_definition(body)


def test_plan_refuses_a_51st_account_audience_before_any_write(
    client, emulator_admin, aep_conn, tmp_path, capsys
):
    fill(client, 50, schema=ACCOUNT)  # AEP's hard limit: 50 account audiences per sandbox
    audience_file(tmp_path, "Key accounts", PROFILE_ONLY, "batch", f"schema: {ACCOUNT}")
    emulator_admin.clear_requests()

    with pytest.raises(AEPGuardrailError) as refused:
        audiences.plan(tmp_path, client, "dev")
    assert refused.value.error_code == "sandbox.account-audiences"
    assert "the sandbox would hold 51 account audiences; the limit is 50" in str(refused.value)
    assert [f.rule_id for f in refused.value.findings] == ["sandbox.account-audiences"]

    assert main(["apply", str(tmp_path), "--sandbox", "dev"]) == 1
    assert "sandbox.account-audiences" in capsys.readouterr().err
    assert emulator_admin.requests("POST", DEFINITIONS) == []  # nothing written

    profile = tmp_path / "profile"
    audience_file(profile, "US people", PROFILE_ONLY, "batch")
    assert audiences.plan(profile, client, "dev").findings == ()  # 50 is the limit, not past it


def test_a_sandbox_already_past_a_hard_limit_only_warns_a_plan_that_adds_none(
    client, emulator_admin, tmp_path
):
    emulator_admin.configure(rules={"account_audience_limit": False})  # a sandbox past it, made over HTTP
    fill(client, 51, schema=ACCOUNT)
    audience_file(tmp_path, "US people", PROFILE_ONLY, "batch")

    made = audiences.plan(tmp_path, client, "dev")
    (warning,) = made.findings
    assert (warning.rule_id, warning.severity) == ("sandbox.account-audiences", "warning")
    assert "already past before this plan, which adds none" in made.render()


def test_plan_warns_past_the_soft_edge_limit_and_counts_what_the_sandbox_holds(
    client, aep_conn, tmp_path, capsys
):
    fill(client, 150, evaluation="edge")  # AEP's soft limit: 150 edge audiences per sandbox
    audience_file(tmp_path, "Edge people", PROFILE_ONLY, "edge")

    assert main(["plan", str(tmp_path), "--sandbox", "dev", "--out", str(tmp_path / "plan.json")]) == 2
    text = capsys.readouterr().out
    assert "WARNING: the sandbox would hold 151 edge audiences; the limit is 150 (sandbox.edge)" in text
    assert "On-demand evaluation runs this apply spends: 0." in text
    saved = json.loads((tmp_path / "plan.json").read_text())
    assert saved["on_demand_runs"] == 0
    assert [(f["rule_id"], f["severity"]) for f in saved["findings"]] == [("sandbox.edge", "warning")]
    assert audiences.Plan.from_dict(saved).warnings[0].rule_id == "sandbox.edge"
    assert main(["apply", "--plan", str(tmp_path / "plan.json")]) == 0  # a soft limit does not refuse

    batch = tmp_path / "batch"
    audience_file(batch, "Batch people", PROFILE_ONLY, "batch")
    (past,) = audiences.plan(batch, client, "dev").findings  # 151 edge now; this plan adds none
    assert past.rule_id == "sandbox.edge" and "already past before this plan" in past.message


# -- apply: downgrades AEP makes silently ----------------------------------------------------------------


def test_apply_reports_a_downgrade_that_aep_makes_silently(
    client, emulator_admin, aep_conn, tmp_path, capsys
):
    """Lint refuses such a file; a plan made without it (here: ``compare`` on the audiences directly)
    shows what apply reports when AEP stores another evaluation than asked."""
    emulator_admin.configure(rules={"resolve_evaluation_method": True})
    ineligible = Audience(name="Monthly buyers", expression=purchases_within("<= 30 days before now"),
                          evaluation="streaming", source="test")  # fmt: skip
    made = compare([ineligible], read_sandbox(client), project="default")
    (tmp_path / "plan.json").write_text(json.dumps(made.to_dict()))

    assert main(["apply", "--plan", str(tmp_path / "plan.json"), "--json"]) == 1
    out = capsys.readouterr().out  # under Airflow 3.0 this test process also echoes log records to stdout
    reported = json.loads(out[out.index("{\n") :] if not out.startswith("{") else out)
    (downgrade,) = reported["evaluation_downgrades"]
    assert downgrade["name"] == "Monthly buyers" and downgrade["id"]
    assert (downgrade["requested_evaluation"], downgrade["evaluation"]) == ("streaming", "batch")
    assert "'<= 30 days before now', not under 24 hours" in downgrade["why"]
    assert reported["created"] == ["Monthly buyers"]  # the change is made; the downgrade is reported

    again = audiences.apply(made, client)  # resumed: found made, the downgrade reported again, no write
    assert again.writes == 0 and [d.stored for d in again.downgrades] == ["batch"]
    assert "WARNING: evaluation downgraded: 'Monthly buyers'" in again.render()
