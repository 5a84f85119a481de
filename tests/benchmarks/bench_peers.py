"""Side by side with the peers, measured in one run: DAG-parse import cost against the dbt Cloud
provider, and calls per pipeline and a 10,000-definition listing against ``aepp`` 0.6.0, both pointed at
the same emulator. Writes ``tests/benchmarks/results.json`` and prints one table.

Needs the peers, which ``make bench`` installs into ``.venv-bench`` only (never as dependencies).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests
from emulator_process import EmulatorProcess

from airflow_provider_segmentation.client import ClientConfig, SegmentationClient
from airflow_provider_segmentation.emulator.settings import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_ORG_ID,
    PROFILE_DATASET_ID,
)

OURS = [
    "airflow_provider_segmentation.operators.segment_definitions",
    "airflow_provider_segmentation.operators.segment_jobs",
    "airflow_provider_segmentation.operators.export_jobs",
    "airflow_provider_segmentation.operators.schedules",
    "airflow_provider_segmentation.operators.previews",
    "airflow_provider_segmentation.operators.pql",
    "airflow_provider_segmentation.operators.audiences",
    "airflow_provider_segmentation.sensors.segmentation",
]
# What a task's first call to AEP imports on top of its DAG file's operators (the run-time imports)
TASK_RUN_TIME = [
    "airflow_provider_segmentation.hooks.segmentation",
    "airflow_provider_segmentation.client.client",
]
DBT_CLOUD = ["airflow.providers.dbt.cloud.operators.dbt", "airflow.providers.dbt.cloud.sensors.dbt"]
PQL = "loyalty.points > 5000"
POLL = 0.5
LISTING_ROUNDS = 7
RESULTS = Path(__file__).with_name("results.json")


def import_cost(modules: list[str], runs: int = 7, after: tuple[str, ...] = ()) -> float:
    """Median seconds to import ``modules`` in a fresh interpreter, after airflow.sdk and ``after``."""
    code = (
        f"import time, importlib; import airflow.sdk; [importlib.import_module(m) for m in {list(after)!r}]; "
        "t = time.perf_counter(); "
        f"[importlib.import_module(m) for m in {modules!r}]; print(time.perf_counter() - t)"
    )
    samples = [
        float(
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            .stdout.strip()
            .splitlines()[-1]
        )
        for _ in range(runs)
    ]
    return statistics.median(samples)


class Emulator(EmulatorProcess):
    """The emulator both clients run against (2,000 profiles, a second a job status), and its counts."""

    def __init__(self) -> None:
        super().__init__("--profiles", "2000", "--job-step-seconds", "1")

    def reset(self) -> None:
        requests.post(f"{self.url}/_emulator/reset", timeout=10)
        self.patch_settings(max_processing_segment_jobs=1000)

    def calls(self) -> Counter[str]:
        log = requests.get(f"{self.url}/_emulator/requests", timeout=10).json()["requests"]
        counted: Counter[str] = Counter()
        for entry in log:
            path = entry["path"].removeprefix("/data/core/ups")
            kind = "ims" if path == "/ims/token/v3" else f"{entry['method']} {path.split('/')[1]}"
            counted[
                kind
                if not path.endswith(("/jobs", "/definitions")) or entry["method"] != "GET"
                else kind + " (list)"
            ] += 1
        return counted


def ours_pipeline(url: str) -> float:
    from airflow_provider_segmentation.client import JOB_TYPES, wait
    from airflow_provider_segmentation.kinds import JobKind

    started = time.perf_counter()
    client = client_for(url)
    segment = client.create_segment_definition({"name": "bench", "expression": {"value": PQL}})
    job_id = client.create_segment_job([segment.id or ""]).id
    wait(
        JOB_TYPES[JobKind.SEGMENT_JOB],
        lambda: client.get_segment_job(job_id),
        ident=job_id,
        poll_interval=POLL,
        timeout=None,
    )
    export = client.create_export_job(
        {
            "filter": {"segments": [{"segmentId": segment.id}]},
            "destination": {"datasetId": PROFILE_DATASET_ID},
        }
    )
    wait(
        JOB_TYPES[JobKind.EXPORT_JOB],
        lambda: client.get_export_job(export.id),
        ident=export.id,
        poll_interval=POLL,
        timeout=None,
    )
    return time.perf_counter() - started


def client_for(url: str) -> SegmentationClient:
    from airflow_provider_segmentation.client.auth import TokenCache

    return SegmentationClient(
        ClientConfig(
            client_id=DEFAULT_CLIENT_ID,
            client_secret=DEFAULT_CLIENT_SECRET,
            org_id=DEFAULT_ORG_ID,
            sandbox="prod",
            ims_host=url,
            platform_host=url,
        ),
        token_cache=TokenCache(),
    )


def aepp_segmentation(url: str) -> Any:
    import aepp
    from aepp import config as aepp_config
    from aepp import segmentation

    aepp.configure(
        org_id=DEFAULT_ORG_ID,
        client_id=DEFAULT_CLIENT_ID,
        secret=DEFAULT_CLIENT_SECRET,
        scopes="openid,AdobeID",
        sandbox="prod",
    )
    aepp_config.endpoints["global"] = url  # aepp hard-codes Adobe's hosts; point it at the emulator
    aepp_config.config_object["imsEndpoint"] = url
    aepp_config.config_object["oauthTokenEndpointV2"] = f"{url}/ims/token/v3"
    return segmentation.Segmentation()


def aepp_pipeline(url: str) -> float:
    started = time.perf_counter()
    seg = aepp_segmentation(url)
    segment = seg.createSegment(
        {
            "name": "bench",
            "description": "b",
            "ttlInDays": 30,
            "expression": {"type": "PQL", "format": "pql/text", "value": PQL},
            "schema": {"name": "_xdm.context.profile"},
        }
    )
    job = seg.createJob([segment["id"]])
    while seg.getJob(job["id"])["status"] not in ("SUCCEEDED", "FAILED", "CANCELLED"):
        time.sleep(POLL)
    export = seg.createExport(
        {
            "filter": {"segments": [{"segmentId": segment["id"]}]},
            "destination": {"datasetId": PROFILE_DATASET_ID},
            "schema": {"name": "_xdm.context.profile"},
        }
    )
    while seg.getExport(export["id"])["status"] not in ("SUCCEEDED", "FAILED"):
        time.sleep(POLL)
    return time.perf_counter() - started


def listing(emulator: Emulator, count: int) -> dict[str, Any]:
    emulator.reset()
    client = client_for(emulator.url)
    for i in range(count):
        client.create_segment_definition({"name": f"d{i:05d}", "expression": {"value": PQL}})
    runs = {
        "ours": lambda: sum(1 for _ in client_for(emulator.url).list_segment_definitions()),
        "aepp": lambda: len(aepp_segmentation(emulator.url).getSegments()),
    }
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    rows: dict[str, Any] = {}
    for _ in range(LISTING_ROUNDS):  # the two take turns, so that a slow moment of the machine hits both
        for name, run in runs.items():
            requests.delete(f"{emulator.url}/_emulator/requests", timeout=10)
            started = time.perf_counter()
            listed = run()
            seconds[name].append(time.perf_counter() - started)
            log = requests.get(f"{emulator.url}/_emulator/requests", timeout=10).json()["requests"]
            every_round_correct = rows.get(name, {}).get("correct", True) and listed == count
            rows[name] = {"listed": listed, "requests": len(log), "correct": every_round_correct}
    for name, row in rows.items():
        row["seconds"] = round(statistics.median(seconds[name]), 2)
    return rows


def main() -> None:
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    ours_import, dbt_import = import_cost(OURS), import_cost(DBT_CLOUD)
    task_import = import_cost(TASK_RUN_TIME, after=tuple(OURS))
    results["dag_parse_import_ms"] = {
        "ours": round(ours_import * 1000, 1),
        "dbt_cloud": round(dbt_import * 1000, 1),
    }
    results["task_run_time_import_ms"] = round(task_import * 1000, 1)
    with Emulator() as emulator:
        pipeline: dict[str, Any] = {}
        for name, run in (("ours", ours_pipeline), ("aepp", aepp_pipeline)):
            emulator.reset()
            seconds = run(emulator.url)
            pipeline[name] = {"seconds": round(seconds, 1), "calls": dict(emulator.calls())}
        results["pipeline_calls"] = pipeline
        results["listing_10000"] = listing(emulator, 10_000)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    ours_calls = sum(results["pipeline_calls"]["ours"]["calls"].values())
    aepp_calls = sum(results["pipeline_calls"]["aepp"]["calls"].values())
    lo, la = results["listing_10000"]["ours"], results["listing_10000"]["aepp"]
    print(f"{'measure':46} {'ours':>14} {'peer':>14} {'ratio':>7}  peer")
    print(
        f"{'DAG-parse import cost, median of 7 (ms)':46} {ours_import * 1000:14.1f} "
        f"{dbt_import * 1000:14.1f} "
        f"{ours_import / dbt_import:7.2f}  apache-airflow-providers-dbt-cloud 4.11.1"
    )
    task_label = "  a task then imports hook + client (ms)"
    print(f"{task_label:46} {task_import * 1000:14.1f} {'-':>14} {'':7}  (no peer)")
    print(
        f"{'calls: define, run+wait, export+wait':46} {ours_calls:14d} {aepp_calls:14d} "
        f"{ours_calls / aepp_calls:7.2f}  aepp 0.6.0"
    )
    print(
        f"{'  of which IMS token calls':46} {pipeline['ours']['calls'].get('ims', 0):14d} "
        f"{pipeline['aepp']['calls'].get('ims', 0):14d}"
    )
    print(
        f"{'list 10,000 definitions, median of 7 (s)':46} {lo['seconds']:14.2f} {la['seconds']:14.2f} "
        f"{lo['seconds'] / max(la['seconds'], 1e-9):7.2f}  aepp 0.6.0"
    )
    print(
        f"{'  requests / listed / correct':46} {lo['requests']:>4} {lo['listed']:>5} {lo['correct']!s:>3} "
        f"{la['requests']:>4} {la['listed']:>5} {la['correct']!s:>3}"
    )
    for row in results.get("triggerer", []):  # written by bench_triggerer.py (run first by make bench)
        label = f"triggerer: {row['waits']} waits, {row['mode']}: requests per poll cycle"
        print(f"{label:46} {row['requests_per_cycle']:14} {'-':>14} {'':7}  (no peer)")
        print(
            f"{'  IMS calls / lag p99 ms / RSS MiB / finish->event s':46} {row['ims_calls']:>3} "
            f"{row['loop_lag_p99_ms']:>6} {row['peak_rss_mib']:>4} {row['finish_to_event_median_s']:>6}"
        )
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
