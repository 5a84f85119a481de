"""The kinds a task names when it is built: what a trigger or sensor watches (``JobKind``) and how a
segment definition is evaluated (``EVALUATIONS``). Apart from ``models`` and ``client.api`` (which
re-export them) so that a DAG file's import of an operator does not build the client or the models."""

from __future__ import annotations

from enum import Enum


class JobKind(str, Enum):
    """What a trigger or sensor watches; for ``SCHEDULED_SEGMENT_JOB`` the watched id is a schedule's."""

    SEGMENT_JOB = "segment_job"
    EXPORT_JOB = "export_job"
    ESTIMATE = "estimate"
    SCHEDULED_SEGMENT_JOB = "scheduled_segment_job"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


# How each evaluation a segment definition can ask for is written in its ``evaluationInfo``.
EVALUATIONS: dict[str, dict[str, dict[str, bool]]] = {
    "batch": {
        "batch": {"enabled": True},
        "continuous": {"enabled": False},
        "synchronous": {"enabled": False},
    },
    "streaming": {
        "batch": {"enabled": False},
        "continuous": {"enabled": True},
        "synchronous": {"enabled": False},
    },
    "edge": {"batch": {"enabled": False}, "continuous": {"enabled": False}, "synchronous": {"enabled": True}},
}
