"""The emulator the benchmarks measure against: a subprocess on a free loopback port.

A subprocess rather than an in-process ``EmulatorServer``, so that the emulator's work never shows in what
a benchmark measures of its own process (traced files, event-loop lag, peak RSS). The scripts import this
module as a sibling: ``python tests/benchmarks/<name>.py`` puts this folder first on ``sys.path``.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from typing import Any

import requests

LOOPBACK = "127.0.0.1"
START_TIMEOUT_SECONDS = 60.0
STOP_GRACE_SECONDS = 30.0  # after SIGINT, before SIGKILL


class EmulatorProcess:
    """``python -m airflow_provider_segmentation.emulator <options>``, answering at ``url`` once constructed.

    As a context manager, leaving the block stops it.
    """

    def __init__(self, *options: str) -> None:
        with socket.socket() as sock:
            sock.bind((LOOPBACK, 0))
            port = sock.getsockname()[1]
        self.url = f"http://{LOOPBACK}:{port}"
        command = [sys.executable, "-m", "airflow_provider_segmentation.emulator"]
        command += ["--host", LOOPBACK, "--port", str(port), *options]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self._wait_until_answering()
        except BaseException:
            self.stop()
            raise

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                requests.get(f"{self.url}/_emulator/clock", timeout=1)
                return
            except (requests.ConnectionError, requests.Timeout):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the emulator exited with code {self.proc.returncode}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the emulator did not answer on {self.url}") from None
                time.sleep(0.05)

    def patch_settings(self, **settings: Any) -> None:
        """Change runtime settings, e.g. ``max_processing_segment_jobs`` (``PATCH /_emulator/settings``)."""
        requests.patch(f"{self.url}/_emulator/settings", json=settings, timeout=10).raise_for_status()

    def stop(self) -> None:
        """SIGINT, as Ctrl-C would; SIGKILL if it is still running after ``STOP_GRACE_SECONDS``."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
