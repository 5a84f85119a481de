"""Where Adobe's ``segmentation.yaml`` is wrong or contradicts itself: the one reviewed list.

Each entry is keyed by operationId and says why the spec cannot be taken literally there. A schema
exception carries a patch of the spec (for the request side, the response side, or both): the contract
tests validate every captured exchange against the spec with these patches applied, and
``test_spec_exceptions_are_all_still_needed`` validates again without each patch, one at a time, and
fails unless that patch is what lets some exchange through. A prose exception (the spec's text
contradicts its own example or the service) names the text; the test fails once the spec no longer
says it. So an exception that is no longer needed is not kept.

Review rule: add an entry only with the evidence in ``reason`` (the spec's own example, Adobe's docs,
or RFC); never to hide an emulator or client bug.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Patch = Callable[[dict[str, Any], dict[str, Any]], None]  # (whole spec, the operation object) -> None


@dataclass(frozen=True)
class SpecException:
    reason: str
    request: Patch | None = None
    response: Patch | None = None
    spec_says: str | None = None  # for a prose exception: text of the operation that is contradicted


def _drop_required_content_type(spec: dict[str, Any], operation: dict[str, Any]) -> None:
    operation["parameters"] = [
        p for p in operation["parameters"] if p.get("$ref") != "#/components/parameters/content-type"
    ]


def _any_media_type_is_json(spec: dict[str, Any], operation: dict[str, Any]) -> None:
    content = operation["requestBody"]["content"]
    content["application/json"] = content.pop("*/*")


def _list_envelope(key: str, page: str, link: str) -> Patch:
    def patch(spec: dict[str, Any], operation: dict[str, Any]) -> None:
        media = operation["responses"]["200"]["content"]["application/json"]
        media["schema"] = {
            "type": "object",
            "required": [key],
            "properties": {
                key: {"type": "array", "items": media["schema"]},
                page: {"type": "object"},
                link: {"type": "object"},
            },
        }

    return patch


def _audience_list_children_schema(spec: dict[str, Any], operation: dict[str, Any]) -> None:
    items = spec["components"]["schemas"]["AudiencesList"]["properties"]["children"]["items"]
    items["anyOf"] = items.pop("oneOf")


def _put_body_schema(spec: dict[str, Any], operation: dict[str, Any]) -> None:
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    schema["anyOf"] = schema.pop("oneOf")


def _patch_value_is_any_json(spec: dict[str, Any], operation: dict[str, Any]) -> None:
    items = operation["requestBody"]["content"]["application/json"]["schema"]["items"]
    items["properties"]["value"] = {}


def _namespace_is_a_string(spec: dict[str, Any], operation: dict[str, Any]) -> None:
    spec["components"]["schemas"]["SearchNamespaceObject"]["properties"] = {
        "namespace": {"type": "string"},
        "displayName": {"type": "string"},
        "count": {"type": "number"},
    }


def _batches_are_a_list(spec: dict[str, Any], operation: dict[str, Any]) -> None:
    destination = spec["components"]["schemas"]["ExportJobResponse"]["properties"]["destination"]
    batch = destination["properties"]["batches"]
    destination["properties"]["batches"] = {"type": "array", "items": batch}


def _no_content_on_204(spec: dict[str, Any], operation: dict[str, Any]) -> None:
    operation["responses"]["204"].pop("content")


SPEC_EXCEPTIONS: dict[str, SpecException] = {
    "retrieveSchedule": SpecException(
        "The spec lists Content-Type as a required header of a GET, which has no body. Adobe's docs "
        "send it only with a body (getting-started: 'required on every request with a body'), and so "
        "does the client (DESIGN: Content-Type on bodies).",
        request=_drop_required_content_type,
    ),
    "deleteSchedule": SpecException(
        "The spec lists Content-Type as a required header of a DELETE, which has no body; as for "
        "retrieveSchedule, the client sends it only with a body.",
        request=_drop_required_content_type,
    ),
    "convertSegmentDefinition": SpecException(
        "The request body is declared as '*/*' (any media type) with a JSON schema, so no validator can "
        "read it; every other body of the service, the docs' example and the gateway (400 'A valid "
        "content-type must be specified' otherwise) make it application/json.",
        request=_any_media_type_is_json,
    ),
    "listSegmentDefinitions": SpecException(
        "The 200 schema is a single SegmentDefinition, but the list answers an envelope "
        "{segments: [...], page: {...}, link: {...}}, as the docs' example shows; the envelope's items "
        "are held to SegmentDefinition.",
        response=_list_envelope("segments", "page", "link"),
    ),
    "listAudiences": SpecException(
        "children[] items are 'oneOf' PlatformGeneratedAudience | ExternallyGeneratedAudience, two "
        "schemas with no required field and no discriminator: every audience matches both, so 'oneOf' "
        "rejects every non-empty list (the spec's own example included). Read as 'anyOf'.",
        response=_audience_list_children_schema,
    ),
    "updateAudience": SpecException(
        "The PUT body is 'oneOf' UpdateAudienceName | UpdateAudiencePQL, two schemas with no required "
        "field: every body matches both, so 'oneOf' rejects every body (the spec's own examples "
        "included). Read as 'anyOf'.",
        request=_put_body_schema,
    ),
    "patchAudience": SpecException(
        "A JSON Patch operation's 'value' is typed as an object ({type, format, value} of an "
        "expression), which fits only /expression; RFC 6902 values are any JSON, and the docs patch "
        "scalar fields such as /lifecycleState and /description with strings.",
        request=_patch_value_is_any_json,
    ),
    "listSearchCounts": SpecException(
        "SearchNamespaceObject types 'namespace' as an array of {count, name}, but the spec's own "
        "example (SearchNamespaceList.namespaces) and the docs answer "
        "[{namespace: 'AAMTraits', displayName: 'AAMTraits', count: 45}]: namespace is a string.",
        response=_namespace_is_a_string,
    ),
    "retrieveExportJob": SpecException(
        "ExportJobResponse.destination.batches is typed as one object {segmentId, batchId, ...}, "
        "while its own description ('the object for multi-segment definition export') and the docs "
        "(export-jobs: 'one batch per segment', destination.batches[]) make it a list, one entry per "
        "segment. The patch is on the shared ExportJobResponse schema, so it also covers "
        "listExportJobs and createExportJob answers.",
        response=_batches_are_a_list,
    ),
    "deleteAudience": SpecException(
        "The 204 answer declares an application/json body, but a 204 has no content (RFC 9110 "
        "15.3.5), and its own description says 'No message is returned'.",
        response=_no_content_on_204,
    ),
    "bulkGetAudiences": SpecException(
        "The 400 description says the number of ids 'must be greater than 100 and less than 1000', "
        "while the same answer's example (UPAPI-113015-400) and the docs say it 'Cannot be 0 or exceed "
        "100'. The emulator and the client follow the error message: 1 to 100 ids.",
        spec_says="This value **must** be greater than 100 and less than 1000",
    ),
}
