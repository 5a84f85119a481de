"""Run and cancel segment jobs (on-demand batch evaluation of segment definitions)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_segmentation.client.errors import AEPValidationError
from airflow_provider_segmentation.client.operations import validate_ids
from airflow_provider_segmentation.hooks.segmentation import is_template
from airflow_provider_segmentation.links import AEPSegmentJobLink
from airflow_provider_segmentation.models import SegmentJob
from airflow_provider_segmentation.operators.base import AEPBaseOperator, AEPJobOperator, resolve_ids


def segment_job_summary(job: SegmentJob) -> dict[str, Any]:
    """The JSON-serializable result of a segment job: id, status, counts per segment, duration."""
    metrics = job.metrics
    counts: dict[str, dict[str, int]] = {}
    for segment_id in job.segment_ids:
        by_status = (metrics.segmented_profile_by_status_counter.get(segment_id) if metrics else None) or {}
        counts[segment_id] = {
            "realized": int(by_status.get("realized", 0)),
            "existing": int(by_status.get("existing", 0)),
            "exited": int(by_status.get("exited", 0)),
            "total": int(metrics.segmented_profile_counter.get(segment_id, 0) if metrics else 0),
        }
    total_time = (metrics.total_time or {}) if metrics else {}
    duration_ms = total_time.get("totalTimeInMs")
    return {
        "job_id": job.id,
        "status": getattr(job.status, "value", job.status),
        "segment_counts": counts,
        "total_profiles": (metrics.total_profiles if metrics else None) or 0,
        "duration_seconds": round(duration_ms / 1000, 3) if isinstance(duration_ms, int | float) else None,
    }


class AEPRunSegmentJobOperator(AEPJobOperator[SegmentJob]):
    """Evaluate segment definitions now, by ids or by exact names, and wait for the result.

    Returns ``{"job_id", "status", "segment_counts": {segment_id: {realized, existing, exited, total}},
    "total_profiles", "duration_seconds"}``.

    :param segment_ids: ids of the definitions to evaluate (at most 1,500)
    :param segment_names: exact names instead of ids (resolved before any job is created)
    """

    template_fields: Sequence[str] = ("segment_ids", "segment_names", "sandbox")
    operator_extra_links = (AEPSegmentJobLink(),)
    job_kind = "segment_job"
    link_kind = "segment_job"
    state_store_key = "aep_segment_job_id"

    def __init__(
        self,
        *,
        segment_ids: Sequence[str] | None = None,
        segment_names: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (segment_ids is None) == (segment_names is None):
            raise AEPValidationError("pass exactly one of segment_ids and segment_names", field="segment_ids")
        for name, value in (("segment_ids", segment_ids), ("segment_names", segment_names)):
            if value is not None and not is_template(value):
                validate_ids(value, field_name=name)
        self.segment_ids = segment_ids
        self.segment_names = segment_names

    def submit(self, context: Any) -> SegmentJob:
        ids = resolve_ids(self.hook, self.segment_ids, self.segment_names)
        return self.hook.create_segment_job(validate_ids(ids, field_name="segment_ids"))

    def fetch(self, job_id: str) -> SegmentJob:
        return self.hook.get_segment_job(job_id)

    def cancel(self, job_id: str) -> None:
        self.hook.cancel_segment_job(job_id)

    def summarize(self, job: SegmentJob) -> dict[str, Any]:
        return segment_job_summary(job)


class AEPCancelSegmentJobOperator(AEPBaseOperator):
    """Ask AEP to cancel a segment job (it goes CANCELLING, then CANCELLED)."""

    template_fields: Sequence[str] = ("job_id", "sandbox")

    def __init__(self, *, job_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id

    def execute(self, context: Any) -> dict[str, Any]:
        self.hook.cancel_segment_job(self.job_id)
        job = self.hook.get_segment_job(self.job_id)
        return {"job_id": self.job_id, "status": getattr(job.status, "value", job.status)}
