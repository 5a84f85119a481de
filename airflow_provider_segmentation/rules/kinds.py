"""What kind of audience a segment definition or an audience is, read from AEP's own fields the same way
for both models (``SegmentDefinition`` from ``/segment/definitions``, ``Audience`` from ``/audiences``).

- Origin: ``originName`` (spec: ``REAL_TIME_CUSTOMER_PROFILE``, ``CUSTOM_UPLOAD``,
  ``AUDIENCE_ORCHESTRATION``, ``AUDIENCE_MANAGER``). INFER: the UI's origin "Segmentation Service" is
  ``REAL_TIME_CUSTOMER_PROFILE`` and "Audience Composition" is ``AUDIENCE_ORCHESTRATION``; a definition
  read from ``/segment/definitions`` without ``originName`` was made by the Segmentation Service.
  An audience of ``type`` ``ExternalSegment``/``ExternalAudience`` is never of that origin.
- Evaluation method: ``evaluationInfo`` (``synchronous`` = edge, ``continuous`` = streaming, else batch).
- People-based: ``schema.name`` is ``_xdm.context.profile`` (accounts are ``_xdm.context.account`` or,
  in the spec's example, ``_xom.context.account``); without a schema AEP defaults to the profile.
- Lifecycle: draft and published count toward the guardrails; inactive, archived and deleted do not
  (FAQ; ``active`` is the deprecated name of published).
"""

from __future__ import annotations

from typing import Any, Literal, Union, cast

from airflow_provider_segmentation.models import Audience, SegmentDefinition

AudienceLike = Union[SegmentDefinition, Audience]  # noqa: UP007 (a runtime alias on Python 3.10)
Method = Literal["streaming", "edge", "batch"]

PROFILE_SCHEMA = "_xdm.context.profile"
SEGMENTATION_SERVICE = "REAL_TIME_CUSTOMER_PROFILE"
COMPOSITION = "AUDIENCE_ORCHESTRATION"
EXTERNAL_TYPES = frozenset({"ExternalSegment", "ExternalAudience"})
NOT_COUNTED_STATES = frozenset({"inactive", "archived", "deleted"})


def _extra(item: AudienceLike, name: str) -> Any:
    return (item.model_extra or {}).get(name)


def origin_of(item: AudienceLike) -> str:
    """``originName``, or ``REAL_TIME_CUSTOMER_PROFILE`` for a definition that does not say."""
    origin = _extra(item, "originName")
    if origin:
        return str(origin)
    if isinstance(item, Audience) and item.type in EXTERNAL_TYPES:
        return "CUSTOM_UPLOAD"
    return SEGMENTATION_SERVICE


def method_of(item: AudienceLike) -> Method:
    """The evaluation method its ``evaluationInfo`` declares (or AEP stored)."""
    if isinstance(item, Audience):
        info = _extra(item, "evaluationInfo")
        item = SegmentDefinition(evaluationInfo=info if isinstance(info, dict) else None)
    return cast(Method, item.evaluation_type)


def schema_of(item: AudienceLike) -> str:
    return (item.schema_.name if item.schema_ else None) or PROFILE_SCHEMA


def is_account(item: AudienceLike) -> bool:
    return schema_of(item).endswith(".context.account")


def lifecycle_of(item: AudienceLike) -> str:
    state = item.lifecycle_state if isinstance(item, Audience) else _extra(item, "lifecycleState")
    return str(state or "published").lower()


def counts_toward_limits(item: AudienceLike) -> bool:
    return lifecycle_of(item) not in NOT_COUNTED_STATES
