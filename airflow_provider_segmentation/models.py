"""Pydantic models of the Segmentation Service's resources, and their status enums.

Readers are tolerant: unknown fields are kept (``extra="allow"``), wire names are camelCase aliases of
snake_case attributes, export job ids may be numbers, timestamps may be seconds, milliseconds or
microseconds, and status values this package does not know are kept as plain strings.
No Airflow import here: the client, the hook and the emulator all share these.

Over ~400 lines on purpose: one purpose (the wire models, one short class per resource), and a class's
module path is its identity wherever it is serialized by class path (pickles, XComs of a returned
model), so splitting it into a package would move every class for no gain in reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from airflow_provider_segmentation.kinds import JobKind as JobKind


class TolerantStatus(str, Enum):
    """A status enum that also holds values AEP may add later: an unknown one becomes a member of its
    own (not terminal, not success), so fields are typed once, as the enum, and never ``Enum | str``."""

    @classmethod
    def _missing_(cls, value: object) -> TolerantStatus | None:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    @property
    def is_known(self) -> bool:
        return self.name in type(self).__members__

    @property
    def is_terminal(self) -> bool:
        return False

    @property
    def is_success(self) -> bool:
        return False


class SegmentJobStatus(TolerantStatus):
    """Segment job statuses; NEW, QUEUED, PROCESSING and CANCELLING are active."""

    NEW = "NEW"
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    CANCELLING = "CANCELLING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        return self in (SegmentJobStatus.SUCCEEDED, SegmentJobStatus.FAILED, SegmentJobStatus.CANCELLED)

    @property
    def is_success(self) -> bool:
        return self is SegmentJobStatus.SUCCEEDED


class ExportJobStatus(TolerantStatus):
    """Export job statuses. AEP does not document the status after a cancel; unknown ones stay active."""

    NEW = "NEW"
    PROCESSING = "PROCESSING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        return self in (ExportJobStatus.SUCCEEDED, ExportJobStatus.FAILED)

    @property
    def is_success(self) -> bool:
        return self is ExportJobStatus.SUCCEEDED


class PreviewState(TolerantStatus):
    """States shared by previews and estimates."""

    NEW = "NEW"
    RUNNING = "RUNNING"
    RESULT_READY = "RESULT_READY"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        return self in (PreviewState.RESULT_READY, PreviewState.FAILED)

    @property
    def is_success(self) -> bool:
        return self is PreviewState.RESULT_READY


class EventStatus(str, Enum):
    """How a wait in the triggerer ended. Only ``FAILED``/``CANCELLED`` mean AEP said the job failed."""

    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    POLL_ERROR = "poll_error"


@dataclass(frozen=True)
class JobEvent:
    """What a trigger reports to the task: small on purpose (Airflow logs and stores every event).

    ``watched_id`` is the id the trigger was given (job, preview or schedule id); ``job_id`` is the AEP
    job the event is about (for a schedule, the run that was found); ``job_status`` is AEP's own word.
    """

    kind: JobKind
    watched_id: str
    status: EventStatus
    message: str
    job_id: str | None = None
    job_status: str | None = None
    errors: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "watched_id": self.watched_id,
            "status": self.status.value,
            "message": self.message,
            "job_id": self.job_id,
            "job_status": self.job_status,
            "errors": [dict(e) for e in self.errors],
        }

    @classmethod
    def from_dict(cls, data: Any) -> JobEvent:
        """Read an event back; ``ValueError`` names what is missing or unknown."""
        if not isinstance(data, dict):
            raise ValueError(f"the trigger returned no event (got {data!r})")
        try:
            return cls(
                kind=JobKind(data.get("kind")),
                watched_id=str(data["watched_id"]),
                status=EventStatus(data.get("status")),
                message=str(data.get("message") or ""),
                job_id=None if data.get("job_id") is None else str(data["job_id"]),
                job_status=data.get("job_status"),
                errors=tuple(dict(e) for e in data.get("errors") or () if isinstance(e, dict)),
            )
        except (KeyError, ValueError) as exc:
            raise ValueError(
                f"the trigger returned an event this package cannot read ({exc}): {data!r}"
            ) from None


class ScheduleState(TolerantStatus):
    ACTIVE = "active"
    INACTIVE = "inactive"


def epoch_to_datetime(value: float | int | str | None) -> datetime | None:
    """Read an AEP epoch timestamp whatever its unit: seconds, milliseconds or microseconds."""
    if value is None or value == "":
        return None
    number = float(value)
    if number > 1e14:
        number /= 1e6
    elif number > 1e11:
        number /= 1e3
    return datetime.fromtimestamp(number, tz=timezone.utc)


class AEPModel(BaseModel):
    """Base of every resource model: camelCase on the wire, unknown fields kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, alias_generator=to_camel)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serializable dict in AEP's own field names (for XCom and logs)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class PqlExpression(AEPModel):
    type: str = "PQL"
    format: str = "pql/text"
    value: str = ""


