"""The emulator's listing order: ``sorted_by`` is a stable sort by the asked keys, whichever way it gets
there (a listing already in its default order is returned as it is, without building sort keys)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_segmentation.emulator.wire import sorted_by

VALUES = st.one_of(st.none(), st.integers(-3, 3), st.floats(-3, 3), st.booleans(), st.text(max_size=2))
ITEMS = st.lists(st.fixed_dictionaries({"creationTime": VALUES, "name": st.text(max_size=2)}), max_size=12)


def reference(items: list[dict[str, Any]], attribute: str, direction: str) -> list[dict[str, Any]]:
    """Stable sort, JSON numbers before text before anything else, absent values last."""

    def key(item: dict[str, Any]) -> tuple[Any, ...]:
        value = item.get(attribute)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (0, value)
        if isinstance(value, str):
            return (1, value)
        return (2, repr(value))

    present = [item for item in items if item.get(attribute) is not None]
    present.sort(key=key, reverse=direction == "desc")
    return present + [item for item in items if item.get(attribute) is None]


@given(ITEMS, st.sampled_from(["asc", "desc"]), st.booleans())
def test_a_listing_is_a_stable_sort_by_its_key(items, direction, presorted) -> None:
    if presorted:  # the common case: the emulator's creation order, ascending creation times
        items = reference(items, "creationTime", "asc")
    ordered = sorted_by(items, [("creationTime", direction)])
    expected = reference(items, "creationTime", direction)
    assert [id(item) for item in ordered] == [id(item) for item in expected]
