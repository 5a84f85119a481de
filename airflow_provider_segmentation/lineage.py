"""OpenLineage facets of segment jobs and exports (the ``openlineage`` extra).

Imported only by the operators' ``get_openlineage_facets_on_complete``, which only the OpenLineage
provider calls: the provider works without ``apache-airflow-providers-openlineage`` installed.

Names follow the ``aep://`` asset scheme (see ``assets``): namespace ``aep://<sandbox>``, name
``<kind>/<id>``, so that the dataset an export writes is the same OpenLineage dataset as the Airflow
asset ``aep://<sandbox>/datasets/<id>`` that consumer DAGs schedule on.

=================  ===================================  ======================================
task               inputs                               outputs
=================  ===================================  ======================================
segment job        ``segments/<id>`` (the definitions)  ``audiences/<id>`` (their members, with
                                                        the member count as output statistics)
export             ``audiences/<id>``                   ``datasets/<id>`` (profiles exported as
                                                        output statistics)
=================  ===================================  ======================================

Run facets: ``externalQuery`` (the AEP job id, source ``aep://<sandbox>``) and ``aepSegmentation``
(job kind, id and status, IMS org, sandbox, the AEP UI link, the audiences with their counts, and for
an export the dataset, batches and exported profiles). The org is in this facet, not in the names:
asset URIs are written when a DAG is parsed, where the org is not known.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attr
from airflow.providers.common.compat.openlineage.facet import (
    Dataset,
    ExternalQueryRunFacet,
    OutputDataset,
    OutputStatisticsOutputDatasetFacet,
    RunFacet,
)
from airflow.providers.openlineage.extractors import OperatorLineage

from airflow_provider_segmentation import __version__
from airflow_provider_segmentation.assets import openlineage_namespace
from airflow_provider_segmentation.client import ClientConfig
from airflow_provider_segmentation.links import ui_url

FACET_NAME = "aepSegmentation"
# Not a fetchable document: this package publishes no JSON schema; the URN names the facet and version.
FACET_SCHEMA = f"urn:airflow-provider-segmentation:openlineage:AEPSegmentationRunFacet:{__version__}"


@attr.define
class AEPSegmentationRunFacet(RunFacet):
    """What AEP did in this run: the job, where to see it, and the audiences it touched (camelCase field
    names, as OpenLineage facets have)."""

    jobKind: str
    jobId: str | None
    status: str | None
    imsOrgId: str
    sandbox: str
    uiUrl: str | None
    audiences: list[dict[str, Any]] = attr.field(factory=list)
    datasetId: str | None = attr.field(default=None)
    batchIds: list[str] | None = attr.field(default=None)
    exportedProfiles: int | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return FACET_SCHEMA


def aep_dataset(sandbox: str, kind: str, ident: str) -> Dataset:
    return Dataset(namespace=openlineage_namespace(sandbox), name=f"{kind}/{ident}")


def aep_output(sandbox: str, kind: str, ident: str, *, rows: int | None) -> OutputDataset:
    """An output dataset, with its row count (members, profiles) as output statistics when known."""
    output = OutputDataset(namespace=openlineage_namespace(sandbox), name=f"{kind}/{ident}")
    if rows is not None:
        output.outputFacets = {"outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=rows)}
    return output


def _run_facets(config: ClientConfig, job_id: str | None, facet: AEPSegmentationRunFacet) -> dict[str, Any]:
    facets: dict[str, Any] = {FACET_NAME: facet}
    if job_id:
        facets["externalQuery"] = ExternalQueryRunFacet(
            externalQueryId=job_id, source=openlineage_namespace(config.sandbox)
        )
    return facets


def _link(config: ClientConfig, kind: str, job_id: str | None) -> str | None:
    return ui_url(config, kind, job_id) if job_id else None


def segment_job_lineage(
    *, config: ClientConfig, job_id: str | None, segment_ids: Sequence[str], result: dict[str, Any] | None
) -> OperatorLineage:
    """Definitions in, audiences out (with member counts once the job succeeded)."""
    counts: dict[str, dict[str, int]] = (result or {}).get("segment_counts") or {}
    sandbox = config.sandbox
    outputs = []
    for segment_id in segment_ids:
        total = counts.get(segment_id, {}).get("total")
        outputs.append(aep_output(sandbox, "audiences", segment_id, rows=total))
    facet = AEPSegmentationRunFacet(
        jobKind="segment_job",
        jobId=job_id,
        status=(result or {}).get("status"),
        imsOrgId=config.org_id,
        sandbox=sandbox,
        uiUrl=_link(config, "segment_job", job_id),
        audiences=[{"segmentId": s, **counts.get(s, {})} for s in segment_ids],
    )
    return OperatorLineage(
        inputs=[aep_dataset(sandbox, "segments", s) for s in segment_ids],
        outputs=outputs,
        run_facets=_run_facets(config, job_id, facet),
    )


def export_lineage(
    *,
    config: ClientConfig,
    job_id: str | None,
    segment_ids: Sequence[str],
    dataset_id: str,
    result: dict[str, Any] | None,
) -> OperatorLineage:
    """Audiences in, the dataset out (with the exported profiles once the export succeeded)."""
    sandbox = config.sandbox
    exported = (result or {}).get("exported_profiles")
    facet = AEPSegmentationRunFacet(
        jobKind="export_job",
        jobId=job_id,
        status=(result or {}).get("status"),
        imsOrgId=config.org_id,
        sandbox=sandbox,
        uiUrl=_link(config, "export_job", job_id),
        audiences=[{"segmentId": s} for s in segment_ids],
        datasetId=dataset_id,
        batchIds=list((result or {}).get("batch_ids") or []) or None,
        exportedProfiles=exported,
    )
    return OperatorLineage(
        inputs=[aep_dataset(sandbox, "audiences", s) for s in segment_ids],
        outputs=[aep_output(sandbox, "datasets", dataset_id, rows=exported)],
        run_facets=_run_facets(config, job_id, facet),
    )
