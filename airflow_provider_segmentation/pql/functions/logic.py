"""Logic and comparison: ``not``, ``= != < <= > >=``, ``isNull``/``isNotNull``, ``if``."""

from __future__ import annotations

from airflow_provider_segmentation.pql import values as typed
from airflow_provider_segmentation.pql.ast import COMPARATORS, FnApply
from airflow_provider_segmentation.pql.runtime import DATA_ERRORS, Compiled, Compiler, Context


def _compile_not(node: FnApply, params: list[Compiled]) -> Compiled:
    (inner,) = params
    return lambda ctx: not inner(ctx)


def _compile_comparison(node: FnApply, params: list[Compiled]) -> Compiled:
    """``left op right`` with typed values (``pql.values``): false when either side is null or they do not
    compare (``"a" < 1``, ``true < 2``)."""
    op = node.fn
    left, right = params
    compare = COMPARATORS[op]

    def comparison(ctx: Context) -> bool:
        first, second = left(ctx), right(ctx)
        if first is None or second is None:
            return False
        if op in ("=", "!="):
            return typed.equal(first, second) == (op == "=")
        try:
            return typed.ordered(first, second) and bool(compare(first, second))
        except DATA_ERRORS:  # a naive and an aware datetime
            return False

    return comparison


def _compile_null_test(node: FnApply, params: list[Compiled]) -> Compiled:
    """``isNull``: the value is null or the empty array; ``isNotNull``: it is not."""
    (value,) = params
    wanted = node.fn == "isNull"
    return lambda ctx: (value(ctx) in (None, [])) == wanted


def _compile_if(node: FnApply, params: list[Compiled]) -> Compiled:
    test, then, otherwise = params
    return lambda ctx: then(ctx) if test(ctx) else otherwise(ctx)


COMPILERS: dict[str, Compiler] = {
    "not": _compile_not,
    **dict.fromkeys(COMPARATORS, _compile_comparison),
    "isNull": _compile_null_test,
    "isNotNull": _compile_null_test,
    "if": _compile_if,
}
