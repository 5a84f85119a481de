"""How many of the package's files one call goes through, operator to socket (issue 18).

Traces, with ``sys.settrace``, two calls against an emulator that runs in a subprocess (never traced):

* run:  ``AEPRunSegmentJobOperator(task_id=..., segment_ids=[id], wait_for_completion=False).execute(ctx)``
* read: ``AEPSegmentJobSensor(task_id=..., job_id=...).poke(ctx)`` on the job that run started

and prints, per call, every file of ``airflow_provider_segmentation/`` (``emulator/`` excluded) whose code
ran, in the order the call first entered it, with the file's line count and how many of its distinct lines
ran; then the totals. The traced region is the operator's construction and its ``execute``/``poke``.

Then the chain a reader follows from the operator to the socket: for each request the call sends, the
package's files on the stack when ``http.client`` writes the request line (outermost first; a file that
appears twice on the stack is counted once).

Two variants of each call:

* warm: in this process, after one untraced call of the same kind, so that neither imports nor the IMS
  token mint are counted: the path a reader follows;
* cold: in a fresh interpreter that has imported the operator's module (as a DAG file does) and holds no
  token (an empty token cache directory): the lazy imports and the token mint are counted too.

The context is the smallest an operator needs: a ``ti`` with ``xcom_push`` and ``try_number=1``, and no
``task_state_store`` (Airflow < 3.3), so no re-attachment lookup. Figures only, no targets.

    .venv/bin/python tests/benchmarks/call_path.py [--json rows.json]

It imports whichever ``airflow_provider_segmentation`` comes first on ``sys.path`` and prints its path, so
another checkout is measured with ``PYTHONPATH=/that/checkout``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import requests
from emulator_process import EmulatorProcess

PACKAGE = "airflow_provider_segmentation"
SANDBOX = "prod"
PQL = 'homeAddress.countryCode = "US"'
ON_DEMAND_RUNS = 100
Tracer = Callable[[FrameType, str, Any], Any]


def package_dir() -> Path:
    """The package that ``import airflow_provider_segmentation`` would load, found without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    assert spec is not None and spec.submodule_search_locations, f"{PACKAGE} is not importable"
    return Path(next(iter(spec.submodule_search_locations)))


class PathTracer:
    """For each package file a traced call enters, in order of first entry: the distinct lines that ran."""

    def __init__(self, package: Path) -> None:
        self.prefix = str(package) + os.sep
        self.excluded = str(package / "emulator") + os.sep
        self.lines: dict[str, set[int]] = {}  # insertion order is the order of first entry
        self.chains: list[tuple[str, list[str]]] = []  # per request sent: its request line, its chain

    def _call(self, frame: FrameType, event: str, arg: Any) -> Tracer | None:
        filename = frame.f_code.co_filename
        if frame.f_code.co_name == "send" and filename.endswith(os.path.join("http", "client.py")):
            self._at_the_socket(frame)
            return None
        if not filename.startswith(self.prefix) or filename.startswith(self.excluded):
            return None  # no line events for code outside the package
        self.lines.setdefault(filename, set())
        return self._line

    def _line(self, frame: FrameType, event: str, arg: Any) -> Tracer:
        if event == "line":
            self.lines[frame.f_code.co_filename].add(frame.f_lineno)
        return self._line

    def _at_the_socket(self, frame: FrameType) -> None:
        """``http.client`` is sending bytes: if they start a request, note the package files on the stack."""
        data = frame.f_locals.get("data")
        line = (
            bytes(data).split(b"\r\n", 1)[0].decode("latin-1") if isinstance(data, bytes | bytearray) else ""
        )
        if line.split(" ", 1)[0] not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            return
        stack: list[str] = []
        caller: FrameType | None = frame
        while caller is not None:
            name = caller.f_code.co_filename
            if name.startswith(self.prefix) and not name.startswith(self.excluded) and name not in stack:
                stack.append(name)
            caller = caller.f_back
        self.chains.append((line.rsplit(" ", 1)[0].split("?", 1)[0], stack[::-1]))

    @contextmanager
    def tracing(self) -> Iterator[None]:
        threading.settrace(self._call)  # threads the call starts (page fetchers, if any)
        sys.settrace(self._call)
        try:
            yield
        finally:
            sys.settrace(None)
            threading.settrace(None)

    def rows(self, repo: Path) -> list[dict[str, Any]]:
        return [
            {"path": str(Path(name).relative_to(repo)), "lines": line_count(name), "executed": len(executed)}
            for name, executed in self.lines.items()
        ]

    def chain_rows(self, repo: Path) -> list[dict[str, Any]]:
        return [
            {
                "request": request,
                "files": [{"path": str(Path(n).relative_to(repo)), "lines": line_count(n)} for n in chain],
            }
            for request, chain in self.chains
        ]


