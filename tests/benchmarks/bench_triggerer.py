"""Triggerer scale: N concurrent segment-job waits in one event loop, per-job polling against the shared
poller (Airflow 3.3's shared trigger streams + one bulk-get per cycle), against the emulator.

For 1,000 and 5,000 waits, each configuration in its own process (so peak RSS is its own), prints:
requests per poll cycle (target: shared <= 1 % of per-job), IMS calls (target 1), event-loop lag p99
(target <= 100 ms), peak RSS (target <= 300 MiB at 5,000) and the delay from a job finishing (in the
emulator) to its trigger event (shared: no worse than per-job), and whether every event is correct.

It measures steady-state polling: the emulator's clock is frozen while the jobs are created (their
creation times spread over one poll interval), so every job is still running when the waits start;
requests are counted over ``CYCLES`` whole poll intervals after every wait has made its first poll.
Then the clock is stepped to just before the first job's end and let run, so the jobs finish one after
another over one poll interval at instants known from their creation times, and finish->event is the
time from each job's finish to its trigger's event.

Run: .venv/bin/python tests/benchmarks/bench_triggerer.py [--waits 1000 5000] [--poll-interval 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
from emulator_process import EmulatorProcess

RESULTS = Path(__file__).with_name("results.json")
STEP_SECONDS = 60.0  # emulator time per job status (NEW, QUEUED, PROCESSING, then SUCCEEDED): stepped
STEPS_TO_FINISH = 3
DEFAULT_WAITS = [1000, 5000]
DEFAULT_POLL_INTERVAL = 5.0
CYCLES = 3  # whole poll intervals over which requests are counted, all jobs running
FINISH_LEAD_SECONDS = 0.5  # real time from letting the clock run to the first job's finish


def set_clock(url: str, **change: Any) -> dict[str, Any]:
    """Freeze, step or release the emulator's clock; its state after the change (``now``: its time)."""
    response = requests.post(f"{url}/_emulator/clock", json=change, timeout=30)
    response.raise_for_status()
    return dict(response.json())


async def one_run(mode: str, waits: int, poll_interval: float, url: str) -> dict[str, Any]:
    """In this process: create the jobs, then wait for all of them the way ``mode`` says."""
    import os

    from airflow.triggers.shared_stream import SharedStreamManager

    from airflow_provider_segmentation.client import ClientConfig, SegmentationClient
    from airflow_provider_segmentation.client.auth import PROCESS_TOKEN_CACHE
    from airflow_provider_segmentation.emulator.settings import (
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        DEFAULT_ORG_ID,
    )
    from airflow_provider_segmentation.triggers.segmentation import AEPJobTrigger

    config = ClientConfig(
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        org_id=DEFAULT_ORG_ID,
        sandbox="prod",
        ims_host=url,
        platform_host=url,
        aep_rules="off",  # thousands of on-demand jobs to watch: far past AEP's 2 a day (the emulator's too)
    )
    setup = SegmentationClient(config)
    segment = setup.create_segment_definition(
        {"name": "bench", "expression": {"value": "loyalty.points > 1"}}
    )
    set_clock(url, frozen=True)  # every job stays running until the clock is let go
    created: dict[str, float] = {}  # emulator time of each job's creation
    block = max(1, waits // 50)
    for first in range(0, waits, block):
        for _ in range(min(block, waits - first)):
            job = setup.create_segment_job([segment.id or ""])
            assert job.created_at is not None
            created[job.id] = job.created_at.timestamp()
        clock = set_clock(url, advance_seconds=poll_interval * block / waits)  # spread over one interval
    os.environ["AIRFLOW_CONN_AEP_DEFAULT"] = json.dumps(
        {
            "conn_type": "adobe_experience_platform",
            "login": DEFAULT_CLIENT_ID,
            "password": DEFAULT_CLIENT_SECRET,
            "schema": "prod",
            "extra": {"ims_org_id": DEFAULT_ORG_ID, "ims_host": url, "platform_host": url},
        }
    )
    PROCESS_TOKEN_CACHE.clear()  # the triggerer process starts with no token
    requests.delete(f"{url}/_emulator/requests", timeout=5)
    triggers = [
        AEPJobTrigger(
            kind="segment_job",
            job_id=job_id,
            poll_interval=poll_interval,
            deadline=time.time() + 600,
            share_polls=mode == "shared",
        )
        for job_id in created
    ]
    lags: list[float] = []
    arrivals: dict[str, float] = {}
    done = asyncio.Event()
    manager = SharedStreamManager(max_subscriber_queue=1000)

    async def ticker() -> None:
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - started - 0.01)

    async def wait_for(trigger_id: int, trigger: AEPJobTrigger) -> dict[str, Any]:
        key = trigger.shared_stream_key()
        events = (
            trigger.filter_shared_stream(manager.subscribe(trigger_id=trigger_id, trigger=trigger, key=key))
            if key is not None
            else trigger.run()
        )
        try:
            async for event in events:
                arrivals[trigger.job_id] = time.time()
                return dict(event.payload)
            raise RuntimeError("trigger ended without an event")
        finally:
            if key is not None:
                await manager.unsubscribe(trigger_id, key)

    started = time.perf_counter()
    tick = asyncio.create_task(ticker())
    waiting = asyncio.gather(*(wait_for(i, t) for i, t in enumerate(triggers)))
    await asyncio.sleep(poll_interval)  # every wait has made its first poll (spread over <= half of it)
    counted_from = time.time()
    window = (counted_from, counted_from + CYCLES * poll_interval)
    await asyncio.sleep(CYCLES * poll_interval)
    duration = STEPS_TO_FINISH * STEP_SECONDS
    step = duration - (clock["now"] - min(created.values())) - FINISH_LEAD_SECONDS
    released = await asyncio.to_thread(set_clock, url, frozen=False, advance_seconds=step)
    released_at = time.time()  # real time when the emulator's clock read released["now"]
    finishes = {job_id: released_at + at + duration - released["now"] for job_id, at in created.items()}
    events = await waiting
    done.set()
    await tick
    await manager.stop_all()
    elapsed = time.perf_counter() - started
    log = requests.get(f"{url}/_emulator/requests", timeout=60).json()["requests"]
    polls = [
        e
        for e in log
        if e["path"].startswith("/data/core/ups/segment/jobs/") and window[0] <= e["time"] < window[1]
    ]
    delays = sorted(at - finishes[job_id] for job_id, at in arrivals.items())
    lags.sort()
    return {
        "mode": mode,
        "waits": waits,
        "poll_interval_s": poll_interval,
        "poll_requests_in_window": len(polls),
        "requests_per_cycle": round(len(polls) / CYCLES, 1),
        "ims_calls": sum(1 for e in log if e["path"] == "/ims/token/v3"),
        "events_correct": sum(  # a success reported before the clock let any job finish would be wrong
            1
            for e in events
            if e["status"] == "success"
            and e["job_status"] == "SUCCEEDED"
            and arrivals[e["watched_id"]] >= released_at
        ),
        "loop_lag_p99_ms": round(lags[int(len(lags) * 0.99) - 1] * 1000, 1) if lags else 0.0,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "finish_to_event_median_s": round(statistics.median(delays), 2),
        "finish_to_event_p95_s": round(delays[int(len(delays) * 0.95) - 1], 2),
        "seconds": round(elapsed, 1),
    }


