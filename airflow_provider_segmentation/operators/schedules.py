"""Daily evaluation schedules: create-or-update by name, change state and cron, delete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import Context

from airflow_provider_segmentation.client import (
    AEPConflictError,
    AEPNotFoundError,
    AEPValidationError,
    check_choice,
)
from airflow_provider_segmentation.operators.base import AEPBaseOperator
from airflow_provider_segmentation.operators.segment_definitions import IF_EXISTS

if TYPE_CHECKING:
    from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
    from airflow_provider_segmentation.models import Schedule

STATES = ("active", "inactive")


def nightly_schedule(hook: SegmentationHook) -> Schedule:
    """The sandbox's nightly batch evaluation: its active ``batch_segmentation`` schedule (one listing).

    With several (Flexible Batch Schedules), the one for every audience (``segments: ["*"]``); if that
    does not decide it, an error naming them (pass ``schedule_id``). Evaluating with it spends none of
    the on-demand allowance (the nightly job does not count, [S-FAE]).
    """
    active = [
        s for s in hook.client.list_schedules() if s.type == "batch_segmentation" and s.state == "active"
    ]
    if len(active) > 1:
        active = [s for s in active if s.properties.get("segments") == ["*"]] or active
    if len(active) == 1:
        return active[0]
    found = ", ".join(f"{s.id} ({s.name!r})" for s in active) or "none"
    raise AEPNotFoundError(
        f"cannot tell the nightly batch evaluation schedule of sandbox {hook.config.sandbox!r}: active "
        f"batch_segmentation schedules: {found}. Pass schedule_id, or create one with "
        "AEPUpsertScheduleOperator(segments=['*'], state='active')"
    )


def schedule_summary(schedule: Schedule, action: str) -> dict[str, Any]:
    return {
        "id": schedule.id,
        "name": schedule.name,
        "state": schedule.state.value if schedule.state else None,
        "cron": schedule.schedule,
        "segments": schedule.properties.get("segments"),
        "action": action,
    }


class AEPUpsertScheduleOperator(AEPBaseOperator):
    """Create a batch segmentation schedule, or align the one with the same name (state and cron).

    :param cron: Quartz cron in UTC, e.g. ``0 0 1 * * ?`` (01:00 every day)
    :param segments: segment ids, or ``["*"]`` for all
    """

    template_fields: Sequence[str] = ("name", "cron", "segments", "state", "sandbox")

    def __init__(
        self,
        *,
        name: str,
        cron: str,
        segments: Sequence[str] = ("*",),
        state: str = "active",
        if_exists: str = "update",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.cron = cron
        self.segments = segments
        self.state = state
        self.if_exists = check_choice(if_exists, IF_EXISTS, field_name="if_exists")

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_segmentation.client import SegmentationAPI

        check_choice(self.state, STATES, field_name="state")
        # the create is built (every rendered value checked) before anything is asked of AEP
        create = SegmentationAPI.create_schedule.build(
            self.name, cron=self.cron, segments=self.segments, state=self.state
        )
        existing = next((s for s in self.hook.client.list_schedules() if s.name == self.name), None)
        if existing is None:
            return schedule_summary(self.hook.client.execute(create), "created")
        if self.if_exists == "fail":
            raise AEPConflictError(f"a schedule named {self.name!r} already exists ({existing.id})")
        if self.if_exists == "skip":
            return schedule_summary(existing, "skipped")
        state = self.state if existing.state != self.state else None
        cron = self.cron if existing.schedule != self.cron else None
        if state is None and cron is None:
            return schedule_summary(existing, "unchanged")
        self.hook.client.update_schedule(existing.id, state=state, cron=cron)
        return schedule_summary(self.hook.client.get_schedule(existing.id), "updated")


class AEPUpdateScheduleOperator(AEPBaseOperator):
    """Activate or deactivate a schedule and/or change its Quartz cron (JSON Patch, ``PATCH /schedule``).

    Without ``schedule_id`` it updates the sandbox's nightly batch evaluation (``nightly_schedule``):
    ``AEPUpdateScheduleOperator(task_id=..., cron="0 0 3 * * ?")`` moves the nightly evaluation to 03:00
    UTC. AEP runs a schedule at most once a day.
    """

    template_fields: Sequence[str] = ("schedule_id", "state", "cron", "sandbox")

    def __init__(
        self,
        *,
        schedule_id: str | None = None,
        state: str | None = None,
        cron: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if state is None and cron is None:
            raise AEPValidationError("pass state and/or cron", field="state")
        self.schedule_id = schedule_id
        self.state = state
        self.cron = cron

    def execute(self, context: Context) -> dict[str, Any]:
        schedule_id = self.schedule_id or nightly_schedule(self.hook).id
        self.hook.client.update_schedule(schedule_id, state=self.state, cron=self.cron)
        return schedule_summary(self.hook.client.get_schedule(schedule_id), "updated")


class AEPDeleteScheduleOperator(AEPBaseOperator):
    """Delete a schedule; with ``missing_ok`` a schedule that is already gone is not an error."""

    template_fields: Sequence[str] = ("schedule_id", "sandbox")

    def __init__(self, *, schedule_id: str, missing_ok: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.schedule_id = schedule_id
        self.missing_ok = missing_ok

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            self.hook.client.delete_schedule(self.schedule_id)
        except AEPNotFoundError:
            if not self.missing_ok:
                raise
            return {"id": self.schedule_id, "deleted": False}
        return {"id": self.schedule_id, "deleted": True}
