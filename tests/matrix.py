"""``make matrix``: the provider's tests on the latest patch of every Airflow 3 minor it supports.

For each version: a venv ``.venv-matrix/af3X`` built with uv when missing or stale (a stamp file records
what was installed), an import of every module of the package, then
``pytest -q -m "not reliability and not e2e" tests`` (the example DAGs' ``airflow dags test`` runs
included: they are what a user runs first; the fault storms and the deployment suite run on the newest
only, from ``make test`` and ``make e2e``). Versions run one after the other
(a 2-CPU machine); one summary line per version at the end. Exit status 1 when any version fails.

    python tests/matrix.py [--versions 3.0.6,3.3.2] [--root DIR] [--uv PATH] [-- PYTEST ARGS]

``--root`` runs another checkout (e.g. a scratch copy) with the same venvs: its tree is put first on
``PYTHONPATH``, so pytest and the subprocesses the tests start import that copy.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The latest patch of each minor on the package index (uv pip install --dry-run 'apache-airflow==3.X.*').
VERSIONS = ("3.0.6", "3.1.8", "3.2.2", "3.3.2")
# Airflow 3.0/3.1 build connection forms from the hook's wtforms widgets, only with flask-appbuilder:
# the FAB provider puts them there, so the legacy form path is tested too.
EXTRAS = {"3.0": ["apache-airflow-providers-fab"], "3.1": ["apache-airflow-providers-fab"]}
# What Airflow's constraints files pin and these releases' own metadata leaves open. Installed without
# constraints, `airflow dags test` fails every task on 3.0.6 and 3.2.2 (the deployment itself too):
# FastAPI 0.132 rejects the Task SDK's JSON bodies sent without a Content-Type (3.0.6), cadwyn 8 needs a
# newer FastAPI than that, and svcs 26 breaks 3.2.2's in-process execution API ("no attribute
# svcs_registry"). The pins are the versions 3.3.2 resolves; 3.1 and 3.3 cap them themselves.
PINS = {"3.0": ["fastapi<0.132", "cadwyn<8"], "3.2": ["fastapi<0.137", "cadwyn<8", "svcs<26"]}
MARKERS = "not reliability and not e2e"
TIMEOUT = 900  # seconds per pytest run (a full run takes about 3 min)
STUCK = 240  # a test running this long dumps every thread's stack into the log (faulthandler)

IMPORT_ALL = """
import importlib, pathlib, sys
root = pathlib.Path(sys.argv[1])
names = sorted(
    ".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
    for p in (root / "airflow_provider_segmentation").rglob("*.py")
)
bad = []
for name in names:
    try:
        importlib.import_module(name)
    except Exception as exc:
        bad.append(f"{name}: {type(exc).__name__}: {exc}")
print(f"IMPORTED {len(names) - len(bad)}/{len(names)}")
for line in bad:
    print("IMPORT FAILED", line)
"""


@dataclass
class Result:
    version: str
    imports: str = "-"
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    note: str = ""

    @property
    def ok(self) -> bool:
        broken = self.counts.get("failed", 0) + self.counts.get("error", 0) + self.counts.get("errors", 0)
        return not self.note and broken == 0 and self.counts.get("passed", 0) > 0


def minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, text=True, capture_output=True, **kwargs)  # type: ignore[call-overload]


def ensure_venv(uv: str, venv: Path, version: str) -> str | None:
    """Build or refresh the venv for ``version``; None when ready, else what went wrong."""
    wanted = [f"apache-airflow=={version}", *EXTRAS.get(minor(version), []), *PINS.get(minor(version), [])]
    digest = hashlib.sha256((REPO / "pyproject.toml").read_bytes() + " ".join(wanted).encode()).hexdigest()
    stamp = venv / ".matrix-installed"
    if stamp.is_file() and stamp.read_text() == digest and (venv / "bin" / "python").exists():
        return None
    if not (venv / "bin" / "python").exists():
        made = run([uv, "venv", "--quiet", "--python", "python3", str(venv)])
        if made.returncode:
            return f"uv venv failed: {made.stderr.strip()[-300:]}"
    print(f"  installing {' '.join(wanted)} into {venv.relative_to(REPO)}", flush=True)
    installed = run(
        [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), "-e", ".[test]", *wanted],
        cwd=REPO,
    )
    if installed.returncode:
        return f"install failed: {installed.stderr.strip()[-500:]}"
    stamp.write_text(digest)
    return None


def summary_counts(text: str) -> dict[str, int]:
    """pytest's closing line ('3 failed, 650 passed, 6 skipped in 61.50s') as {'failed': 3, ...}."""
    for line in reversed(text.splitlines()):
        found = re.findall(r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed)", line)
        if found and " in " in line:
            return {word: int(n) for n, word in found}
    return {}


