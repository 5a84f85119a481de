"""The emulator's view of audience evaluation: the one seam between the HTTP routes and the PQL engine.

The routes (segment jobs, previews, estimates, exports, conversion, definition validation) only talk to
an ``AudienceEngine``; ``emulator.profiles.PQLEngine`` implements it on the synthetic profile store.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from datetime import datetime
from typing import Any, Protocol

from airflow_provider_segmentation.emulator.history import Population


class AudienceEngine(Protocol):
    """Evaluates PQL over the emulator's profile store."""

    def total_profiles(self, population: Population | None = None) -> int:
        """Number of profiles ``population`` (one emulator day's, see ``history``) sees; the starting
        number when None."""
        ...

    def check(self, pql_text: str) -> None:
        """Raise ``airflow_provider_segmentation.pql.PQLError`` (a ``ValueError``) if ``pql_text`` is not
        valid, supported PQL; the exception's ``str()`` is the message the API returns."""
        ...

    def convert(self, value: str, source_format: str) -> str:
        """Convert between ``pql/text`` and ``pql/json``; ``source_format`` names the format of ``value``
        and the result is in the other one. Raises ``PQLError`` on invalid input."""
        ...

    def select(
        self,
        pql_text: str,
        *,
        memberships: Mapping[str, Set[str]],
        now: datetime | None = None,
        population: Population | None = None,
    ) -> list[str]:
        """Ids of the profiles that qualify, in store order. ``memberships`` maps a segment definition id
        to the ids of the profiles realized by its latest successful evaluation (for ``inSegment``);
        ``now`` is the evaluation's instant (events move with it; real time when None) and ``population``
        the day's profiles (the starting ones when None). Raises ``PQLError`` (e.g. ``PQLOutOfRangeError``
        for ``tomorrow`` on 9999-12-31) when the expression cannot be evaluated at ``now``."""
        ...

    def profile(self, profile_id: str) -> Mapping[str, Any]:
        """The XDM profile (with ``identityMap``) of one profile id, for previews and exports."""
        ...
