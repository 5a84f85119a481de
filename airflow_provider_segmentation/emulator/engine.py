"""The emulator's view of audience evaluation: the one seam between the HTTP routes and the PQL engine.

The routes (segment jobs, previews, estimates, exports, conversion, definition validation) only talk to
an ``AudienceEngine``; ``emulator.profiles.PQLEngine`` implements it on the synthetic profile store.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any, Protocol


class AudienceEngine(Protocol):
    """Evaluates PQL over the emulator's profile store."""

    @property
    def total_profiles(self) -> int:
        """Number of profiles in the store."""
        ...

    def check(self, pql_text: str) -> None:
        """Raise ``airflow_provider_segmentation.pql.PQLError`` (a ``ValueError``) if ``pql_text`` is not
        valid, supported PQL; the exception's ``str()`` is the message the API returns."""
        ...

    def convert(self, value: str, source_format: str) -> str:
        """Convert between ``pql/text`` and ``pql/json``; ``source_format`` names the format of ``value``
        and the result is in the other one. Raises ``PQLError`` on invalid input."""
        ...

    def select(self, pql_text: str, *, memberships: Mapping[str, Set[str]]) -> list[str]:
        """Ids of the profiles that qualify, in store order. ``memberships`` maps a segment definition id
        to the ids of the profiles realized by its latest successful evaluation (for ``inSegment``)."""
        ...

    def profile(self, profile_id: str) -> Mapping[str, Any]:
        """The XDM profile (with ``identityMap``) of one profile id, for previews and exports."""
        ...
