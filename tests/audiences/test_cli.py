"""``aep-audiences`` as CI runs it: lint, plan, apply the example folder; exit codes (plan 0/2, apply 0,
errors 1); the connection from AIRFLOW_CONN_* (JSON or URI) or AEP_* variables; no Airflow import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from airflow_provider_segmentation.audiences.cli import main
from airflow_provider_segmentation.audiences.connection import config_from_environment
from airflow_provider_segmentation.client import AEPConfigurationError
from tests.audiences.conftest import EXAMPLES, write

SCRIPT = Path(sys.executable).parent / "aep-audiences"


@pytest.fixture
def conn(emulator, emulator_admin, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AEP_DEFAULT", emulator.connection_json("prod"))


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_cli_lints_plans_and_applies_the_example_folder(conn, folder, capsys, tmp_path) -> None:
    assert run(capsys, "lint", str(EXAMPLES))[0] == 0
    code, out, _ = run(capsys, "plan", str(folder), "--sandbox", "dev")
    assert code == 2 and "Plan: 4 to create, 0 to update, 0 to delete, 0 unchanged." in out
    saved = tmp_path / "plan.json"
    code, out, err = run(capsys, "plan", str(folder), "--sandbox", "dev", "--out", str(saved))
    assert code == 2 and f"aep-audiences apply --plan {saved}" in err
    code, out, _ = run(capsys, "apply", "--plan", str(saved))
    assert code == 0 and "4 created, 0 updated, 0 deleted" in out  # applied what it was asked: 0
    code, out, _ = run(capsys, "plan", str(folder), "--sandbox", "dev")
    assert code == 0 and "No changes. Sandbox 'dev' matches the files (4 unchanged)." in out
    assert run(capsys, "apply", str(folder), "--sandbox", "dev")[0] == 0
    # a second apply of the saved plan finds it done (the sandbox now is what the plan made)
    code, out, _ = run(capsys, "apply", "--plan", str(saved))
    assert code == 0 and out.count("(found applied by an earlier run)") == 4
    assert "0 created, 0 updated, 0 deleted; 4 found made by an earlier run." in out
    code, out, _ = run(capsys, "apply", str(folder), "--sandbox", "dev", "--json")
    assert code == 0 and json.loads(out)["done"] == [] and len(json.loads(out)["scheduled_ids"]) == 3
    code, out, _ = run(capsys, "plan", str(folder), "--sandbox", "dev", "--json")
    assert code == 0 and json.loads(out)["counts"]["unchanged"] == 4


def test_drift_made_through_the_api_makes_the_plan_exit_2_with_the_diff(
    conn, folder, capsys, emulator
) -> None:
    assert run(capsys, "apply", str(folder), "--sandbox", "dev")[0] == 0
    from airflow_provider_segmentation.client import SegmentationClient

    client = SegmentationClient(config_from_environment(sandbox="dev"))
    target = next(d for d in client.list_segment_definitions() if d.name == "Points about to expire")
    client.update_segment_definition(
        target.id,
        {
            "name": target.name,
            "description": target.description,
            "expression": {"value": "loyalty.points > 1"},
        },
    )
    code, out, _ = run(capsys, "plan", str(folder), "--sandbox", "dev")
    assert code == 2 and "~ update 'Points about to expire'" in out
    assert (
        "-loyalty.points > 1" in out
        and '+loyalty.points > 4000 and consents.marketing.email.val = "y"' in out
    )


def test_errors_exit_1_with_everything_listed(conn, folder, capsys, tmp_path) -> None:
    write(folder, "bad.yaml", "name: Bad\nexpression: loyalty.points >\nevalution: batch\n")
    for command in (["lint", str(folder)], ["plan", str(folder), "--sandbox", "dev"]):
        code, out, err = run(capsys, *command)
        assert code == 1
        text = out + err
        assert "bad.yaml:2:" in text and "bad.yaml:3:1: unknown key 'evalution'" in text
    code, out, _ = run(capsys, "lint", str(folder), "--format", "github")
    assert code == 1 and "::error file=" in out
    assert run(capsys, "plan", str(EXAMPLES))[0] == 1  # no --sandbox: never guessed
    assert run(capsys, "plan")[0] == 1  # usage errors are 1 as well (argparse says 2, which means changes)
    assert run(capsys, "plan", str(EXAMPLES), "--sandbox", "Prod")[2].startswith("error: ")


def test_a_stale_saved_plan_and_a_conflict_exit_1(conn, folder, capsys, tmp_path) -> None:
    saved = tmp_path / "plan.json"
    assert run(capsys, "plan", str(folder), "--sandbox", "dev", "--out", str(saved))[0] == 2
    from airflow_provider_segmentation.client import SegmentationClient

    client = SegmentationClient(config_from_environment(sandbox="dev"))
    client.create_segment_definition({"name": "Points about to expire", "expression": {"value": "x = 1"}})
    code, _, err = run(capsys, "apply", "--plan", str(saved))
    assert code == 1 and "plan again" in err
    code, out, _ = run(capsys, "plan", str(folder), "--sandbox", "dev")
    assert code == 1 and "! conflict 'Points about to expire'" in out
    assert run(capsys, "apply", "--plan", str(saved), "--sandbox", "prod")[0] == 1  # not the plan's sandbox


def test_the_connection_comes_from_json_uri_or_aep_variables(emulator) -> None:
    settings = emulator.settings
    as_json = json.loads(emulator.connection_json("prod"))
    uri = (
        f"adobe-experience-platform://{quote(settings.client_id, safe='')}"
        f":{quote(settings.client_secret, safe='')}@/dev"
        f"?ims_org_id={quote(settings.org_id, safe='')}&ims_host={quote(emulator.url, safe='')}"
        f"&platform_host={quote(emulator.url, safe='')}"
    )
    from_json = config_from_environment(environ={"AIRFLOW_CONN_AEP_DEFAULT": json.dumps(as_json)})
    from_uri = config_from_environment("aep_ci", environ={"AIRFLOW_CONN_AEP_CI": uri})
    from_vars = config_from_environment(
        environ={
            "AEP_CLIENT_ID": settings.client_id,
            "AEP_CLIENT_SECRET": settings.client_secret,
            "AEP_ORG_ID": settings.org_id,
            "AEP_IMS_HOST": emulator.url,
            "AEP_PLATFORM_HOST": emulator.url,
        },
        sandbox="dev",
    )
    assert from_json.sandbox == "prod" and from_uri.sandbox == "dev" and from_vars.sandbox == "dev"
    for config in (from_json, from_uri, from_vars):
        assert config.secret.reveal() == settings.client_secret
        assert (config.org_id, config.platform_host, config.ims_host) == (
            settings.org_id,
            emulator.url,
            emulator.url,
        )
    extra_as_json = f"adobe-experience-platform://id:{quote('s3cr/et?', safe='')}@/prod?__extra__=" + quote(
        json.dumps({"ims_org_id": "ORG@AdobeOrg"}), safe=""
    )
    assert (
        config_from_environment(environ={"AIRFLOW_CONN_AEP_DEFAULT": extra_as_json}).org_id == "ORG@AdobeOrg"
    )
    with pytest.raises(AEPConfigurationError, match=r"AIRFLOW_CONN_AEP_DEFAULT .* or AEP_CLIENT_ID"):
        config_from_environment(environ={})
    broken = '{"login": "id", "password": "hunter2-secret", "extra": {"ims_org_id": "O@AdobeOrg"}'
    with pytest.raises(AEPConfigurationError) as raised:
        config_from_environment(environ={"AIRFLOW_CONN_AEP_DEFAULT": broken})
    assert "hunter2" not in str(raised.value)
    with pytest.raises(AEPConfigurationError, match="no sandbox"):
        config_from_environment(environ={"AIRFLOW_CONN_AEP_DEFAULT": json.dumps({**as_json, "schema": ""})})


def test_the_console_script_runs_without_importing_airflow(emulator, emulator_admin, tmp_path) -> None:
    env = {"AIRFLOW_CONN_AEP_DEFAULT": emulator.connection_json("prod"), "PATH": str(SCRIPT.parent)}
    done = subprocess.run(
        [str(SCRIPT), "plan", str(EXAMPLES), "--sandbox", "dev"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Plan: 4 to create" in done.stdout
    probe = (
        "import sys\n"
        "from airflow_provider_segmentation.audiences.cli import main\n"
        f"code = main(['plan', {str(EXAMPLES)!r}, '--sandbox', 'dev'])\n"
        "loaded = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))\n"
        "assert code == 2 and not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
