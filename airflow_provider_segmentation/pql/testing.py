"""Unit-test segment definitions in your own pytest, offline: which of these profiles qualify?

from airflow_provider_segmentation.pql.testing import assert_selects

def test_gold_us_members():
    profiles = {
        "ana": {"homeAddress": {"countryCode": "US"}, "loyalty": {"tier": "gold"}},
        "ben": {"homeAddress": {"countryCode": "FR"}, "loyalty": {"tier": "gold"}},
    }
    assert_selects('homeAddress.countryCode = "US" and loyalty.tier = "gold"', profiles, {"ana"})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from airflow_provider_segmentation import pql
from airflow_provider_segmentation.pql.evaluate import membership_lookup


def matching_profiles(
    text: str,
    profiles: Mapping[str, Mapping[str, Any]],
    events: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    *,
    now: datetime | None = None,
    segments: Mapping[str, Iterable[str]] | None = None,
) -> set[str]:
    """Ids of the ``profiles`` that the PQL ``text`` selects.

    :param events: ExperienceEvents per profile id (``xEvent``), with ``timestamp`` as ``datetime``
    :param segments: members per segment id, for ``inSegment("id")``
    """
    compiled = pql.compile(text)
    members = {seg: set(ids) for seg, ids in (segments or {}).items()}
    selected = set()
    for profile_id, profile in profiles.items():
        chosen = (events or {}).get(profile_id)
        view = {**profile, "xEvent": list(chosen)} if chosen else profile
        context = pql.Context(
            view, now or datetime.now().astimezone(), membership_lookup(members, profile_id)
        )
        if compiled(context):
            selected.add(profile_id)
    return selected


def assert_selects(
    text: str,
    profiles: Mapping[str, Mapping[str, Any]],
    expected: Iterable[str],
    events: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    *,
    now: datetime | None = None,
    segments: Mapping[str, Iterable[str]] | None = None,
) -> None:
    """Fail with the difference when the definition does not select exactly ``expected``."""
    got = matching_profiles(text, profiles, events, now=now, segments=segments)
    wanted = set(expected)
    if got != wanted:
        raise AssertionError(
            f"{text!r} selects {sorted(got)}; expected {sorted(wanted)} "
            f"(unexpected: {sorted(got - wanted)}, missing: {sorted(wanted - got)})"
        )
