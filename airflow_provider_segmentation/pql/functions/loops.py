"""Loops over the items of an array and variables: ``exists``, ``forall``, ``select``/``filter``,
``aggregateOver``, the per-item methods ``map``, ``groupBy``, ``topN``/``bottomN`` and
``sum``/``average``/``min``/``max`` of a value per item, and ``let``.

Each item is one loop step of the evaluation (``runtime.MAX_STEPS``); an item is bound to its variable in
``Context.variables`` while the body runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_segmentation.pql.ast import AGGREGATE_METHODS, FnApply, value_of
from airflow_provider_segmentation.pql.functions.arrays import ARRAY_METHODS, compile_array_method
from airflow_provider_segmentation.pql.functions.maps import mapped
from airflow_provider_segmentation.pql.runtime import Compiled, Compiler, Context, as_list, guarded, step

_UNSET = object()


def _compile_exists(node: FnApply, params: list[Compiled]) -> Compiled:
    name = value_of(node.params[0])
    _, source, condition = params

    def exists(ctx: Context) -> bool:
        for item in as_list(source(ctx)):
            step(ctx)
            ctx.variables[name] = item
            if condition(ctx):
                return True
        return False

    return exists


def _compile_over_items(node: FnApply, params: list[Compiled]) -> Compiled:
    """``forall`` (every item passes), ``select``/``filter`` (the items that pass)."""
    fn = node.fn
    name = value_of(node.params[1] if fn == "filter" else node.params[0])
    source, condition = (params[0], params[2]) if fn == "filter" else (params[1], params[2])

    def over_items(ctx: Context) -> Any:
        kept = []
        for item in as_list(source(ctx)):
            step(ctx)
            ctx.variables[name] = item
            passed = bool(condition(ctx))
            if fn == "forall" and not passed:
                return False
            if passed:
                kept.append(item)
        return True if fn == "forall" else kept

    return over_items


def _compile_aggregate_over(node: FnApply, params: list[Compiled]) -> Compiled:
    function, name = value_of(node.params[0]), value_of(node.params[1])
    _, _, source, condition, value = params

    def aggregate(ctx: Context) -> Any:
        values = []
        for item in as_list(source(ctx)):
            step(ctx)
            ctx.variables[name] = item
            if condition(ctx):
                values.append(value(ctx))
        return ARRAY_METHODS[function](as_list(values), [])

    return guarded(aggregate)


def _compile_let(node: FnApply, params: list[Compiled]) -> Compiled:
    """``let S = value in body``: ``value`` once, then ``body`` with ``S`` standing for it."""
    name = value_of(node.params[0])
    _, value, body = params

    def let(ctx: Context) -> Any:
        previous = ctx.variables.get(name, _UNSET)
        ctx.variables[name] = value(ctx)
        try:
            return body(ctx)
        finally:
            if previous is _UNSET:
                ctx.variables.pop(name, None)
            else:
                ctx.variables[name] = previous

    return let


def _flat(values: list[Any]) -> list[Any]:
    """One level of arrays opened: ``xEvent.sum(productListItems.priceTotal)`` adds every price."""
    flat: list[Any] = []
    for value in values:
        if isinstance(value, list):
            flat.extend(value)
        else:
            flat.append(value)
    return flat


def _compile_aggregate(node: FnApply, params: list[Compiled]) -> Compiled:
    """``xs.sum(x.price)`` loops over the items (a per-item value); ``xs.sum()`` adds the array's numbers."""
    if len(params) == 3:
        return _compile_item_method(node, params)
    return compile_array_method(node, params)


def _compile_item_method(node: FnApply, params: list[Compiled]) -> Compiled:
    """``map``, ``groupBy``, ``topN``/``bottomN`` and ``sum``/``average``/``min``/``max`` of a value per
    item: one loop step per item (``MAX_STEPS``)."""
    fn = node.fn
    source, body = params[0], params[-1] if fn in ("map", *AGGREGATE_METHODS) else params[2]
    names = [value_of(param) for param in node.params[1:-1]] if fn == "map" else [value_of(node.params[1])]

    def per_item(ctx: Context) -> list[tuple[Any, Any]]:
        """(item, body's value for it) for each item of the source; a map's entries with two names."""
        value = source(ctx)
        if len(names) == 2:
            if not isinstance(value, Mapping):
                raise TypeError("a map with (key, value) => ... needs a map")
            items: list[Any] = list(value.items())
        else:
            items = as_list(value)
        results = []
        for item in items:
            step(ctx)
            if len(names) == 2:
                ctx.variables[names[0]], ctx.variables[names[1]] = item
            else:
                ctx.variables[names[0]] = item
            results.append((item, body(ctx)))
        return results

    if fn == "map":
        return guarded(lambda ctx: mapped([result for _, result in per_item(ctx)], len(names) == 2))
    if fn in AGGREGATE_METHODS:
        aggregate = ARRAY_METHODS[fn]
        return guarded(lambda ctx: aggregate(_flat([result for _, result in per_item(ctx)]), []))
    if fn == "groupBy":

        def group_by(ctx: Context) -> dict[Any, list[Any]]:
            groups: dict[Any, list[Any]] = {}
            for item, key in per_item(ctx):
                groups.setdefault(key, []).append(item)
            return groups

        return guarded(group_by)
    amount = params[3]

    def top_or_bottom(ctx: Context) -> list[Any] | None:
        """topN: the N items of highest value, highest first; bottomN: the N lowest, lowest first."""
        count = amount(ctx)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return None
        scored = [(key, item) for item, key in per_item(ctx) if key is not None]
        scored.sort(key=lambda pair: pair[0], reverse=fn == "topN")  # stable: ties keep their order
        return [item for _, item in scored[:count]]

    return guarded(top_or_bottom)


COMPILERS: dict[str, Compiler] = {
    "exists": _compile_exists,
    **dict.fromkeys(("forall", "select", "filter"), _compile_over_items),
    "aggregateOver": _compile_aggregate_over,
    "let": _compile_let,
    **dict.fromkeys(("map", "groupBy", "topN", "bottomN"), _compile_item_method),
    **dict.fromkeys(AGGREGATE_METHODS, _compile_aggregate),
}
