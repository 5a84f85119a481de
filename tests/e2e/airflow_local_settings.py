"""Airflow's local settings for the e2e deployment's processes (``tests/e2e`` is on their PYTHONPATH).

* ``task_policy`` routes every ``export_*`` task to the queue that only the second Celery worker serves,
  so that each run of the audience pipeline has tasks on both workers (what a deployment does to send
  heavy tasks to dedicated workers), and the suite can check that they share nothing but the connection.
* ``hostname`` (``[core] hostname_callable``) names each process as if it ran on its own machine: the
  REST API then tells the two workers' task instances and the two triggerers' jobs apart.
"""

from __future__ import annotations

import os
import socket
from typing import Any

EXPORT_QUEUE = "aep_exports"


def task_policy(task: Any) -> None:
    if task.task_id.startswith("export_"):
        task.queue = EXPORT_QUEUE


def hostname() -> str:
    return os.environ.get("AEP_E2E_HOSTNAME") or socket.getfqdn()
