"""What can go wrong with audiences as code, in the package's one error hierarchy (``AEPError``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_segmentation.audiences.locations import Issue
from airflow_provider_segmentation.client import AEPConflictError, AEPError, AEPValidationError


class AudienceLintError(AEPValidationError):
    """The audience files have problems; ``issues`` lists every one of them (file, line, column)."""

    def __init__(self, issues: Sequence[Issue], **kwargs: Any) -> None:
        self.issues = list(issues)
        count = len(self.issues)
        listing = "\n".join(str(issue) for issue in self.issues)
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''} in the audience files:\n{listing}", **kwargs
        )


class AudienceConflictError(AEPConflictError):
    """A file's audience has the name of a definition that this project does not manage."""


class StalePlanError(AEPConflictError):
    """The sandbox changed since the plan was made (or the plan is for another sandbox): plan again."""


class AudienceDriftError(AEPError):
    """A plan found the sandbox differing from the files (``fail_on_drift``); the message is the plan."""


class ApplyIncompleteError(AEPError):
    """Some changes could not be made; what was made stays made, and applying the same plan resumes."""


class FolderFileError(AEPValidationError):
    """A file of the audience folder that is not read: ``path``, the ``rule`` it breaks (one of
    ``audiences.folder.RULES``) and the ``reason`` in words."""

    def __init__(self, path: str, rule: str, reason: str) -> None:
        self.path, self.rule, self.reason = path, rule, reason
        super().__init__(f"{path}: {reason}", field="path")
