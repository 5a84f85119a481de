"""Export the members of audiences into a dataset (``POST /export/jobs``) and wait for the batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import Context

from airflow_provider_segmentation.assets import emit_export_event, export_outlet
from airflow_provider_segmentation.kinds import JobKind
from airflow_provider_segmentation.links import AEPExportJobLink
from airflow_provider_segmentation.mixins import is_template
from airflow_provider_segmentation.operators.base import AEPJobOperator

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_segmentation.client import Operation
    from airflow_provider_segmentation.models import ExportJob

TO_BE_RENDERED = "to-be-rendered"  # stands in for a templated id while the known arguments are checked


class AEPExportAudienceOperator(AEPJobOperator["ExportJob"]):
    """Write the profiles of segments into a dataset on the Profile union schema.

    Returns ``{"job_id", "status", "batch_ids", "exported_profiles", "dataset_id"}``.

    :param segment_ids: segments whose members to export
    :param dataset_id: destination dataset (Profile union schema)
    :param fields: comma-separated XDM fields to keep (all when None)
    :param status: member statuses to export (default realized and existing)
    :param merge_policy_id: merge policy (default: each segment's own)
    :param segment_per_batch: one batch per segment instead of one batch
    :param evaluate_first: evaluate the segments as part of the export
    :param emit_asset_event: declare the dataset's Asset (``aep://<sandbox>/datasets/<id>``) as an outlet
        and emit an event on it when the export succeeded, with ``job_id``, ``segment_ids`` and
        ``exported_profiles`` as extra (through the ``aep-dataset-exports`` alias when the dataset or
        sandbox is only known at run time). Not with ``wait_for_completion=False``: nothing has landed yet.
    """

    template_fields: Sequence[str] = ("segment_ids", "dataset_id", "fields", "merge_policy_id", "sandbox")
    operator_extra_links = (AEPExportJobLink(),)
    job_kind = JobKind.EXPORT_JOB

    def __init__(
        self,
        *,
        segment_ids: Sequence[str],
        dataset_id: str,
        fields: str | None = None,
        status: Sequence[str] = ("realized", "existing"),
        merge_policy_id: str | None = None,
        segment_per_batch: bool = False,
        evaluate_first: bool = False,
        emit_asset_event: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.segment_ids = segment_ids
        self.dataset_id = dataset_id
        self.fields = fields
        self.status = status
        self.merge_policy_id = merge_policy_id
        self.segment_per_batch = segment_per_batch
        self.evaluate_first = evaluate_first
        # What is known now is checked now, by the client's own rules; a template once it is rendered.
        self.build_request(
            [TO_BE_RENDERED] if is_template(segment_ids) else segment_ids,
            TO_BE_RENDERED if is_template(dataset_id) else dataset_id,
        )
        self.emit_asset_event = emit_asset_event and self.wait_for_completion
        if self.emit_asset_event:
            self.outlets = [*self.outlets, export_outlet(self.sandbox, dataset_id)]
        self.finished_export: dict[str, Any] | None = None

    def build_request(self, segment_ids: Sequence[str], dataset_id: str) -> dict[str, Any]:
        """The export's body, checked by the client's ``export_request`` before any HTTP call (imported
        here: the check needs the client's request building, which a DAG file's import does not)."""
        from airflow_provider_segmentation.client import export_request

        return export_request(
            segment_ids,
            dataset_id,
            fields=self.fields,
            status=self.status,
            merge_policy_id=self.merge_policy_id,
            segment_per_batch=self.segment_per_batch,
            evaluate_first=self.evaluate_first,
        )

    def request(self, context: Context) -> Operation[ExportJob]:
        from airflow_provider_segmentation.client import SegmentationAPI

        return SegmentationAPI.create_export_job.build(self.build_request(self.segment_ids, self.dataset_id))

    def summarize(self, job: ExportJob) -> dict[str, Any]:
        return {**job.summary(), "dataset_id": job.summary()["dataset_id"] or self.dataset_id}

    def finish(self, context: Context, job: ExportJob) -> Any:
        summary = self.summarize(job)
        self.finished_export = summary
        if self.emit_asset_event:
            extra = {
                "job_id": summary["job_id"],
                "sandbox": self.hook.config.sandbox,
                "dataset_id": summary["dataset_id"],
                "segment_ids": [str(s) for s in self.segment_ids],
                "exported_profiles": summary["exported_profiles"],
                "batch_ids": summary["batch_ids"],
            }
            if len(extra["segment_ids"]) == 1 and set(self.status) == {"realized", "existing"}:
                # one audience's members: its size (AEP reports no per-audience count for an export)
                extra["segment_sizes"] = {extra["segment_ids"][0]: summary["exported_profiles"]}
            asset = emit_export_event(
                context, self.outlets, self.hook.config.sandbox, summary["dataset_id"], extra
            )
            if asset is not None:
                self.log.info("Asset event for %s: export job %s", asset.uri, summary["job_id"])
        return summary

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """OpenLineage: the audiences in, the dataset out, the job id and AEP link (see ``lineage``)."""
        from airflow_provider_segmentation.lineage import export_lineage

        return export_lineage(
            config=self.hook.config,
            job_id=self.job_id,
            segment_ids=[str(s) for s in self.segment_ids],
            dataset_id=str(self.dataset_id),
            result=self.finished_export,
        )
