"""Audiences as code: a folder of YAML audience files, linted offline, planned against a sandbox, applied.

```python
from airflow_provider_segmentation import audiences

problems = audiences.lint("audiences/")                      # every problem, with file:line:column
plan = audiences.plan("audiences/", client, sandbox="dev")   # what would change (nothing is written)
print(plan.render())                                         # like `terraform plan`
result = audiences.apply(plan, client)                       # exactly that plan; refused if stale
```

``client`` is a ``SegmentationClient`` (the hook's ``.client`` in Airflow); the sandbox is chosen per
call, so one folder is planned against ``dev`` and then ``prod``. No Airflow import here: the
``aep-audiences`` command (``audiences.cli``) runs in CI without an Airflow deployment.
"""

from __future__ import annotations

from pathlib import Path

from airflow_provider_segmentation.audiences.applying import ApplyResult, apply
from airflow_provider_segmentation.audiences.errors import (
    ApplyIncompleteError,
    AudienceConflictError,
    AudienceDriftError,
    AudienceLintError,
    StalePlanError,
)
from airflow_provider_segmentation.audiences.files import Audience, read_folder
from airflow_provider_segmentation.audiences.locations import Issue
from airflow_provider_segmentation.audiences.ownership import MARKER_PREFIX, Ownership, split_description
from airflow_provider_segmentation.audiences.planning import load, plan
from airflow_provider_segmentation.audiences.plans import Change, Plan

SCHEMA_PATH = Path(__file__).with_name("audience-file.schema.json")


def lint(folder: str | Path) -> list[Issue]:
    """Every problem of every audience file under ``folder`` (empty when all is well); no network."""
    return read_folder(folder)[1]


def check_drift(plan: Plan) -> None:
    """Raise ``AudienceDriftError`` with the printed plan when the sandbox differs from the files."""
    if plan.drifted:
        raise AudienceDriftError(
            f"sandbox '{plan.sandbox}' has drifted from the audience files:\n{plan.render()}"
        )


__all__ = [
    "MARKER_PREFIX",
    "SCHEMA_PATH",
    "ApplyIncompleteError",
    "ApplyResult",
    "Audience",
    "AudienceConflictError",
    "AudienceDriftError",
    "AudienceLintError",
    "Change",
    "Issue",
    "Ownership",
    "Plan",
    "StalePlanError",
    "apply",
    "check_drift",
    "lint",
    "load",
    "plan",
    "split_description",
]
