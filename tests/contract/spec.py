"""Adobe's ``segmentation.yaml`` as a validator of captured exchanges (openapi-core).

An exchange is one entry of the emulator's admin request log taken with ``capture_bodies`` on: method,
path, query string, the request's headers and body, the answer's status, headers and body, exactly as
they crossed the wire. ``Contract`` validates the request and the answer of an exchange against the
spec with every exception of ``spec_exceptions`` applied, or with one of them left out (to prove that
it is still needed).

Two readings of the spec here are not exceptions, because they are how OpenAPI 3.0 reads it:
- the servers entry is protocol-relative (``//{environment}.adobe.io/data/core/ups``), so requests are
  matched as ``//platform.adobe.io`` + path;
- ``content: {}`` (an empty map) on a response describes no body; openapi-core would demand one.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

# The spec is Adobe's (AdobeDocs/experience-platform-apis, static/swagger-specs/segmentation.yaml); it is
# read from the project's shared reference folder beside the clone, or from $AEP_SEGMENTATION_SPEC.
SPEC_CANDIDATES = (
    Path(os.environ.get("AEP_SEGMENTATION_SPEC", "/nonexistent")),
    Path(__file__).resolve().parents[3] / "shared" / "reference" / "segmentation.yaml",
)
# The version the exceptions were reviewed against; a new spec means reviewing spec_exceptions.py.
SPEC_SHA256 = "c0f654526464dbeaf92e2666c333982f8308f2961047fc38e6150001bd26870f"
HOST_URL = "//platform.adobe.io"
BASE_PATH = "/data/core/ups"
METHODS = ("get", "post", "put", "patch", "delete")


def spec_path() -> Path | None:
    return next((p for p in SPEC_CANDIDATES if p.is_file()), None)


MISSING_SPEC = (
    "Adobe's segmentation.yaml (AdobeDocs/experience-platform-apis, static/swagger-specs/) is not at "
    f"{SPEC_CANDIDATES[1]} and AEP_SEGMENTATION_SPEC ({os.environ.get('AEP_SEGMENTATION_SPEC', 'unset')}) "
    "names no file: place it there or set AEP_SEGMENTATION_SPEC=<its path> to run them"
)


def require_spec() -> None:
    """Skip the collecting module without the spec (conftest repeats why in the run's summary); with
    AEP_CONTRACT_TESTS=required, as CI sets it, its absence fails the run instead."""
    if spec_path() is not None:
        return
    if os.environ.get("AEP_CONTRACT_TESTS") == "required":
        pytest.fail(MISSING_SPEC, pytrace=False)
    pytest.skip(MISSING_SPEC, allow_module_level=True)


def spec_digest() -> str:
    path = spec_path()
    assert path is not None
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _JsonLoader(yaml.SafeLoader):
    """YAML without the implicit timestamps: OpenAPI is JSON, where 2018-01-01T00:00:00Z is a string."""


_JsonLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _string_keys(value: Any) -> Any:
    """YAML reads status codes as integers; OpenAPI (JSON) keys are strings."""
    if isinstance(value, dict):
        return {str(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_string_keys(v) for v in value]
    return value


@cache
def raw_spec() -> dict[str, Any]:
    path = spec_path()
    assert path is not None, "segmentation.yaml not found (set AEP_SEGMENTATION_SPEC)"
    return dict(_string_keys(yaml.load(path.read_text(), Loader=_JsonLoader)))


def operations() -> dict[str, tuple[str, str]]:
    """operationId -> (METHOD, path template) for the spec's 35 operations."""
    return {
        op["operationId"]: (method.upper(), path)
        for path, item in raw_spec()["paths"].items()
        for method, op in item.items()
        if method in METHODS
    }


def operation_object(spec: dict[str, Any], operation_id: str) -> dict[str, Any]:
    method, path = operations()[operation_id]
    return dict(spec["paths"][path][method.lower()])


@cache
def _matchers() -> list[tuple[re.Pattern[str], str, str]]:
    found = []
    for operation_id, (method, path) in operations().items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
        literal = path.count("{") == 0
        found.append((re.compile(f"^{pattern}$"), method, operation_id, literal))
    # literal paths first, so that /segment/jobs/bulk-get is not read as /segment/jobs/{id}
    return [(p, m, o) for p, m, o, literal in sorted(found, key=lambda f: not f[3])]


def operation_of(method: str, path: str) -> str | None:
    relative = path.removeprefix(BASE_PATH)
    for pattern, op_method, operation_id in _matchers():
        if op_method == method and pattern.match(relative):
            return operation_id
    return None


@dataclass(frozen=True)
class Exchange:
    """One captured request and its answer."""

    operation_id: str
    method: str
    path: str
    query: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int
    response_headers: dict[str, str]
    response_body: str | None

    @classmethod
    def from_log(cls, entry: dict[str, Any]) -> Exchange:
        operation_id = operation_of(entry["method"], entry["path"])
        assert operation_id is not None, f"no operation of the spec is {entry['method']} {entry['path']}"
        assert "request_headers" in entry, "the emulator did not capture bodies (capture_bodies is off)"
        assert not entry.get("truncated"), f"{operation_id}: a captured body was truncated"
        return cls(
            operation_id,
            entry["method"],
            entry["path"],
            entry["query"],
            entry["request_headers"],
            entry["request_body"],
            entry["status"],
            entry["response_headers"],
            entry["response_body"],
        )

    @property
    def label(self) -> str:
        return f"{self.operation_id} {self.method} {self.path}?{self.query} -> {self.status}"

    def json_body(self) -> Any:
        return json.loads(self.request_body) if self.request_body else None


class _Request:
    """openapi-core's ``Request`` protocol over a captured exchange."""

    def __init__(self, exchange: Exchange) -> None:
        self.host_url = HOST_URL
        self.path = exchange.path
        self.method = exchange.method.lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(exchange.query, keep_blank_values=True)),
            header=Headers(exchange.request_headers),
            cookie=ImmutableMultiDict(),
        )
        self.content_type = exchange.request_headers.get("content-type", "")
        self.body = exchange.request_body.encode() if exchange.request_body is not None else None


