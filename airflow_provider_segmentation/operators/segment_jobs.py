"""Run and cancel segment jobs (on-demand batch evaluation of segment definitions)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import Context

from airflow_provider_segmentation.assets import emit_size_events
from airflow_provider_segmentation.client import AEPValidationError, validate_ids, validate_names
from airflow_provider_segmentation.kinds import JobKind
from airflow_provider_segmentation.links import AEPSegmentJobLink
from airflow_provider_segmentation.mixins import is_template
from airflow_provider_segmentation.operators.base import AEPBaseOperator, AEPJobOperator

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_segmentation.client import Operation, SegmentationClient
    from airflow_provider_segmentation.models import SegmentJob


class AEPRunSegmentJobOperator(AEPJobOperator["SegmentJob"]):
    """Evaluate segment definitions now, by ids or by exact names, and wait for the result.

    Returns ``{"job_id", "status", "segment_counts": {segment_id: {realized, existing, exited, total}},
    "total_profiles", "duration_seconds"}``.

    :param segment_ids: ids of the definitions to evaluate (at most 1,500)
    :param segment_names: exact names instead of ids (resolved before any job is created)
    """

    template_fields: Sequence[str] = ("segment_ids", "segment_names", "sandbox")
    operator_extra_links = (AEPSegmentJobLink(),)
    job_kind = JobKind.SEGMENT_JOB

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
        if segment_ids is not None and not is_template(segment_ids):
            validate_ids(segment_ids, field_name="segment_ids")
        if segment_names is not None and not is_template(segment_names):
            validate_names(segment_names)
        self.segment_ids = segment_ids
        self.segment_names = segment_names
        self.submitted_ids: list[str] = []
        self.finished_job: dict[str, Any] | None = None

    def request(self, context: Context) -> Operation[SegmentJob]:
        from airflow_provider_segmentation.client import SegmentationAPI

        self.submitted_ids = resolve_ids(self.hook.client, self.segment_ids, self.segment_names)
        return SegmentationAPI.create_segment_job.build(self.submitted_ids)

    def finish(self, context: Context, job: SegmentJob) -> Any:
        self.finished_job = self.summarize(job)
        self.submitted_ids = job.segment_ids or self.submitted_ids
        sizes = {i: c["total"] for i, c in self.finished_job["segment_counts"].items()}
        emit_size_events(context, self.outlets, self.hook.config.sandbox, job.id, sizes)
        return self.finished_job

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """OpenLineage: the definitions in, the audiences out, their counts, the job id and AEP link."""
        from airflow_provider_segmentation.lineage import segment_job_lineage

        ids = self.submitted_ids or [str(s) for s in self.segment_ids or []]
        return segment_job_lineage(
            config=self.hook.config, job_id=self.job_id, segment_ids=ids, result=self.finished_job
        )


class AEPCancelSegmentJobOperator(AEPBaseOperator):
    """Ask AEP to cancel a segment job (it goes CANCELLING, then CANCELLED)."""

    template_fields: Sequence[str] = ("job_id", "sandbox")

    def __init__(self, *, job_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id

    def execute(self, context: Context) -> dict[str, Any]:
        self.hook.client.cancel_segment_job(self.job_id)
        job = self.hook.client.get_segment_job(self.job_id)
        return {"job_id": self.job_id, "status": job.status.value}


def resolve_ids(
    client: SegmentationClient, ids: Sequence[str] | None, names: Sequence[str] | None
) -> list[str]:
    """Segment ids from the rendered ``segment_ids``, or from exact definition names (exactly one of the
    two is given). The rendered value itself is checked: ``[None]``, a plain string or ``[]`` is refused."""
    if names is None:  # by ids, whatever ``segment_ids`` rendered to (None too: it is refused)
        return validate_ids(ids, field_name="segment_ids")
    wanted = validate_names(names)
    found: dict[str, str] = {}
    for definition in client.list_segment_definitions():
        if definition.name in wanted and definition.id:
            found.setdefault(definition.name, definition.id)
    missing = [n for n in wanted if n not in found]
    if missing:
        raise AEPValidationError(
            f"no segment definition named {', '.join(map(repr, missing))} in sandbox "
            f"{client.config.sandbox!r}; no job was started",
            field="segment_names",
        )
    return [found[n] for n in wanted]
