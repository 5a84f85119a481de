"""``aep-audiences`` exit codes fit CI: ``apply`` exits 0 when it applied what it was asked (so ``set -e``
goes on), 1 on any failure; ``plan`` exits 2 when there are changes, 0 when none; ``--help`` says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_segmentation.audiences.cli import main
from tests.audiences.conftest import write

SCRIPT = Path(sys.executable).parent / "aep-audiences"
DEFINITIONS = "/data/core/ups/segment/definitions"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two batch audiences (what AEP keeps as written, whatever its evaluation rules say of others)."""
    root = tmp_path / "audiences"
    write(root, "gold.yaml", 'name: Gold\nexpression: loyalty.tier = "gold"\n')
    write(root, "points.yaml", "name: Points\nexpression: loyalty.points > 4000\n")
    return root


def test_apply_exits_0_so_a_set_e_ci_step_goes_on(emulator, emulator_admin, folder) -> None:
    step = (
        "set -e\n"
        'code=0; aep-audiences plan "$1" --sandbox dev >/dev/null || code=$?; echo "plan before: $code"\n'
        'aep-audiences apply "$1" --sandbox dev >/dev/null; echo "applied"\n'
        'aep-audiences apply "$1" --sandbox dev >/dev/null; echo "applied again"\n'
        'code=0; aep-audiences plan "$1" --sandbox dev >/dev/null || code=$?; echo "plan after: $code"\n'
    )
    env = {"AIRFLOW_CONN_AEP_DEFAULT": emulator.connection_json("prod"), "PATH": f"{SCRIPT.parent}:/bin"}
    done = subprocess.run(
        ["bash", "-c", step, "ci-step", str(folder)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:4] == ["plan before: 2", "applied", "applied again", "plan after: 0"]


def test_apply_exits_1_when_a_change_fails(emulator, emulator_admin, folder, monkeypatch, capsys) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AEP_DEFAULT", emulator.connection_json("prod"))
    emulator_admin.inject_fault(method="POST", path=DEFINITIONS, kind="status", status=503)
    code = main(["apply", str(folder), "--sandbox", "dev", "--max-rounds", "2"])
    assert code == 1 and "could not be made" in capsys.readouterr().err
    emulator_admin.clear_faults()
    write(folder, "extra.yaml", "name: Extra\nexpression: loyalty.points > 1\n")
    assert main(["apply", str(folder), "--sandbox", "dev"]) == 0  # the same apply resumes, and says 0
    assert main(["plan", str(folder), "--sandbox", "dev"]) == 0


@pytest.mark.parametrize("command", [[], ["apply"], ["plan"], ["lint"]])
def test_help_states_the_exit_codes(command: list[str], capsys) -> None:
    assert main([*command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "plan 0 no changes, 2 changes to make, 1 error" in text
    assert "apply 0 applied everything asked (or nothing to do), 1 any failure" in text