class _Response:
    def __init__(self, exchange: Exchange) -> None:
        self.status_code = exchange.status
        self.headers = Headers(exchange.response_headers)
        self.content_type = self.headers.get("content-type", "")
        self.data = exchange.response_body.encode() if exchange.response_body is not None else None


def _describe(exc: Exception) -> str:
    cause = exc.__cause__
    details = [e.message[:300] for e in getattr(cause, "schema_errors", ())]
    return f"{type(exc).__name__}: {str(exc)[:300]}" + (f" {details}" if details else "")


def _normalized(spec: dict[str, Any]) -> dict[str, Any]:
    for item in spec["paths"].values():
        for method in METHODS:
            for response in (item.get(method) or {}).get("responses", {}).values():
                if response.get("content") == {}:
                    del response["content"]
    return spec


class Contract:
    """The spec with the exceptions of ``spec_exceptions`` applied (all, or all but one side of one)."""

    def __init__(self, without: tuple[str, str] | None = None) -> None:
        from tests.contract.spec_exceptions import SPEC_EXCEPTIONS

        spec = copy.deepcopy(raw_spec())
        for operation_id, exception in SPEC_EXCEPTIONS.items():
            operation = spec["paths"][operations()[operation_id][1]][operations()[operation_id][0].lower()]
            for side, patch in (("request", exception.request), ("response", exception.response)):
                if patch is not None and (operation_id, side) != without:
                    patch(spec, operation)
        self.spec = _normalized(spec)
        self.api = OpenAPI.from_dict(self.spec)

    def request_errors(self, exchange: Exchange) -> list[str]:
        errors = []
        try:
            self.api.validate_request(_Request(exchange))
        except Exception as exc:  # openapi-core's errors have no common base worth naming
            errors.append(_describe(exc))
        errors += self._undeclared_query(exchange)
        return errors

    def response_errors(self, exchange: Exchange) -> list[str]:
        try:
            self.api.validate_response(_Request(exchange), _Response(exchange))
        except Exception as exc:
            return [_describe(exc)]
        return []

    def _undeclared_query(self, exchange: Exchange) -> list[str]:
        """openapi-core ignores query parameters the operation does not declare; the contract does not."""
        spec = self.spec
        operation = operation_object(spec, exchange.operation_id)
        declared = set()
        for parameter in operation.get("parameters", []):
            if "$ref" in parameter:
                parameter = spec["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
            if parameter["in"] == "query":
                declared.add(parameter["name"])
        sent = {name for name, _ in parse_qsl(exchange.query, keep_blank_values=True)}
        return [f"query parameter {name!r} is not declared by the spec" for name in sorted(sent - declared)]


@cache
def contract(without: tuple[str, str] | None = None) -> Contract:
    return Contract(without)