def line_count(filename: str) -> int:
    return len(Path(filename).read_text(encoding="utf-8").splitlines())


class RecordingTaskInstance:
    """The part of Airflow's task instance an operator uses outside a scheduler."""

    try_number = 1

    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


def task_context() -> Any:
    """The smallest context an operator runs with: no ``task_state_store`` (Airflow < 3.3)."""
    return {"ti": RecordingTaskInstance()}


def run_call(segment_id: str) -> dict[str, Any]:
    from airflow_provider_segmentation.operators.segment_jobs import AEPRunSegmentJobOperator

    operator = AEPRunSegmentJobOperator(task_id="run", segment_ids=[segment_id], wait_for_completion=False)
    return dict(operator.execute(task_context()))


def read_call(job_id: str) -> Any:
    from airflow_provider_segmentation.sensors.segmentation import AEPSegmentJobSensor

    return AEPSegmentJobSensor(task_id="read", job_id=job_id).poke(task_context())


def traced(call: Callable[[str], Any], argument: str) -> tuple[Any, dict[str, Any]]:
    """The call's result, and what it went through: ``files`` (every file that ran) and ``chains``."""
    package = package_dir()
    tracer = PathTracer(package)
    with tracer.tracing():
        result = call(argument)
    return result, {"files": tracer.rows(package.parent), "chains": tracer.chain_rows(package.parent)}


CALLS: dict[str, Callable[[str], Any]] = {"run": run_call, "read": read_call}
PREIMPORTS = {  # what a DAG file imports at parse time, before a task's first call
    "run": f"{PACKAGE}.operators.segment_jobs",
    "read": f"{PACKAGE}.sensors.segmentation",
}


def create_definition(url: str, client_id: str, client_secret: str, org_id: str) -> str:
    """A batch definition created over the wire, outside the package, so that its path is not traced."""
    token = requests.post(
        f"{url}/ims/token/v3",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": "openid",
        },
        timeout=10,
    )
    token.raise_for_status()
    created = requests.post(
        f"{url}/data/core/ups/segment/definitions",
        headers={
            "Authorization": f"Bearer {token.json()['access_token']}",
            "x-api-key": client_id,
            "x-gw-ims-org-id": org_id,
            "x-sandbox-name": SANDBOX,
        },
        json={
            "name": "call path",
            "expression": {"type": "PQL", "format": "pql/text", "value": PQL},
            "schema": {"name": "_xdm.context.profile"},
        },
        timeout=10,
    )
    created.raise_for_status()
    return str(created.json()["id"])


def connection_json(url: str, client_id: str, client_secret: str, org_id: str) -> str:
    return json.dumps(
        {
            "conn_type": "adobe_experience_platform",
            "login": client_id,
            "password": client_secret,
            "schema": SANDBOX,
            "extra": {
                "ims_org_id": org_id,
                "ims_host": url,
                "platform_host": url,
                "on_demand_daily_runs": ON_DEMAND_RUNS,
            },
        }
    )


