"""Helpers for the asset and event-trigger tests: a state store, and a trigger run in the background."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest

from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.triggers.events import AEPJobFinishedTrigger
from airflow_provider_segmentation.triggers.watch_state import WatchState
from tests.compat import BaseHook, get_connection_off_the_loop


class MemoryAssetStore:
    """One asset's ``asset_state_store`` accessor as the triggerer injects it: JSON values by key."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.fail_writes = 0  # the next N writes raise, as a lost supervisor round trip would

    async def aget(self, key: str, default: Any = None) -> Any:
        return copy.deepcopy(self.values.get(key, default))

    async def aset(self, key: str, value: Any) -> None:
        if self.fail_writes:
            self.fail_writes -= 1
            raise RuntimeError("the supervisor did not answer")
        self.values[key] = json.loads(json.dumps(value))  # JSON only, like the metadata database

    def state(self, trigger: AEPJobFinishedTrigger) -> WatchState | None:
        return WatchState.from_json(self.values.get(trigger.state_key))


FORBIDDEN = "synchronous get_connection called from a trigger"


class Watching:
    """``trigger.run()`` in a background task, as the triggerer runs a watcher; its events collected."""

    def __init__(self, trigger: AEPJobFinishedTrigger) -> None:
        self.trigger = trigger
        self.events: list[dict[str, Any]] = []
        self.task: asyncio.Task[None] | None = None

    async def _drain(self) -> None:
        async for event in self.trigger.run():
            self.events.append(dict(event.payload))

    async def __aenter__(self) -> Watching:
        self._patch = mock.patch.object(BaseHook, "get_connection", get_connection_off_the_loop(FORBIDDEN))
        self._patch.start()
        self.task = asyncio.create_task(self._drain())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        if self.task.done():
            self.task.result()  # a trigger that stopped by itself is a failure: show why
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self._patch.stop()

    async def until(self, what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert self.task is not None
            if self.task.done():
                self.task.result()
                raise AssertionError(f"the trigger stopped before {what}")
            assert time.monotonic() < deadline, f"timed out waiting for {what}; events {self.events}"
            await asyncio.sleep(0.02)

    async def events_after(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        await self.until(f"{count} event(s)", lambda: len(self.events) >= count, timeout)
        return self.events


@pytest.fixture
def hook(aep_conn: str) -> SegmentationHook:
    """The test's own hook, its connection read before any trigger runs (which forbids sync lookups)."""
    created = SegmentationHook()
    assert created.config.sandbox == "prod"
    return created


async def finished(hook: SegmentationHook, job_id: str, kind: str = "segment", timeout: float = 30.0) -> None:
    """Wait (without blocking the loop) until AEP reports the job terminal."""
    get = hook.client.get_segment_job if kind == "segment" else hook.client.get_export_job
    deadline = time.monotonic() + timeout
    while True:
        job = await asyncio.to_thread(get, job_id)
        if job.status.is_terminal:
            return
        assert time.monotonic() < deadline, f"{kind} job {job_id} never finished"
        await asyncio.sleep(0.05)
