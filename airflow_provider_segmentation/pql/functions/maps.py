"""Maps and objects: ``get``/``keys``/``values`` of a map, ``mapEntry(key, value)``, ``object(k, v, ...)``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_segmentation.pql.ast import FnApply, value_of
from airflow_provider_segmentation.pql.runtime import Compiled, Compiler, Context, guarded


@dataclass(frozen=True)
class MapEntry:
    """``mapEntry(key, value)``: what ``map`` turns into one entry of a map."""

    key: Any
    value: Any


def mapped(results: list[Any], from_map: bool) -> Any:
    """``map``'s results: a map when they are all ``mapEntry``s (or a map gave none), else a list."""
    if all(isinstance(result, MapEntry) for result in results) and (results or from_map):
        return {result.key: result.value for result in results}
    return results


MAP_METHODS: dict[str, Callable[[Mapping[Any, Any], list[Any]], Any]] = {
    "get": lambda value, args: value.get(args[0]),
    "keys": lambda value, args: list(value.keys()),
    "values": lambda value, args: list(value.values()),
}
"""What each map method gives for its receiver (a map; null for anything else) and arguments."""


def _compile_map_method(node: FnApply, params: list[Compiled]) -> Compiled:
    method = MAP_METHODS[node.fn]
    receiver, *args = params

    def apply(ctx: Context) -> Any:
        value = receiver(ctx)
        arguments = [arg(ctx) for arg in args]
        return method(value, arguments) if isinstance(value, Mapping) else None

    return guarded(apply)


def _compile_map_entry(node: FnApply, params: list[Compiled]) -> Compiled:
    key, entry_value = params
    return lambda ctx: MapEntry(key(ctx), entry_value(ctx))


def _compile_object(node: FnApply, params: list[Compiled]) -> Compiled:
    """``object("a", x, "b", y)``: a map of literal keys to values."""
    keys = [value_of(param) for param in node.params[::2]]
    values = params[1::2]
    return guarded(lambda ctx: {k: v(ctx) for k, v in zip(keys, values, strict=True)})


COMPILERS: dict[str, Compiler] = {
    **dict.fromkeys(MAP_METHODS, _compile_map_method),
    "mapEntry": _compile_map_entry,
    "object": _compile_object,
}
