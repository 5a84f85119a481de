"""Static checks of one node, in one place: a literal's value against its type, a call's arity and its
literal arguments. The parser reports them with line and column; ``from_json``, ``to_json``, ``to_text``
and ``compile`` for any tree.

A call is checked when its arguments are literals (``date(2020, 2, 31)``, ``matches("(")``); what only
profile data can tell is left to evaluation, where it gives PQL's null (or false) instead of an error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from airflow_provider_segmentation.pql import patterns
from airflow_provider_segmentation.pql.ast import (
    AGGREGATE_METHODS,
    AGGREGATES,
    COMPARATORS,
    CURRENT_FUNCTIONS,
    DATE_METHODS,
    OCCURS_FORMS,
    RELATIVE_WORDS,
    TEXT_FUNCTIONS,
    UNITS,
    FnApply,
    Literal,
    Node,
    PQLError,
    continues_chain,
)
from airflow_provider_segmentation.pql.dates import date_of

CLAUSES = {**dict.fromkeys(OCCURS_FORMS, "WHEN"), "chainCount": "COUNT", "chainWhere": "WHERE"}
SCALAR_TYPES = {"String": (str,), "Integer": (int,), "Double": (float,), "Boolean": (bool,)}
# fn -> (fewest, most) params, receiver included for methods; None: no upper bound.
ARITY: dict[str, tuple[int, int | None]] = {
    **{op: (2, None) for op in ("and", "or")},
    **{op: (2, 2) for op in (*COMPARATORS, "in", "notIn", "like")},
    **{op: (2, 2) for op in ("+", "-", "*", "/", "%")},
    "not": (1, 1),
    "isNull": (1, 1),
    "isNotNull": (1, 1),
    "if": (3, 3),
    "date": (1, 3),
    "inSegment": (1, 1),
    **{word: (0, 0) for word in RELATIVE_WORDS},
    **{name: (0, 0) for name in CURRENT_FUNCTIONS},
    **{name: (1, 1) for name in DATE_METHODS},
    "relativePeriod": (2, 2),
    **{kind: (3, 3) for kind in ("exists", "forall", "select", "filter")},
    "let": (3, 3),
    "aggregateOver": (5, 5),
    "occurs": (6, 6),
    "occursBetween": (3, 3),
    **{kind: (2, 2) for kind in ("occursBefore", "occursAfter", "occursOn")},
    "chain": (3, None),
    "chainStep": (3, 6),
    "chainCount": (1, 1),
    "chainWhere": (1, 1),
    **{name: (1, 3) for name in TEXT_FUNCTIONS},
    **{name: (2, 2) for name in ("intersects", "intersection", "includes", "subsetOf", "supersetOf")},
    **{name: (1, 1) for name in ("distinct", "count", "head")},
    **{name: (1, 3) for name in AGGREGATE_METHODS},
    "groupBy": (3, 3),
    "map": (3, 4),
    "topN": (4, 4),
    "bottomN": (4, 4),
    "get": (2, 2),
    "keys": (1, 1),
    "values": (1, 1),
    "mapEntry": (2, 2),
    "object": (0, None),
}


def _scalar_problem(value: Any) -> str | None:
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value} is not a finite number"
    return f"{type(value).__name__} is not a literal value"


def literal_problem(node: Literal) -> str | None:
    """Why ``node`` cannot be written as pql/json or text, or None: its value must fit its ``literalType``."""
    kind, value = node.literal_type, node.value
    if kind == "Null":
        return None if value is None else "a Null literal holds a value"
    if kind == "List":
        if not isinstance(value, tuple | list):
            return "a List literal must hold an array"
        for item in value:
            problem = _scalar_problem(item)
            if problem is not None:
                return f"array literals may only hold numbers, strings, booleans and null ({problem})"
        return None
    if kind not in SCALAR_TYPES:
        return f"literalType {kind!r} is not one of String, Integer, Double, Boolean, Null, List"
    problem = _scalar_problem(value)
    if problem is not None:
        return problem
    if not isinstance(value, SCALAR_TYPES[kind]) or (kind != "Boolean" and isinstance(value, bool)):
        return f"a {kind} literal cannot hold {value!r}"
    return None


def arity_problem(fn: str, count: int) -> str | None:
    """Why ``count`` params do not suit ``fn`` (None when they do, or when ``fn`` is unknown here)."""
    fewest, most = ARITY.get(fn, (0, None))
    if count < fewest or (most is not None and count > most):
        wanted = f"{fewest}" if fewest == most else f"{fewest} to {most}" if most else f"at least {fewest}"
        return f"{fn} takes {wanted} parameter{'s' if most != 1 else ''}, not {count}"
    return None


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
    try:
        date_of(values)
    except ValueError as exc:
        return str(exc)
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
            _literal(params[1], "the occurs comparator", tuple(COMPARATORS))
            or _literal(params[3], "the occurs unit", UNITS)
            or _literal(params[4], "the occurs direction", ("before", "after", "from"))
        )
    if fn == "relativePeriod":
        return _literal(params[0], "the period", ("last", "this", "next")) or _literal(
            params[1], "the period unit", UNITS
        )
    if fn in ("exists", "forall", "select"):
        return _literal(params[0], f"the variable of {fn}")
    if fn == "let":
        return _literal(params[0], "the variable of let")
    if fn in ("filter", "groupBy", "topN", "bottomN") or (fn in AGGREGATE_METHODS and len(params) > 1):
        if len(params) == 2:
            return PQLError(f"{fn} takes a receiver alone, or a receiver, a variable and a value; not 2")
        problem_ = _literal(params[1], f"the variable of {fn}")
        if problem_ is None and fn in ("topN", "bottomN") and isinstance(params[3], Literal):
            amount = params[3].value
            if not _whole(amount) or amount < 0:
                return PQLError(f"the amount of {fn} must be a whole number, 0 or more, not {amount!r}")
        return problem_
    if fn == "map":
        problem_ = _literal(params[1], "the variable of map")
        if problem_ is None and len(params) == 4:
            problem_ = _literal(params[2], "the second variable of map")
            if problem_ is None and params[1] == params[2]:
                problem_ = PQLError("the two variables of map must have different names")
        return problem_
    if fn == "object":
        if len(params) % 2:
            return PQLError("an object takes keys and values in pairs")
        for key in params[::2]:
            problem_ = _literal(key, "an object key")
            if problem_ is not None:
                return problem_
        return None
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
        kinds: list[str] = []
        for clause in params[3:]:
            kind = CLAUSES.get(clause.fn, "") if isinstance(clause, FnApply) else ""
            if not kind:
                return PQLError("after WHAT, a CHAIN step takes WHEN (an occurs), COUNT and WHERE clauses")
            if kind in kinds:
                return PQLError(f"a CHAIN step takes at most one {kind}")
            kinds.append(kind)
        return None
    if fn == "chainCount":
        count: object = params[0].value if isinstance(params[0], Literal) else params[0]
        if isinstance(count, int) and not isinstance(count, bool) and count >= 1:
            return None
        return PQLError(f"COUNT in a CHAIN step takes a whole number, 1 or more, not {count!r}")
    return None


def node_problem(node: Node) -> PQLError | None:
    """``call_problem`` for calls, ``literal_problem`` for literals."""
    if isinstance(node, Literal):
        message = literal_problem(node)
        return None if message is None else PQLError(f"invalid literal: {message}")
    if isinstance(node, FnApply):
        return call_problem(node)
    return None


def flatten_chain(node: FnApply) -> tuple[Node, list[tuple[str, Node]]]:
    """A chain ``a op b op c ...`` of one group of infix operators (``ast.CHAIN_GROUPS``): its head and its
    (op, operand)s in order, walked in a loop; each inner link is checked here, as no walker visits it."""
    rights: list[tuple[str, Node]] = []
    head: FnApply = node
    while True:
        for param in reversed(head.params[1:]):
            rights.append((head.fn, param))
        left = head.params[0]
        if not (isinstance(left, FnApply) and continues_chain(head.fn, head.params, left)):
            break
        problem = call_problem(left)
        if problem is not None:
            raise problem
        head = left
    rights.reverse()
    return left, rights
