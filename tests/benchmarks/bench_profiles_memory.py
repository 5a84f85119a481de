"""Emulator memory at scale: RSS of a process holding the emulator app with N profiles, after one segment
evaluation over all of them.

Run: .venv/bin/python tests/benchmarks/bench_profiles_memory.py [--profiles 1000000]
"""

from __future__ import annotations

import argparse
import resource
import time

from airflow_provider_segmentation.emulator.app import create_app
from airflow_provider_segmentation.emulator.settings import EmulatorSettings

DEFINITION = (
    'homeAddress.countryCode = "US" and loyalty.tier in ["gold", "platinum"] '
    'and exists X from xEvent where (X.eventType = "commerce.purchases")'
)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=1_000_000)
    args = parser.parse_args()
    started = time.perf_counter()
    app = create_app(EmulatorSettings(profiles=args.profiles))
    built = time.perf_counter() - started
    engine = app.state.emulator.engine
    started = time.perf_counter()
    members = engine.select(DEFINITION, memberships={})
    evaluated = time.perf_counter() - started
    print(
        f"emulator with {args.profiles:,} profiles: built in {built:.1f} s; one evaluation over all of them "
        f"in {evaluated:.1f} s ({len(members):,} members); peak RSS {rss_mib():,.0f} MiB"
    )


if __name__ == "__main__":
    main()
