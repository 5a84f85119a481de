"""The request bodies the emulator accepts, as pydantic models of ``segmentation.yaml``'s request schemas.

Every route that reads a body parses it here first (``parse``), so a body AEP would refuse is answered
400 with an UPAPI error naming the field, and never reaches the store or the PQL engine. Types are
strict (no ``"1"`` for 1, no ``0`` for false, no object for a string); fields the spec does not know are
kept, as AEP keeps them. Where the emulator is more tolerant or stricter than the spec, the model says
why. Routes keep reading the raw JSON once it is known to fit (so numbers are stored as they came).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from airflow_provider_segmentation.emulator.wire import AEPHttpError, bad_request
from airflow_provider_segmentation.models import ScheduleState

MAX_PATCH_OPERATIONS = 100
PQL_ERROR_CODE = "UPAPI-113040-400"  # the code of pql_text's "Invalid PQL expression"
M = TypeVar("M", bound=BaseModel)


class Body(BaseModel):
    """A JSON object with typed known fields; unknown fields are kept."""

    model_config = ConfigDict(strict=True, extra="allow", populate_by_name=True)


class Closed(BaseModel):
    """A JSON object whose fields are all known (JSON Patch operations, id references)."""

    model_config = ConfigDict(strict=True, extra="forbid")


PQL_FIELDS = (("expression", "value"), ("predicateExpression",))


def parse(model: type[M], body: Any, what: str = "request body") -> M:
    """``body`` as ``model``, or a 400 UPAPI error that names the first offending fields (PQL that is not
    a string gets the PQL error, as AEP's parser would give it)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors()
        for error in errors:
            if any(tuple(error["loc"][-len(f) :]) == f for f in PQL_FIELDS):
                where = ".".join(str(p) for p in error["loc"])
                raise AEPHttpError(
                    400, PQL_ERROR_CODE, f"Invalid PQL expression: {where} must be a string ({error['msg']})"
                ) from None
        problems = [f"{'.'.join(str(p) for p in e['loc']) or what}: {e['msg']}" for e in errors[:3]]
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise bad_request(f"Invalid {what}: {'; '.join(problems)}{more}") from None


def parse_list(model: type[M], body: Any, what: str, *, maximum: int = MAX_PATCH_OPERATIONS) -> list[M]:
    if not isinstance(body, list) or not body:
        raise bad_request(f"{what} must be a non-empty JSON array")
    if len(body) > maximum:
        raise bad_request(f"{what} holds {len(body)} entries; at most {maximum} are accepted")
    return [parse(model, item, f"{what}[{index}]") for index, item in enumerate(body)]


# -- shared pieces ------------------------------------------------------------------------------------


class Expression(Body):
    """``Expression``: ``{type, format, value}``; the value is PQL as a string (pql/json is a JSON string).

    The type and format are checked by the route (``pql_text``) so that their errors keep AEP's wording.
    """

    type: str | None = None
    format: str | None = None
    value: str | None = None


class SchemaRef(Body):
    """``SchemaClass``: ``{name}``; the docs also show ``{id}``."""

    name: str | None = None
    id: str | None = None


class Enabled(Body):
    enabled: bool | None = None


class EvaluationInfo(Body):
    batch: Enabled | None = None
    continuous: Enabled | None = None
    synchronous: Enabled | None = None


# RFC 3339 section 5.6 date-time: full-date "T" full-time, the offset required ("Z" or +hh:mm).
RFC_3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))", re.ASCII
)


def rfc_3339(value: str) -> str:
    """``value`` when it is an RFC 3339 date-time that exists (no month 13, no 24:00; a leap second
    ``:60`` is allowed, as the RFC allows it); ``ValueError`` saying what to send otherwise."""
    match = RFC_3339.fullmatch(value)
    try:
        if match is None:
            raise ValueError
        year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
        offset_hours, offset_minutes = int(match[9] or 0), int(match[10] or 0)
        datetime(year, month, day, hour, minute, min(second, 59))
        if second > 60 or offset_hours > 23 or offset_minutes > 59:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"'{value}' is not an RFC 3339 timestamp; send e.g. 2024-01-31T00:00:00Z or "
            "2024-01-31T02:00:00+02:00"
        ) from None
    return value


