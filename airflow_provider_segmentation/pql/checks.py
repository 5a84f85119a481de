"""Static checks of one call: the parser reports them with line and column, ``compile`` for any tree.

A call is checked when its arguments are literals (``date(2020, 2, 31)``, ``matches("(")``); what only
profile data can tell is left to evaluation, where it gives PQL's null (or false) instead of an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from airflow_provider_segmentation.pql import patterns
from airflow_provider_segmentation.pql.ast import (
    FnApply,
    Literal,
    Node,
    PQLError,
    PQLUnsupportedError,
    arity_problem,
    literal_problem,
)

COMPARATORS = ("=", "!=", "<", "<=", ">", ">=")
UNITS = (
    "millisecond",
    "second",
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "year",
    "decade",
    "century",
    "millennium",
)
PERIOD_UNITS = ("day", "week", "month", "year")
AGGREGATES = ("sum", "count", "average", "min", "max")


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _literal(node: Node, what: str, allowed: Sequence[object] | None = None) -> PQLError | None:
    if not isinstance(node, Literal):
        return PQLError(f"{what} must be a literal, found {type(node).__name__}")
    if allowed is not None and node.value not in allowed:
        return PQLError(f"{what} must be one of {', '.join(map(str, allowed))}, not {node.value!r}")
    if allowed is None and not isinstance(node.value, str):
        return PQLError(f"{what} must be a name, not {node.value!r}")
    return None


def date_problem(values: Sequence[object]) -> str | None:
    """Why ``date(*values)`` is not a date (None when it is)."""
    if not all(_whole(v) for v in values):
        return "date() takes whole numbers: year, month, day"
    try:
        datetime(*values, *[1] * (3 - len(values))).replace(tzinfo=timezone.utc)  # type: ignore[arg-type]
    except (ValueError, OverflowError, TypeError) as exc:
        return f"date({', '.join(map(str, values))}) is not a date: {exc}"
    return None


def call_problem(node: FnApply) -> PQLError | None:
    """What is statically wrong with ``node`` itself (its params are checked on their own), or None."""
    fn, params = node.fn, node.params
    problem = arity_problem(fn, len(params))
    if problem is not None:
        return PQLError(problem)
    literals = [p.value for p in params if isinstance(p, Literal)]
    all_literal = len(literals) == len(params)
    if fn == "date" and all_literal:
        message = date_problem(literals)
        return None if message is None else PQLError(message)
    if fn in ("matches", "regexGroup") and len(params) > 1 and isinstance(params[1], Literal):
        pattern = params[1].value
        if not isinstance(pattern, str):
            return PQLError(f"{fn}() takes a regular expression string, not {pattern!r}")
        try:
            checked = patterns.check(pattern, search=fn == "matches")
        except PQLError as exc:
            return exc
        if fn == "regexGroup" and len(params) > 2 and isinstance(params[2], Literal):
            number = params[2].value
            if not _whole(number) or not 0 <= number <= checked.regex.groups:
                return PQLError(
                    f"regexGroup({pattern!r}, {number!r}): the pattern has {checked.regex.groups} group(s); "
                    f"the group must be a whole number from 0 to {checked.regex.groups}"
                )
        return None
    if fn == "occurs":
        amount = params[2]
        if not isinstance(amount, Literal) or not _whole(amount.value):
            return PQLError("the amount of an occurs duration must be a whole number")
        return (
            _literal(params[1], "the occurs comparator", COMPARATORS)
            or _literal(params[3], "the occurs unit", UNITS)
            or _literal(params[4], "the occurs direction", ("before", "after", "from"))
        )
    if fn == "relativePeriod":
        problem_ = _literal(params[0], "the period", ("last", "this", "next")) or _literal(
            params[1], "the period unit", UNITS
        )
        if problem_ is not None:
            return problem_
        which, unit = literals
        if unit not in PERIOD_UNITS:
            return PQLUnsupportedError(f"'{which} {unit}' is not supported; use day, week, month or year")
        return None
    if fn in ("exists", "forall", "select"):
        return _literal(params[0], f"the variable of {fn}")
    if fn == "filter":
        return _literal(params[1], "the variable of a filter")
    if fn == "aggregateOver":
        return _literal(params[0], "the aggregate function", AGGREGATES) or _literal(
            params[1], "the variable of an aggregate"
        )
    if fn == "chain":
        problem_ = _literal(params[1], "the timestamp field of CHAIN")
        if problem_ is not None:
            return problem_
        for step in params[2:]:
            if not isinstance(step, FnApply) or step.fn != "chainStep":
                return PQLError("the steps of CHAIN must be chainStep nodes")
        return None
    if fn == "chainStep":
        problem_ = _literal(params[0], "the label of a CHAIN step") or _literal(
            params[1], "the variable of a CHAIN step"
        )
        if problem_ is not None:
            return problem_
        if len(params) == 4 and not (isinstance(params[3], FnApply) and params[3].fn.startswith("occurs")):
            return PQLError("the WHEN of a CHAIN step must be an occurs condition")
        return None
    return None


def node_problem(node: Node) -> PQLError | None:
    """``call_problem`` for calls, ``literal_problem`` for literals."""
    if isinstance(node, Literal):
        message = literal_problem(node)
        return None if message is None else PQLError(f"invalid literal: {message}")
    if isinstance(node, FnApply):
        return call_problem(node)
    return None
