"""Triggerer scale: N concurrent segment-job triggers in one event loop against the emulator.

Prints IMS calls (target 1), peak RSS of this process (target <= 300 MB), event-loop lag p99 (target
<= 100 ms) and whether every event is correct. The emulator runs in a separate process so that its
memory is not counted.

Run: .venv/bin/python tests/benchmarks/bench_triggerer.py [--triggers 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from airflow_provider_segmentation.client import ClientConfig, SegmentationClient
from airflow_provider_segmentation.emulator.settings import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_ORG_ID,
)
from airflow_provider_segmentation.triggers.segmentation import AEPJobTrigger

RESULTS = Path(__file__).with_name("results.json")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def measure(triggers: list[AEPJobTrigger]) -> tuple[list[dict], list[float]]:
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - started - 0.01)

    async def first_event(trigger: AEPJobTrigger) -> dict:
        async for event in trigger.run():
            return dict(event.payload)
        raise RuntimeError("trigger ended without an event")

    tick = asyncio.create_task(ticker())
    events = await asyncio.gather(*(first_event(t) for t in triggers))
    done.set()
    await tick
    return list(events), lags


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--triggers", type=int, default=1000)
    parser.add_argument("--poll-interval", type=float, default=5.0)
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    emulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_segmentation.emulator",
            "--port",
            str(port),
            "--profiles",
            "200",
            "--job-step-seconds",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                requests.get(f"{url}/_emulator/datasets", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        requests.patch(
            f"{url}/_emulator/settings", json={"max_processing_segment_jobs": args.triggers + 10}, timeout=5
        )
        config = ClientConfig(
            client_id=DEFAULT_CLIENT_ID,
            client_secret=DEFAULT_CLIENT_SECRET,
            org_id=DEFAULT_ORG_ID,
            sandbox="prod",
            ims_host=url,
            platform_host=url,
        )
        setup = SegmentationClient(config)
        segment = setup.create_segment_definition(
            {"name": "bench", "expression": {"value": "loyalty.points > 1"}}
        )
        job_ids = [setup.create_segment_job([segment.id or ""]).id for _ in range(args.triggers)]
        os.environ["AIRFLOW_CONN_AEP_DEFAULT"] = json.dumps(
            {
                "conn_type": "adobe_experience_platform",
                "login": DEFAULT_CLIENT_ID,
                "password": DEFAULT_CLIENT_SECRET,
                "schema": "prod",
                "extra": {
                    "ims_org_id": DEFAULT_ORG_ID,
                    "ims_host": url,
                    "platform_host": url,
                },
            }
        )
        from airflow_provider_segmentation.client.auth import PROCESS_TOKEN_CACHE

        PROCESS_TOKEN_CACHE.clear()  # the triggerer process starts with no token
        requests.delete(f"{url}/_emulator/requests", timeout=5)
        triggers = [
            AEPJobTrigger(
                kind="segment_job", job_id=j, poll_interval=args.poll_interval, deadline=time.time() + 300
            )
            for j in job_ids
        ]
        started = time.perf_counter()
        events, lags = asyncio.run(measure(triggers))
        elapsed = time.perf_counter() - started
        log = requests.get(f"{url}/_emulator/requests", timeout=5).json()["requests"]
        ims_calls = sum(1 for entry in log if entry["path"] == "/ims/token/v3")
        polls = sum(1 for entry in log if entry["path"].startswith("/data/core/ups/segment/jobs/"))
        correct = sum(1 for e in events if e["status"] == "success" and e["job"]["status"] == "SUCCEEDED")
        lags.sort()
        p99 = lags[int(len(lags) * 0.99) - 1] * 1000 if lags else 0.0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        figures = {
            "triggers": args.triggers,
            "poll_interval_s": args.poll_interval,
            "ims_calls": ims_calls,
            "polls": polls,
            "events_correct": correct,
            "loop_lag_p99_ms": round(p99, 1),
            "peak_rss_mib": round(rss),
            "seconds": round(elapsed, 1),
        }
        previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        RESULTS.write_text(json.dumps({**previous, "triggerer": figures}, indent=2) + "\n")
        print(
            f"{args.triggers} concurrent triggers (poll every {args.poll_interval:g} s) in {elapsed:.1f} s: "
            f"IMS calls {ims_calls} (target 1), polls {polls}, events correct {correct}/{args.triggers}, "
            f"event-loop lag p99 {p99:.1f} ms (target <= 100), peak RSS {rss:.0f} MiB (target <= 300)"
        )
    finally:
        emulator.send_signal(signal.SIGINT)
        emulator.wait(timeout=15)


if __name__ == "__main__":
    main()
