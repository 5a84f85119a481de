"""Evaluation schedules (``/config/schedules``).

Each operation is declared once: what is sent (method, path, query, body) and how the answer is read.
``call``/``pages`` give it a sync face (client, hook) and an async face (async client) with the same
signature; input is checked here, before any HTTP call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_segmentation.client.api._common import (
    SCHEDULE_STATES,
    json_body,
    page_size,
    query_params,
    text,
)
from airflow_provider_segmentation.client.cron import validate_quartz_cron
from airflow_provider_segmentation.client.errors import AEPValidationError
from airflow_provider_segmentation.client.operations import (
    Operation,
    Page,
    call,
    pages,
    parse_model,
    segment,
    validate_choice,
    validate_ids,
)
from airflow_provider_segmentation.client.pagination import (
    by_page_next,
    parse_page,
)
from airflow_provider_segmentation.models import (
    Schedule,
)


class Schedules:
    """Evaluation schedules."""

    @pages
    def list_schedules(*, limit: int = 100) -> Operation[Page[Schedule]]:
        return Operation(
            "listSchedules",
            "GET",
            "/config/schedules",
            parse_page(Schedule, by_page_next, "children"),
            params=query_params(start=0, limit=page_size(limit)),
        )

    @call
    def create_schedule(
        name: str,
        *,
        cron: str,
        segments: Sequence[str] = ("*",),
        state: str = "inactive",
        schedule_type: str = "batch_segmentation",
    ) -> Operation[Schedule]:
        text(name, field_name="name")
        validate_quartz_cron(cron)
        validate_choice(state, SCHEDULE_STATES, field_name="state")
        body = {
            "name": name,
            "type": schedule_type,
            "properties": {"segments": validate_ids(segments, field_name="segments")},
            "schedule": cron,
            "state": state,
        }
        return Operation(
            "createSchedule",
            "POST",
            "/config/schedules",
            parse_model(Schedule),
            body=json_body(body, field_name="schedule"),
            creates=True,
        )

    @call
    def get_schedule(schedule_id: str) -> Operation[Schedule]:
        return Operation(
            "retrieveSchedule",
            "GET",
            f"/config/schedules/{segment(schedule_id, field_name='schedule_id')}",
            parse_model(Schedule),
        )

    @call
    def update_schedule(
        schedule_id: str, *, state: str | None = None, cron: str | None = None
    ) -> Operation[None]:
        """JSON Patch, ``op: add`` on ``/state`` and/or ``/schedule`` as the spec allows; AEP answers 204."""
        patch: list[dict[str, Any]] = []
        if state is not None:
            patch.append(
                {
                    "op": "add",
                    "path": "/state",
                    "value": validate_choice(state, SCHEDULE_STATES, field_name="state"),
                }
            )
        if cron is not None:
            patch.append({"op": "add", "path": "/schedule", "value": validate_quartz_cron(cron)})
        if not patch:
            raise AEPValidationError("update_schedule needs state and/or cron", field="state")
        return Operation(
            "updateSchedule",
            "PATCH",
            f"/config/schedules/{segment(schedule_id, field_name='schedule_id')}",
            lambda response, _op: None,
            body=json_body(patch, field_name="patch"),
        )

    @call
    def delete_schedule(schedule_id: str) -> Operation[None]:
        return Operation(
            "deleteSchedule",
            "DELETE",
            f"/config/schedules/{segment(schedule_id, field_name='schedule_id')}",
            lambda response, _op: None,
        )