class SchemaRef(AEPModel):
    name: str | None = None
    id: str | None = None


class JobError(AEPModel):
    """One entry of a job's ``errors[]``."""

    code: str | None = None
    msg: str | None = None
    call_stack: str | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _code_as_text(cls, value: Any) -> Any:
        return None if value is None else str(value)


class SegmentDefinition(AEPModel):
    id: str | None = None
    name: str = ""
    description: str | None = None
    expression: PqlExpression | None = None
    schema_: SchemaRef | None = Field(default=None, alias="schema")
    evaluation_info: dict[str, Any] | None = None
    merge_policy_id: str | None = None
    creation_time: int | None = None
    update_time: int | None = None

    @property
    def evaluation_type(self) -> str:
        """``batch``, ``streaming`` or ``edge``, as AEP derives it from ``evaluationInfo``."""
        info = self.evaluation_info or {}
        if (info.get("synchronous") or {}).get("enabled"):
            return "edge"
        if (info.get("continuous") or {}).get("enabled"):
            return "streaming"
        return "batch"


class SegmentJobMetrics(AEPModel):
    total_time: dict[str, Any] | None = None
    profile_segmentation_time: dict[str, Any] | None = None
    total_profiles: int | None = None
    segmented_profile_counter: dict[str, int] = Field(default_factory=dict)
    segmented_profile_by_namespace_counter: dict[str, dict[str, int]] = Field(default_factory=dict)
    segmented_profile_by_status_counter: dict[str, dict[str, int]] = Field(default_factory=dict)
    total_profiles_by_merge_policy: dict[str, int] = Field(default_factory=dict)


class SegmentJob(AEPModel):
    id: str
    status: SegmentJobStatus
    source: str | None = None
    segments: list[dict[str, Any]] = Field(default_factory=list)
    metrics: SegmentJobMetrics | None = None
    errors: list[JobError] = Field(default_factory=list)
    properties: dict[str, Any] = Field(default_factory=dict)
    creation_time: int | None = None
    update_time: int | None = None

    @property
    def segment_ids(self) -> list[str]:
        return [str(s.get("segmentId")) for s in self.segments if s.get("segmentId")]

    @property
    def created_at(self) -> datetime | None:
        return epoch_to_datetime(self.creation_time)

    def summary(self) -> dict[str, Any]:
        """The JSON-serializable result of a job (for XCom): id, status, counts per segment, duration."""
        metrics = self.metrics
        counts: dict[str, dict[str, int]] = {}
        for segment_id in self.segment_ids:
            by_status = (
                metrics.segmented_profile_by_status_counter.get(segment_id) if metrics else None
            ) or {}
            counts[segment_id] = {
                "realized": int(by_status.get("realized", 0)),
                "existing": int(by_status.get("existing", 0)),
                "exited": int(by_status.get("exited", 0)),
                "total": int(metrics.segmented_profile_counter.get(segment_id, 0) if metrics else 0),
            }
        total_time = (metrics.total_time or {}) if metrics else {}
        duration_ms = total_time.get("totalTimeInMs")
        return {
            "job_id": self.id,
            "status": self.status.value,
            "segment_counts": counts,
            "total_profiles": (metrics.total_profiles if metrics else None) or 0,
            "duration_seconds": round(duration_ms / 1000, 3)
            if isinstance(duration_ms, int | float)
            else None,
        }