def cold(call: str, argument: str) -> dict[str, Any]:
    """The call traced as a task process's first, in a fresh interpreter with an empty token cache."""
    with tempfile.TemporaryDirectory(prefix="call-path-tokens-") as tokens:
        finished = subprocess.run(
            [sys.executable, __file__, "--cold-child", call, argument],
            env={**os.environ, "AEP_TOKEN_CACHE_DIR": tokens},
            capture_output=True,
            text=True,
        )
    if finished.returncode:
        raise RuntimeError(f"the cold {call} call failed:\n{finished.stdout}{finished.stderr}")
    path: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return path


def cold_child(call: str, argument: str) -> None:
    __import__(PREIMPORTS[call])
    print(json.dumps(traced(CALLS[call], argument)[1]))


def summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "files": len(rows),
        "lines": sum(r["lines"] for r in rows),
        "executed": sum(r["executed"] for r in rows),
    }


def show(title: str, path: dict[str, Any]) -> None:
    rows = path["files"]
    total = summary(rows)
    width = max([len(r["path"]) for r in rows] + [len("file")])
    print(f"\n{title}")
    print(f"  {'#':>3}  {'file':<{width}}  {'lines':>6}  {'executed':>8}")
    for number, row in enumerate(rows, 1):
        print(f"  {number:>3}  {row['path']:<{width}}  {row['lines']:>6}  {row['executed']:>8}")
    print(
        f"  total: {total['files']} files, {total['lines']:,} lines "
        f"({total['executed']:,} distinct lines executed)"
    )
    for chain in path["chains"]:
        files = chain["files"]
        print(
            f"  to the socket, {chain['request']}: {len(files)} files, "
            f"{sum(f['lines'] for f in files):,} lines: "
            + " > ".join(f["path"].split("/", 1)[1] for f in files)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", type=Path, help="also write the rows of every traced call to this file")
    parser.add_argument("--no-cold", action="store_true", help="only the warm variant")
    parser.add_argument("--cold-child", nargs=2, metavar=("CALL", "ARGUMENT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_child:
        cold_child(*args.cold_child)
        return

    import airflow_provider_segmentation
    from airflow_provider_segmentation.emulator.settings import (
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        DEFAULT_ORG_ID,
    )

    print(f"package: {airflow_provider_segmentation.__file__}")
    credential = (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_ORG_ID)
    results: list[dict[str, Any]] = []
    # jobs stay active for an hour: every read sees the same status, so the path does not vary
    with EmulatorProcess("--profiles", "200", "--job-step-seconds", "3600") as emulator:
        print(f"emulator: {emulator.url} (subprocess, not traced)")
        # warm-up, traced and cold runs exceed AEP's 2 on-demand runs a day: raised here and in the
        # connection (ON_DEMAND_RUNS), so that the client's check still runs, on the same path
        emulator.patch_settings(rules={"daily_on_demand_runs": ON_DEMAND_RUNS})
        segment_id = create_definition(emulator.url, *credential)
        os.environ["AIRFLOW_CONN_AEP_DEFAULT"] = connection_json(emulator.url, *credential)
        with tempfile.TemporaryDirectory(prefix="call-path-tokens-") as tokens:
            os.environ["AEP_TOKEN_CACHE_DIR"] = tokens  # never the user's own token cache
            run_call(segment_id)  # warm-up: imports, the token mint
            started, run_path = traced(run_call, segment_id)
            job_id = str(started["job_id"])
            read_call(job_id)
            _, read_path = traced(read_call, job_id)
            plan = [("run", segment_id, "warm", run_path), ("read", job_id, "warm", read_path)]
            if not args.no_cold:
                plan += [(call, arg, "cold", cold(call, arg)) for call, arg, _, _ in plan[:2]]
    titles = {
        "run": "run: AEPRunSegmentJobOperator(segment_ids=[id], wait_for_completion=False).execute(context)",
        "read": "read: AEPSegmentJobSensor(job_id=...).poke(context)",
    }
    for call, _, variant, path in plan:
        show(f"{titles[call]}, {variant}", path)
        results.append({"call": call, "variant": variant, **path, "total": summary(path["files"])})
    if args.json:
        document = {"package": airflow_provider_segmentation.__file__, "calls": results}
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
