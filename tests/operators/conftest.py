"""A task context for running operators outside a scheduler: mock only what cannot go over the wire."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock

from tests.compat import BaseHook, get_connection_off_the_loop


class RecordingTaskInstance:
    """Stands in for Airflow's task instance: records XCom pushes, carries the try number."""

    def __init__(self, try_number: int = 1) -> None:
        self.try_number = try_number
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


class MemoryTaskStateStore:
    """Airflow 3.3's ``task_state_store``: survives across tries of the same task instance."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.values[key] = value


def make_context(store: MemoryTaskStateStore | None = None, try_number: int = 1) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    context: dict[str, Any] = {
        "ti": RecordingTaskInstance(try_number),
        "data_interval_start": now - timedelta(hours=1),
        "data_interval_end": now,
    }
    if store is not None:
        context["task_state_store"] = store
    return context


FORBIDDEN = "synchronous get_connection called from a trigger"


async def run_trigger(trigger: Any) -> dict[str, Any]:
    """Drive a trigger to its single event, as the triggerer would: no synchronous connection lookups."""
    with mock.patch.object(BaseHook, "get_connection", get_connection_off_the_loop(FORBIDDEN)):
        events = [event async for event in trigger.run()]
    assert len(events) == 1
    return dict(events[0].payload)