class ExportDestination(AEPModel):
    dataset_id: str | None = None
    segment_per_batch: bool | None = None
    batch_id: str | None = None
    batches: list[Any] = Field(default_factory=list)

    @property
    def batch_ids(self) -> list[str]:
        """Every batch the export wrote: ``batchId``, or ``batches[]`` when ``segmentPerBatch``."""
        ids = [self.batch_id] if self.batch_id else []
        for batch in self.batches:
            ids.append(
                str(batch.get("batchId") or batch.get("id")) if isinstance(batch, dict) else str(batch)
            )
        return ids


class ExportJob(AEPModel):
    id: str
    status: ExportJobStatus
    destination: ExportDestination | None = None
    fields: str | None = None
    filter: dict[str, Any] | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    errors: list[JobError] = Field(default_factory=list)
    creation_time: int | None = None
    update_time: int | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _numeric_id(cls, value: Any) -> Any:
        """AEP returns export job ids as numbers; every other id is a string."""
        return str(value) if isinstance(value, int) else value

    @property
    def exported_profiles(self) -> int:
        return int(self.metrics.get("totalExportedProfileCounter") or 0)

    def summary(self) -> dict[str, Any]:
        """The JSON-serializable result of an export (for XCom): id, status, batches, profiles, dataset."""
        destination = self.destination
        return {
            "job_id": self.id,
            "status": self.status.value,
            "batch_ids": destination.batch_ids if destination else [],
            "exported_profiles": self.exported_profiles,
            "dataset_id": destination.dataset_id if destination else None,
        }


class Schedule(AEPModel):
    id: str
    name: str = ""
    type: str | None = None
    state: ScheduleState | None = None
    schedule: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    create_epoch: int | None = None
    update_epoch: int | None = None


class Preview(AEPModel):
    """What ``POST /preview`` answers; ``preview_id`` is also the estimate's id."""

    preview_id: str
    state: PreviewState | None = None
    preview_query_id: str | None = None
    preview_query_status: str | None = None
    preview_execution_id: int | None = None


class PreviewResults(AEPModel):
    state: PreviewState | None = None
    results: list[dict[str, Any]] = Field(default_factory=list)
    page: dict[str, Any] = Field(default_factory=dict)
    links: dict[str, Any] = Field(default_factory=dict)


class PreviewResultsRow(AEPModel):
    """One qualifying profile of a preview; the spec (``objectId``) and docs (``{id: {...}}``) differ."""

    object_id: str | None = None

    @property
    def profile_id(self) -> str | None:
        if self.object_id:
            return self.object_id
        extra = self.model_extra or {}
        return next(iter(extra)) if len(extra) == 1 else None


class Estimate(AEPModel):
    state: PreviewState | None = None
    estimated_size: int | None = None
    profiles_read_so_far: int | None = None
    profiles_matched_so_far: int | None = None
    total_rows: int | None = None
    confidence_interval: str | None = None
    error: dict[str, Any] | None = None


class Audience(AEPModel):
    id: str
    audience_id: str | None = None
    name: str = ""
    description: str | None = None
    type: str | None = None
    namespace: str | None = None
    lifecycle_state: str | None = None
    expression: PqlExpression | None = None
    schema_: SchemaRef | None = Field(default=None, alias="schema")


class SearchEntity(AEPModel):
    """One hit of ``/search/entities``."""

    id: str | None = None
    name: str | None = None
    namespace: str | None = None


class MessageResponse(AEPModel):
    """``{"status": true, "message": ...}`` bodies of deletes and cancels (when AEP sends one)."""

    status: bool | None = None
    message: str | None = None


class PqlConversion(AEPModel):
    """What ``/segment/conversion`` answers: the expression in the other format."""

    expression: PqlExpression
