"""The request bodies the emulator accepts, as pydantic models of ``segmentation.yaml``'s request schemas.

Every route that reads a body parses it here first (``parse``), so a body AEP would refuse is answered
400 with an UPAPI error naming the field, and never reaches the store or the PQL engine. Types are
strict (no ``"1"`` for 1, no ``0`` for false, no object for a string); fields the spec does not know are
kept, as AEP keeps them. Where the emulator is more tolerant or stricter than the spec, the model says
why. Routes keep reading the raw JSON once it is known to fit (so numbers are stored as they came).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

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


class PatchSegmentDefinition(DefinitionFields):
    """``SegmentDefinition`` as the body of "Overwrite a segment definition". The spec requires name,
    schema and expression; the emulator also takes a partial body and overwrites only what it names
    (the fields it names are typed as the spec says)."""

    name: str | None = Field(default=None, min_length=1)
    schema_: SchemaRef | None = Field(default=None, alias="schema")
    expression: Expression | None = None


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
    startTime: str | None = None
    endTime: str | None = None


class Filter(Body):
    segments: list[SegmentFilter] | None = None
    segmentQualificationTime: QualificationTime | None = None
    fromIngestTimestamp: str | None = None
    emptyProfiles: bool | None = None


class EventListFilter(Body):
    fromIngestTimestamp: str | None = None
    toIngestTimestamp: str | None = None


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


class AudienceBody(Body):
    """The union of ``CreatePlatformAudienceRequestBody``, ``CreateExternalAudienceRequestBody``,
    ``UpdateAudienceName`` and ``UpdateAudiencePQL``: every known field typed; ``name`` required."""

    name: str = Field(min_length=1)
    description: str | None = None
    type: str | None = None
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


class AudiencePatchOperation(Body):
    """One JSON Patch operation of ``PATCH /audiences/{id}`` (the docs use ``add``; ``replace`` too)."""

    op: Literal["add", "replace"]
    path: str = Field(pattern=r"^/[^/]+")
    value: Any = None