Timestamp = Annotated[str, AfterValidator(rfc_3339)]


class IdRef(Closed):
    id: str = Field(min_length=1)


class BulkGet(Body):
    """``{"ids": [{"id": ...}]}`` of the three bulk-get operations (``bulk_ids`` checks the count)."""

    ids: list[IdRef]


def bulk_ids(body: Any, *, maximum: int) -> list[str]:
    """The ids of a bulk-get body ``{"ids": [{"id": ...}]}``: 1 to ``maximum`` of them, else AEP's 400."""
    ids = [ref.id for ref in parse(BulkGet, body).ids]
    if not 1 <= len(ids) <= maximum:
        raise bad_request(
            f"The number of requested IDs is invalid. Cannot be 0 or exceed {maximum}.", "UPAPI-113015-400"
        )
    return ids


# -- segment definitions, conversion, jobs -------------------------------------------------------------


class DefinitionFields(Body):
    description: str | None = None
    evaluationInfo: EvaluationInfo | None = None
    mergePolicyId: str | None = None
    profileInstanceId: str | None = None
    payloadSchema: str | None = None
    ttlInDays: int | None = None


class CreateSegmentDefinition(DefinitionFields):
    """``CreateSegmentDefinition``: name, schema and expression are required."""

    name: str = Field(min_length=1)
    schema_: SchemaRef = Field(alias="schema")
    expression: Expression

    @model_validator(mode="after")
    def _schema_is_named(self) -> CreateSegmentDefinition:
        if not self.schema_.name and not self.schema_.id:
            raise ValueError("schema.name is required")
        return self


class ConversionRequest(DefinitionFields):
    """``/segment/conversion``: the spec's schema is empty; the docs show a definition-like body, of
    which the emulator needs the expression."""

    name: str | None = None
    schema_: SchemaRef | None = Field(default=None, alias="schema")
    expression: Expression


class SegmentJobRequest(Closed):
    segmentId: str = Field(min_length=1)


class RunAllSegmentJob(Body):
    """The docs' run-all form of a segment job (``{"segments": [{"segmentId": "*"}]}``), outside the spec."""

    schema_: SchemaRef | None = Field(default=None, alias="schema")
    segments: list[SegmentJobRequest]


# -- export jobs and previews --------------------------------------------------------------------------


class Destination(Body):
    datasetId: str = Field(min_length=1)
    segmentPerBatch: bool | None = None


class RequiredSchema(Body):
    name: str = Field(min_length=1)


class SegmentFilter(Body):
    segmentId: str = Field(min_length=1)
    segmentNs: str | None = None
    status: list[Literal["realized", "existing", "exited"]] | None = None


class QualificationTime(Body):
    startTime: Timestamp | None = None
    endTime: Timestamp | None = None


class Filter(Body):
    """The spec: every timestamp of the filter "must be provided in RFC 3339 format"."""

    segments: list[SegmentFilter] | None = None
    segmentQualificationTime: QualificationTime | None = None
    fromIngestTimestamp: Timestamp | None = None
    emptyProfiles: bool | None = None


class EventListFilter(Body):
    fromIngestTimestamp: Timestamp | None = None
    toIngestTimestamp: Timestamp | None = None


class EventList(Body):
    fields: str | None = None
    filter: EventListFilter | None = None


class AdditionalFields(Body):
    eventList: EventList | None = None


class MergePolicy(Body):
    id: str | None = None
    version: float | None = None


class ExportEvaluation(Body):
    segmentation: bool | None = None


class CreateExportJob(Body):
    """``CreateExportJobRequest``; the docs (not the spec's schema) make destination.datasetId and
    schema.name required, as the emulator does."""

    destination: Destination
    schema_: RequiredSchema = Field(alias="schema")
    fields: str | None = None
    filter: Filter | None = None
    additionalFields: AdditionalFields | None = None
    mergePolicy: MergePolicy | None = None
    evaluationInfo: ExportEvaluation | None = None


