"""Typed equality and ordering of PQL values, in one place for every comparison, ``in`` and set lookup.

Python has ``True == 1``, ``hash(True) == hash(1)`` and ``False < 1``; PQL does not: numbers compare as
numbers (``1 = 1.0``), booleans only with booleans, strings only with strings, arrays item by item and
objects key by key. Every test of equality (``=``, ``!=``, ``in``, the set lookup of a run of ``or``ed
tests, ``includes``, ``intersects``, ``distinct``...) goes through ``equal`` or ``key``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from datetime import date, datetime
from typing import Any

NUMBER = "number"
KINDS: dict[type, object] = {
    bool: bool,
    int: NUMBER,
    float: NUMBER,
    str: str,
    list: list,
    tuple: list,
    dict: Mapping,
    datetime: datetime,
    date: date,
}
"""The kind of each type (``kind``); a subclass has the kind of the first of these it derives from,
``bool`` before ``int`` and ``datetime`` before ``date`` (pendulum's ``DateTime`` is a time)."""


def kind(value: Any) -> object:
    """What ``value`` may be compared with: booleans, numbers (int and float alike), strings, times,
    dates, arrays (list or tuple), objects (any mapping), or else values of its own type."""
    exact = KINDS.get(type(value))
    if exact is not None:
        return exact
    for family, family_kind in KINDS.items():
        if isinstance(value, family):
            return family_kind
    return Mapping if isinstance(value, Mapping) else type(value)


def key(value: Any) -> Hashable:
    """A hashable stand-in for ``value``: two keys are equal exactly when the values are ``equal``."""
    value_kind = kind(value)
    if value_kind is list:
        return list, tuple(key(item) for item in value)
    if value_kind is Mapping:
        return Mapping, frozenset((name, key(item)) for name, item in value.items())
    return value_kind, value


def equal(first: Any, second: Any) -> bool:
    """PQL's ``=`` for two values that are not null."""
    first_kind = kind(first)
    if first_kind is not kind(second):
        return False
    if first_kind is list:
        return len(first) == len(second) and all(equal(a, b) for a, b in zip(first, second, strict=True))
    if first_kind is Mapping:
        return first.keys() == second.keys() and all(
            equal(item, second[name]) for name, item in first.items()
        )
    return bool(first == second)


def ordered(first: Any, second: Any) -> bool:
    """Can ``<``, ``<=``, ``>``, ``>=`` compare the two: scalars of one kind (never a boolean and a
    number, nor arrays or objects, whose order PQL does not define)."""
    first_kind = kind(first)
    return first_kind is kind(second) and first_kind not in (list, Mapping)


def distinct(items: list[Any]) -> list[Any]:
    """The items without repeats (by ``equal``), in their order; ``[true, 1]`` keeps both."""
    seen: dict[Hashable, Any] = {}
    for item in items:
        seen.setdefault(key(item), item)
    return list(seen.values())


def keys(items: list[Any]) -> set[Hashable]:
    return {key(item) for item in items}


def intersection(items: list[Any], other: list[Any]) -> list[Any]:
    """The distinct items of ``items`` that ``other`` holds too, in the order of ``items``."""
    wanted = keys(other)
    return [item for item in distinct(items) if key(item) in wanted]
