"""Arrays: ``intersects``, ``intersection``, ``includes``, ``subsetOf``/``supersetOf``, ``distinct``,
``count``, ``head`` and the sums ``sum``/``average``/``min``/``max`` of an array's numbers.

A single value counts as an array of one, null as the empty array; equality is typed (``pql.values``).
``AGGREGATES`` is also what ``aggregateOver`` and the per-item ``xs.sum(x.price)`` compute.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from airflow_provider_segmentation.pql import values as typed
from airflow_provider_segmentation.pql.ast import AGGREGATE_METHODS, FnApply
from airflow_provider_segmentation.pql.runtime import Compiled, Compiler, Context, as_list, guarded, is_number


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _numbers(items: list[Any]) -> list[Any]:
    return [v for v in items if is_number(v)]


def _average(items: list[Any]) -> float | None:
    numbers = _numbers(items)
    return _finite(math.fsum(numbers) / len(numbers)) if numbers else None


def _min(items: list[Any]) -> Any:
    numbers = _numbers(items)
    return min(numbers) if numbers else None


def _max(items: list[Any]) -> Any:
    numbers = _numbers(items)
    return max(numbers) if numbers else None


AGGREGATES: dict[str, Callable[[list[Any]], Any]] = {
    "count": len,
    "sum": lambda items: _finite(math.fsum(_numbers(items))),
    "average": _average,
    "min": _min,
    "max": _max,
}
"""What each aggregate gives for the items of an array (only its numbers for all but ``count``)."""


def _other(args: list[Any]) -> list[Any]:
    return as_list(args[0]) if args else []


def _without_arguments(aggregate: Callable[[list[Any]], Any]) -> Callable[[list[Any], list[Any]], Any]:
    return lambda items, args: aggregate(items)


ARRAY_METHODS: dict[str, Callable[[list[Any], list[Any]], Any]] = {
    "intersects": lambda items, args: bool(typed.keys(items) & typed.keys(_other(args))),
    "intersection": lambda items, args: typed.intersection(items, _other(args)),
    "includes": lambda items, args: any(typed.equal(args[0], item) for item in items) if args else False,
    "subsetOf": lambda items, args: typed.keys(items) <= typed.keys(_other(args)),
    "supersetOf": lambda items, args: typed.keys(items) >= typed.keys(_other(args)),
    "distinct": lambda items, args: typed.distinct(items),
    "head": lambda items, args: items[0] if items else None,
    **{name: _without_arguments(aggregate) for name, aggregate in AGGREGATES.items()},
}
"""What each array method gives for its receiver's items and its arguments' values."""


def compile_array_method(node: FnApply, params: list[Compiled]) -> Compiled:
    """``receiver.name(args...)`` of ``ARRAY_METHODS`` (``sum`` and co. here without a per-item value)."""
    method = ARRAY_METHODS[node.fn]
    receiver, *args = params

    def apply(ctx: Context) -> Any:
        value = receiver(ctx)
        arguments = [arg(ctx) for arg in args]
        return method(as_list(value), arguments)

    return guarded(apply)


COMPILERS: dict[str, Compiler] = {
    name: compile_array_method for name in ARRAY_METHODS.keys() - AGGREGATE_METHODS
}
"""``sum``/``average``/``min``/``max`` are in ``loops``: with a per-item value they loop."""