class CreatePreview(Body):
    """``CreatePreviewRequest``; the predicate is required (there is nothing to preview without it)."""

    predicateExpression: str = Field(min_length=1)
    predicateType: str | None = None
    predicateModel: str | None = None
    graphType: Literal["pdg", "none"] | None = None


# -- schedules ----------------------------------------------------------------------------------------


SCHEDULE_STATES = tuple(s.value for s in ScheduleState)  # the known ones: AEP refuses any other


def known_schedule_state(value: str) -> str:
    if value not in SCHEDULE_STATES:
        raise ValueError(f"state must be {' or '.join(SCHEDULE_STATES)}")
    return value


class ScheduleProperties(Body):
    segments: list[str] = Field(min_length=1)


class ScheduleCreate(Body):
    """``ScheduleCreate``. The docs also name type ``export`` and make ``schedule`` optional (a default
    is generated), which the emulator accepts."""

    name: str = Field(min_length=1)
    type: Literal["batch_segmentation", "export"]
    properties: ScheduleProperties
    schedule: str | None = None
    state: Annotated[str, AfterValidator(known_schedule_state)] | None = None


class SchedulePatchOperation(Closed):
    """``schedulePatchOperation``: ``op`` is ``add`` in the spec; the Flexible Batch doc uses ``replace``."""

    op: Literal["add", "replace"]
    path: Literal["/state", "/schedule"]
    value: str


# -- audiences ----------------------------------------------------------------------------------------


PLATFORM_AUDIENCE = "SegmentDefinition"
# The spec's values (its prose lists SegmentDefinition and ExternalAudience); the docs also show
# ExternalSegment for an externally generated audience.
AUDIENCE_TYPES = Literal["SegmentDefinition", "ExternalAudience", "ExternalSegment"]


def audience_type(body: dict[str, Any]) -> str:
    """The audience's type: as sent, else a Platform audience when it carries an expression and an
    external one otherwise (the spec leaves the default unsaid)."""
    return str(body.get("type") or (PLATFORM_AUDIENCE if "expression" in body else "ExternalAudience"))


class AudienceBody(Body):
    """The union of ``CreatePlatformAudienceRequestBody``, ``CreateExternalAudienceRequestBody``,
    ``UpdateAudienceName`` and ``UpdateAudiencePQL``: every known field typed; ``name`` required.

    The spec's audience schemas require nothing; its 400 example makes ``name`` mandatory. A Platform
    audience (type ``SegmentDefinition``) is a segment definition, so it is held to the rule the spec
    documents for those (``CreateSegmentDefinition``): expression and a named schema are required, and
    null is no value for them. The same model checks POST, PUT and the audience a PATCH leaves behind."""

    name: str = Field(min_length=1)
    description: str | None = None
    type: AUDIENCE_TYPES | None = None
    expression: Expression | None = None
    schema_: SchemaRef | None = Field(default=None, alias="schema")
    labels: list[str] | None = None
    profileInstanceId: str | None = None
    audienceId: str | None = None
    namespace: str | None = None
    originName: str | None = None
    lifecycleState: Literal["draft", "published", "inactive", "archived"] | None = None
    datasetId: str | None = None
    linkedAudienceRef: dict[str, Any] | None = None
    ttlInDays: int | None = None
    evaluationInfo: EvaluationInfo | None = None
    mergePolicyId: str | None = None

    @model_validator(mode="after")
    def _platform_audience_is_a_definition(self) -> AudienceBody:
        given = {"expression"} & self.model_fields_set
        if audience_type({"type": self.type, **dict.fromkeys(given)}) != PLATFORM_AUDIENCE:
            return self
        if self.expression is None:
            raise ValueError(
                "expression is required for a SegmentDefinition audience: send {type, format, value}"
            )
        if self.schema_ is None or not (self.schema_.name or self.schema_.id):
            raise ValueError(
                "schema.name is required for a SegmentDefinition audience, e.g. _xdm.context.profile"
            )
        return self


class AudiencePatchOperation(Body):
    """One JSON Patch operation of ``PATCH /audiences/{id}`` (the docs use ``add``; ``replace`` too)."""

    op: Literal["add", "replace"]
    path: str = Field(pattern=r"^/[^/]+")
    value: Any = None
