"""Airflow's REST API v2 as the e2e suite drives it, and what one DAG run looked like through it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from tests.e2e.services import DeploymentError

TERMINAL_RUN_STATES = ("success", "failed")


class AirflowAPI:
    """The REST API v2 of the api-server, authenticated as the SimpleAuthManager user ``e2e``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.http.trust_env = False

    def login(self, username: str, password: str) -> None:
        """``POST /auth/token``: the JWT every further request carries as a bearer token."""
        response = self.http.post(
            f"{self.url}/auth/token", json={"username": username, "password": password}, timeout=30
        )
        if response.status_code != 201:
            raise DeploymentError(f"login failed: {response.status_code} {response.text}")
        self.http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def request(self, method: str, path: str, expect: Iterable[int] = (200,), **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.url}/api/v2{path}", timeout=60, **kwargs)
        if response.status_code not in tuple(expect):
            raise AssertionError(
                f"{method} /api/v2{path} answered {response.status_code}: {response.text[:2000]}"
            )
        return response.json() if response.content else None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    # -- what an operator does ------------------------------------------------------------------------
    def unpause(self, dag_id: str) -> None:
        dag = self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        assert dag["is_paused"] is False, dag

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """A manual run (``logical_date`` null); its run id."""
        run = self.request("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        return str(run["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.get(f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"))

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        body = self.get(
            f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances", params={"limit": 100}
        )
        return {ti["task_id"]: ti for ti in body["task_instances"]}

    def ti_path(self, dag_id: str, run_id: str, task_id: str) -> str:
        return f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}"

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        return dict(self.get(self.ti_path(dag_id, run_id, task_id)))

    def tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        return list(self.get(self.ti_path(dag_id, run_id, task_id) + "/tries")["task_instances"])

    def links(self, dag_id: str, run_id: str, task_id: str) -> dict[str, str | None]:
        return dict(self.get(self.ti_path(dag_id, run_id, task_id) + "/links")["extra_links"])

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        entry = self.get(self.ti_path(dag_id, run_id, task_id) + f"/xcomEntries/{key}")
        return entry["value"]

    def log_lines(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> list[str]:
        """The try's log as the UI shows it (the worker's and the triggerer's parts), one event a line."""
        body = self.get(
            self.ti_path(dag_id, run_id, task_id) + f"/logs/{try_number}",
            params={"full_content": "true"},
            headers={"Accept": "application/json"},
        )
        content = body["content"]
        if isinstance(content, str):
            return content.splitlines()
        return [str(line.get("event", line)) if isinstance(line, dict) else str(line) for line in content]

    def triggerer_job_ids(self) -> set[int]:
        return set(self.job_hostnames("TriggererJob"))

    def job_hostnames(self, job_type: str) -> dict[int, str]:
        """Every job of ``job_type`` (e.g. ``TriggererJob``), by id: the hostname of its process."""
        jobs = self.get("/jobs", params={"job_type": job_type, "limit": 100})["jobs"]
        return {int(job["id"]): str(job["hostname"]) for job in jobs}

    def clear(self, dag_id: str, run_id: str, task_ids: list[str]) -> list[dict[str, Any]]:
        body = self.request(
            "POST",
            f"/dags/{dag_id}/clearTaskInstances",
            json={
                "dry_run": False,
                "only_failed": False,
                "dag_run_id": run_id,
                "task_ids": task_ids,
                "include_upstream": False,
                "include_downstream": False,
            },
        )
        return list(body["task_instances"])

    def mark(self, dag_id: str, run_id: str, task_id: str, new_state: str) -> Any:
        return self.request("PATCH", self.ti_path(dag_id, run_id, task_id), json={"new_state": new_state})

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        timeout: float,
        on_poll: Callable[[dict[str, dict[str, Any]]], None] | None = None,
        interval: float = 0.5,
    ) -> str:
        """Poll the run (and, with ``on_poll``, its task instances) until it ends; its final state."""
        deadline = time.monotonic() + timeout
        while True:
            if on_poll is not None:
                on_poll(self.task_instances(dag_id, run_id))
            state = self.dag_run(dag_id, run_id)["state"]
            if state in TERMINAL_RUN_STATES:
                if on_poll is not None:
                    on_poll(self.task_instances(dag_id, run_id))
                return str(state)
            if time.monotonic() > deadline:
                tis = {k: v["state"] for k, v in self.task_instances(dag_id, run_id).items()}
                raise AssertionError(
                    f"run {run_id} of {dag_id} still {state} after {timeout:.0f} s; task states: {tis}"
                )
            time.sleep(interval)

    def wait_for_task_state(
        self, dag_id: str, run_id: str, task_id: str, states: Iterable[str], timeout: float
    ) -> dict[str, Any]:
        wanted = tuple(states)
        deadline = time.monotonic() + timeout
        seen: list[str | None] = []
        while True:
            ti = self.task_instance(dag_id, run_id, task_id)
            if not seen or seen[-1] != ti["state"]:
                seen.append(ti["state"])
            if ti["state"] in wanted:
                return ti
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{dag_id}.{task_id} in run {run_id} never reached {wanted} within {timeout:.0f} s; "
                    f"states seen: {seen}"
                )
            time.sleep(0.2)


@dataclass
class RunResult:
    """One manual DAG run, as the REST API showed it while it ran."""

    dag_id: str
    run_id: str | None = None
    state: str | None = None
    error: str | None = None
    seconds: float = 0.0
    # every distinct (state, trigger classpath, triggerer id) each task instance went through, in order
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    final: dict[str, dict[str, Any]] = field(default_factory=dict)

    def observe(self, tis: dict[str, dict[str, Any]]) -> None:
        self.final = tis
        for task_id, ti in tis.items():
            trigger = ti.get("trigger") or {}
            snapshot = {
                "state": ti["state"],
                "try_number": ti["try_number"],
                "trigger_classpath": trigger.get("classpath"),
                "triggerer_id": trigger.get("triggerer_id"),
            }
            seen = self.history.setdefault(task_id, [])
            if not seen or seen[-1] != snapshot:
                seen.append(snapshot)

    def describe(self) -> str:
        states = {task_id: ti["state"] for task_id, ti in self.final.items()}
        return f"run {self.run_id} of {self.dag_id}: {self.state} after {self.seconds:.0f} s; tasks {states}"
