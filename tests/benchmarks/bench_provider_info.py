"""What it costs Airflow to read this provider's metadata: 3.3 calls ``get_provider_info()`` in every
process it starts (api-server, scheduler, dag-processor, triggerer, each task). Target: <= 5 ms.

Run: .venv/bin/python tests/benchmarks/bench_provider_info.py
Prints the median of 15 fresh interpreters, measured after the standard-library modules every Airflow
process has already loaded (``typing``, ``re``, ``json``...; not ``import airflow`` itself, which in
3.3 already reads provider info), and cold; and whether the client was imported on the way.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

PROBE = """
import sys, time
{preload}
started = time.perf_counter()
from airflow_provider_segmentation.get_provider_info import get_provider_info
get_provider_info()
elapsed = (time.perf_counter() - started) * 1000
heavy = any(m.startswith("airflow_provider_segmentation.client.client") for m in sys.modules)
print(f"{{elapsed:.3f}} {{heavy}}")
"""


def measure(preload: str, runs: int = 15) -> tuple[float, bool]:
    times, heavy = [], False
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(preload=preload)], capture_output=True, text=True, check=True
        ).stdout.split()
        times.append(float(out[0]))
        heavy = heavy or out[1] == "True"
    return statistics.median(times), heavy


if __name__ == "__main__":
    in_airflow, heavy = measure("import typing, re, json, importlib, dataclasses, collections, enum")
    cold, _ = measure("")
    print(f"get_provider_info() after the stdlib, median of 15:      {in_airflow:.2f} ms (target 5 ms)")
    print(f"get_provider_info() cold interpreter, median of 15:      {cold:.2f} ms")
    print(f"imports the client on the way: {heavy}")