def run_in_subprocess(mode: str, waits: int, poll_interval: float) -> dict[str, Any]:
    with EmulatorProcess("--profiles", "200", "--job-step-seconds", str(STEP_SECONDS)) as emulator:
        emulator.patch_settings(
            max_processing_segment_jobs=waits + 10, rules={"enforce_on_demand_quota": False}
        )
        out = subprocess.run(
            [sys.executable, __file__, "--one", mode, str(waits), str(poll_interval), emulator.url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--waits", type=int, nargs="+", default=DEFAULT_WAITS)
    parser.add_argument("--poll-interval", type=float, default=DEFAULT_POLL_INTERVAL)
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        mode, waits, interval, url = args.one
        print(json.dumps(asyncio.run(one_run(mode, int(waits), float(interval), url))))
        return
    rows = [
        run_in_subprocess(mode, n, args.poll_interval) for n in args.waits for mode in ("per-job", "shared")
    ]
    header = (
        f"{'waits':>5} {'mode':<8} {'req/cycle':>9} {'IMS':>4} {'lag p99 ms':>10} {'RSS MiB':>8} "
        f"{'finish->event med/p95 s':>24} {'correct':>8}"
    )
    print(
        f"segment-job waits in one triggerer event loop (poll every {args.poll_interval:g} s; requests "
        f"counted over {CYCLES} cycles with every job running)"
    )
    print(header)
    for row in rows:
        print(
            f"{row['waits']:>5} {row['mode']:<8} {row['requests_per_cycle']:>9} {row['ims_calls']:>4} "
            f"{row['loop_lag_p99_ms']:>10} {row['peak_rss_mib']:>8} "
            f"{row['finish_to_event_median_s']:>12} / {row['finish_to_event_p95_s']:<9} "
            f"{row['events_correct']:>5}/{row['waits']}"
        )
    for n in args.waits:
        per_job, shared = (r for r in rows if r["waits"] == n)
        ratio = shared["requests_per_cycle"] / per_job["requests_per_cycle"] * 100
        print(f"{n} waits: shared poller asks {ratio:.2f} % of per-job polling's requests per cycle")
    if args.waits != DEFAULT_WAITS or args.poll_interval != DEFAULT_POLL_INTERVAL:
        return  # a trial run: results.json keeps the figures of the published settings
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps({**previous, "triggerer": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
