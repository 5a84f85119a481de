"""Membership: ``in``/``notIn`` a list (typed equality, ``pql.values``; null is in nothing) and
``inSegment(id)`` (the ``Context`` answers)."""

from __future__ import annotations

from airflow_provider_segmentation.pql import values as typed
from airflow_provider_segmentation.pql.ast import FnApply
from airflow_provider_segmentation.pql.runtime import Compiled, Compiler, Context, as_list


def _compile_in(node: FnApply, params: list[Compiled]) -> Compiled:
    value, choices = params
    wanted = node.fn == "in"

    def membership(ctx: Context) -> bool:
        item = value(ctx)
        if item is None:
            return False
        return any(typed.equal(item, choice) for choice in as_list(choices(ctx))) == wanted

    return membership


def _compile_in_segment(node: FnApply, params: list[Compiled]) -> Compiled:
    (segment,) = params
    return lambda ctx: ctx.in_segment(str(segment(ctx)))


COMPILERS: dict[str, Compiler] = {
    "in": _compile_in,
    "notIn": _compile_in,
    "inSegment": _compile_in_segment,
}