def test_version(uv: str, root: Path, version: str, pytest_args: list[str]) -> Result:
    result = Result(version)
    venv = REPO / ".venv-matrix" / ("af" + minor(version).replace(".", ""))
    started = time.monotonic()
    print(f"== Airflow {version}", flush=True)
    problem = ensure_venv(uv, venv, version)
    if problem:
        result.note = problem
        return result
    python = str(venv / "bin" / "python")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    imported = run([python, "-W", "ignore", "-c", IMPORT_ALL, str(root)], cwd=root, env=env)
    for line in imported.stdout.splitlines():
        if line.startswith("IMPORTED "):
            result.imports = line.split()[1]
        elif line.startswith("IMPORT FAILED"):
            print("  " + line[:300])
    log = venv / "pytest.log"
    cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--continue-on-collection-errors"]
    cmd += ["-o", f"faulthandler_timeout={STUCK}"]
    cmd += ["-m", MARKERS, *(pytest_args or ["tests"])]
    exit_code: int | None = None
    try:
        with log.open("w") as out:
            exit_code = subprocess.run(
                cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=TIMEOUT
            ).returncode
    except subprocess.TimeoutExpired:
        result.note = f"timed out after {TIMEOUT} s (stacks in the log)"
    result.seconds = time.monotonic() - started
    text = log.read_text(errors="replace")
    result.counts = summary_counts(text)
    for line in text.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            print("  " + line[:300])
    if not result.note and not result.counts:
        result.note = f"no pytest summary (exit {exit_code}); see {log.relative_to(REPO)}"
    print(f"  {summary_line(result)}  (log: {log.relative_to(REPO)})", flush=True)
    return result


def summary_line(r: Result) -> str:
    c = r.counts
    errors = c.get("error", 0) + c.get("errors", 0)
    return (
        f"airflow {r.version:<7} imports {r.imports:>6}  {c.get('passed', 0):>4} passed "
        f"{c.get('failed', 0):>3} failed {errors:>3} errors {c.get('skipped', 0):>3} skipped "
        f"{r.seconds:>6.0f} s  {'ok' if r.ok else 'FAIL'}{'  ' + r.note if r.note else ''}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", default=os.environ.get("AIRFLOW_MATRIX", ",".join(VERSIONS)))
    parser.add_argument("--root", type=Path, default=REPO, help="the checkout to test (default: this one)")
    parser.add_argument("--uv", default=str(REPO / ".venv" / "bin" / "uv"))
    parser.add_argument("pytest_args", nargs="*", help="after --: what pytest runs (default: tests)")
    args = parser.parse_args()
    uv = args.uv if Path(args.uv).exists() else shutil.which("uv")
    if not uv:
        print("uv not found: run make install (it puts uv in .venv) or pass --uv", file=sys.stderr)
        return 2
    versions = [v.strip() for v in args.versions.replace(" ", ",").split(",") if v.strip()]
    results = [test_version(uv, args.root.resolve(), v, args.pytest_args) for v in versions]
    print("\n== Airflow matrix")
    for r in results:
        print(summary_line(r))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
