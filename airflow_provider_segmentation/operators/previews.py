"""Size an audience before anything is activated: estimates with a size gate, and member previews."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import Context

from airflow_provider_segmentation.client import AEPAudienceSizeError, AEPError, AEPValidationError
from airflow_provider_segmentation.kinds import JobKind
from airflow_provider_segmentation.operators.base import AEPJobOperator

if TYPE_CHECKING:
    from airflow_provider_segmentation.client import Operation
    from airflow_provider_segmentation.models import Estimate, Preview


class _PreviewOperator(AEPJobOperator["Estimate"]):
    """Create a preview (which also starts its estimate) and wait for RESULT_READY."""

    template_fields: Sequence[str] = ("expression", "sandbox")
    job_kind = JobKind.ESTIMATE

    def __init__(
        self, *, expression: str, poll_interval: float = 5, timeout: float = 600, **kwargs: Any
    ) -> None:
        super().__init__(poll_interval=poll_interval, timeout=timeout, **kwargs)
        self.expression = expression

    def request(self, context: Context) -> Operation[Preview]:
        from airflow_provider_segmentation.client import SegmentationAPI

        return SegmentationAPI.create_preview.build(self.expression)

    def submit(self, context: Context, request: Operation[Any]) -> Estimate:
        preview: Preview = self.hook.client.execute(request)
        self.job_id = preview.preview_id
        return self.hook.client.get_estimate(preview.preview_id)

    def _ident(self, job: Estimate) -> str:
        assert self.job_id is not None
        return self.job_id

    def _cleanup(self) -> None:
        if self.job_id is None:
            return
        try:
            self.hook.client.delete_preview(self.job_id)
        except AEPError as exc:
            self.log.warning("Could not delete preview %s: %s", self.job_id, exc)


class AEPEstimateAudienceOperator(_PreviewOperator):
    """Estimate how many profiles a PQL expression selects, and fail outside ``[min_size, max_size]``.

    Returns ``{"preview_id", "estimated_size", "confidence_interval", "state"}``; the preview is deleted.
    """

    def __init__(self, *, min_size: int | None = None, max_size: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name, value in (("min_size", min_size), ("max_size", max_size)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise AEPValidationError(
                    f"{name} must be a whole number of profiles (0 or more) or None, got {value!r}",
                    field=name,
                )
        if min_size is not None and max_size is not None and min_size > max_size:
            raise AEPValidationError(
                f"min_size {min_size} is greater than max_size {max_size}", field="min_size"
            )
        self.min_size = min_size
        self.max_size = max_size

    def summarize(self, job: Estimate) -> dict[str, Any]:
        return {
            "preview_id": self.job_id,
            "estimated_size": job.estimated_size,
            "confidence_interval": job.confidence_interval,
            "state": job.state.value if job.state else None,
        }

    def finish(self, context: Context, job: Estimate) -> dict[str, Any]:
        self._cleanup()
        size = job.estimated_size or 0
        too_small = self.min_size is not None and size < self.min_size
        too_large = self.max_size is not None and size > self.max_size
        if too_small or too_large:
            raise AEPAudienceSizeError(
                f"the audience has an estimated {size} profiles, outside the allowed range "
                f"[{self.min_size if self.min_size is not None else 0}, "
                f"{self.max_size if self.max_size is not None else 'no limit'}]; nothing downstream runs"
            )
        self.log.info("Estimated audience size: %d profiles", size)
        return self.summarize(job)


class AEPPreviewAudienceOperator(_PreviewOperator):
    """Return the first qualifying profiles of a PQL expression (``max_members`` of them)."""

    def __init__(self, *, max_members: int = 20, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(max_members, bool) or not isinstance(max_members, int) or not 1 <= max_members <= 1000:
            raise AEPValidationError(
                f"max_members must be a whole number from 1 to 1000, got {max_members!r}", field="max_members"
            )
        self.max_members = max_members

    def summarize(self, job: Estimate) -> dict[str, Any]:
        return {"preview_id": self.job_id, "estimated_size": job.estimated_size, "members": []}

    def finish(self, context: Context, job: Estimate) -> dict[str, Any]:
        """Members go to XCom only (they are personal data); the log says how many, never who."""
        assert self.job_id is not None
        page = self.hook.client.get_preview(self.job_id, limit=self.max_members)
        members = page.results[: self.max_members]
        self._cleanup()
        self.log.info(
            "Preview %s: %d member profiles returned to XCom (estimated audience %s)",
            self.job_id,
            len(members),
            job.estimated_size,
        )
        return {"preview_id": self.job_id, "estimated_size": job.estimated_size, "members": members}
