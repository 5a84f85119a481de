"""Evaluate a PQL tree against one XDM profile and its ExperienceEvents, at a fixed "now".

``compile_expression`` turns the tree into nested closures once, so that scanning many profiles costs
one Python call per node per profile. Null semantics follow PQL: a comparison with null is false,
``notIn`` excludes nulls, string functions are case-sensitive unless their flag says otherwise.
Durations use calendar approximations for month (30 days) and year (365 days).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

from airflow_provider_segmentation.pql.ast import (
    COLLECTION_FUNCTIONS,
    MAP_FUNCTIONS,
    TEXT_FUNCTIONS,
    FieldLookup,
    FnApply,
    Literal,
    Node,
    ParameterReference,
    PQLUnsupportedError,
    VariableReference,
    value_of,
)

UNIT_SECONDS = {
    "millisecond": 0.001,
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 604800,
    "month": 30 * 86400,
    "year": 365 * 86400,
    "decade": 3650 * 86400,
    "century": 36500 * 86400,
    "millennium": 365000 * 86400,
}
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
DAY_OFFSETS = {"yesterday": -1, "today": 0, "tomorrow": 1}
ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
}


@dataclass
class Context:
    profile: Mapping[str, Any]
    now: datetime
    in_segment: Callable[[str], bool] = lambda _segment_id: False
    variables: dict[str, Any] = field(default_factory=dict)


Compiled = Callable[[Context], Any]


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None or right is None:
        return False
    try:
        return COMPARE[op](left, right)
    except TypeError:
        return False


@cache
def _like_pattern(pattern: str) -> re.Pattern[str]:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL)


def _text_fn(name: str, value: Any, args: Sequence[Any]) -> Any:
    if not isinstance(value, str) or not args or not isinstance(args[0], str):
        return False if name not in ("regexGroup",) else None
    case_sensitive = args[1] if len(args) > 1 and isinstance(args[1], bool) else True
    subject, needle = (value, args[0]) if case_sensitive else (value.lower(), args[0].lower())
    results = {
        "startsWith": lambda: subject.startswith(needle),
        "endsWith": lambda: subject.endswith(needle),
        "contains": lambda: needle in subject,
        "equals": lambda: subject == needle,
        "doesNotStartWith": lambda: not subject.startswith(needle),
        "doesNotEndWith": lambda: not subject.endswith(needle),
        "doesNotContain": lambda: needle not in subject,
        "notEqualTo": lambda: subject != needle,
        "matches": lambda: re.search(args[0], value) is not None,
        "regexGroup": lambda: _regex_group(value, args),
    }
    return results[name]()


def _regex_group(value: str, args: Sequence[Any]) -> Any:
    match = re.search(args[0], value)
    group = int(args[1]) if len(args) > 1 else 0
    return match.group(group) if match else None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple | set) else [value]


def _collection_fn(name: str, value: Any, args: Sequence[Any]) -> Any:
    items = _as_list(value)
    other = _as_list(args[0]) if args else []
    numbers = [v for v in items if isinstance(v, int | float) and not isinstance(v, bool)]
    return {
        "intersects": lambda: bool(set(items) & set(other)),
        "includes": lambda: args[0] in items if args else False,
        "subsetOf": lambda: set(items) <= set(other),
        "supersetOf": lambda: set(items) >= set(other),
        "distinct": lambda: list(dict.fromkeys(items)),
        "count": lambda: len(items),
        "sum": lambda: sum(numbers),
        "average": lambda: sum(numbers) / len(numbers) if numbers else None,
        "min": lambda: min(numbers) if numbers else None,
        "max": lambda: max(numbers) if numbers else None,
        "head": lambda: items[0] if items else None,
    }[name]()


def _map_fn(name: str, value: Any, args: Sequence[Any]) -> Any:
    if not isinstance(value, Mapping):
        return None
    if name == "get":
        return value.get(args[0])
    return list(value.keys()) if name == "keys" else list(value.values())


def _date(year: int, month: int = 1, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=timezone.utc)


def _start_of_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _period(which: str, unit: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of this/last/next day, week (Monday first), month or year."""
    today = _start_of_day(now)
    if unit == "day":
        start, step = today, timedelta(days=1)
        shift = {"last": -1, "this": 0, "next": 1}[which]
        return start + shift * step, start + (shift + 1) * step
    if unit == "week":
        start = today - timedelta(days=today.weekday())
        shift = {"last": -1, "this": 0, "next": 1}[which]
        return start + timedelta(weeks=shift), start + timedelta(weeks=shift + 1)
    if unit == "month":
        month_index = today.year * 12 + today.month - 1 + {"last": -1, "this": 0, "next": 1}[which]
        start = today.replace(year=month_index // 12, month=month_index % 12 + 1, day=1)
        following = month_index + 1
        return start, today.replace(year=following // 12, month=following % 12 + 1, day=1)
    if unit == "year":
        year = today.year + {"last": -1, "this": 0, "next": 1}[which]
        return today.replace(year=year, month=1, day=1), today.replace(year=year + 1, month=1, day=1)
    raise PQLUnsupportedError(f"'{which} {unit}' is not supported; use day, week, month or year")


def _occurs(fn: str, subject: Any, args: Sequence[Any], ctx: Context) -> bool:
    if not isinstance(subject, datetime):
        return False
    if fn == "occurs":
        comparator, amount, unit, direction, anchor = args
        if not isinstance(anchor, datetime):
            return False
        seconds = (
            (anchor - subject).total_seconds()
            if direction == "before"
            else (subject - anchor).total_seconds()
        )
        return seconds >= 0 and _compare(comparator, seconds, amount * UNIT_SECONDS[unit])
    if fn == "occursBetween":
        return _compare("<=", args[0], subject) and _compare("<=", subject, args[1])
    anchor = args[0]
    if isinstance(anchor, tuple):  # a relative period
        start, end = anchor
    elif isinstance(anchor, datetime):
        start, end = _start_of_day(anchor), _start_of_day(anchor) + timedelta(days=1)
    else:
        return False
    if fn == "occursBefore":
        return subject < start
    if fn == "occursAfter":
        return subject >= end
    return start <= subject < end


def compile_expression(node: Node) -> Compiled:
    """Turn a tree into a function of a ``Context``."""
    if isinstance(node, Literal):
        value = list(node.value) if node.literal_type == "List" else node.value
        return lambda ctx: value
    if isinstance(node, ParameterReference):
        return lambda ctx: ctx.profile
    if isinstance(node, VariableReference):
        name = node.name
        return lambda ctx: ctx.variables.get(name)
    if isinstance(node, FieldLookup):
        obj, key = compile_expression(node.object), node.field_name

        def lookup(ctx: Context) -> Any:
            value = obj(ctx)
            if isinstance(value, Mapping):
                return value.get(key)
            if isinstance(value, list):  # a path through an array collects the values
                return [v.get(key) for v in value if isinstance(v, Mapping) and v.get(key) is not None]
            return None

        return lookup
    return _compile_fn(node)


def _compile_fn(node: FnApply) -> Compiled:
    fn = node.fn
    if fn == "chain":
        return _compile_chain(node)
    params = [compile_expression(p) for p in node.params]
    if fn == "and":
        left, right = params
        return lambda ctx: bool(left(ctx)) and bool(right(ctx))
    if fn == "or":
        left, right = params
        return lambda ctx: bool(left(ctx)) or bool(right(ctx))
    if fn == "not":
        (inner,) = params
        return lambda ctx: not inner(ctx)
    if fn in COMPARE:
        left, right = params
        return lambda ctx: _compare(fn, left(ctx), right(ctx))
    if fn in ARITHMETIC:
        left, right = params

        def arithmetic(ctx: Context) -> Any:
            a, b = left(ctx), right(ctx)
            try:
                return None if a is None or b is None else ARITHMETIC[fn](a, b)
            except (TypeError, ZeroDivisionError):
                return None

        return arithmetic
    if fn in ("in", "notIn"):
        value, choices = params

        def membership(ctx: Context) -> bool:
            item = value(ctx)
            if item is None:
                return False
            return (item in _as_list(choices(ctx))) == (fn == "in")

        return membership
    if fn == "like":
        value, pattern = params
        return lambda ctx: (
            isinstance(value(ctx), str)
            and isinstance(pattern(ctx), str)
            and bool(_like_pattern(pattern(ctx)).fullmatch(value(ctx)))
        )
    if fn in ("isNull", "isNotNull"):
        (value,) = params
        return lambda ctx: (value(ctx) in (None, [])) == (fn == "isNull")
    if fn == "if":
        test, then, otherwise = params
        return lambda ctx: then(ctx) if test(ctx) else otherwise(ctx)
    if fn == "date":
        return lambda ctx: _date(*(int(p(ctx)) for p in params))
    if fn == "now":
        return lambda ctx: ctx.now
    if fn in DAY_OFFSETS:
        offset = timedelta(days=DAY_OFFSETS[fn])
        return lambda ctx: _start_of_day(ctx.now) + offset
    if fn == "relativePeriod":
        which, unit = (p(Context({}, datetime.now(timezone.utc))) for p in params)
        return lambda ctx: _period(which, unit, ctx.now)
    if fn == "inSegment":
        (segment,) = params
        return lambda ctx: ctx.in_segment(str(segment(ctx)))
    if fn == "exists":
        name = value_of(node.params[0])
        _, source, condition = params

        def exists(ctx: Context) -> bool:
            for item in _as_list(source(ctx)):
                ctx.variables[name] = item
                if condition(ctx):
                    return True
            return False

        return exists
    if fn in ("forall", "select", "filter"):
        name = value_of(node.params[1] if fn == "filter" else node.params[0])
        source, condition = (params[0], params[2]) if fn == "filter" else (params[1], params[2])

        def over_items(ctx: Context) -> Any:
            kept = []
            for item in _as_list(source(ctx)):
                ctx.variables[name] = item
                passed = bool(condition(ctx))
                if fn == "forall" and not passed:
                    return False
                if passed:
                    kept.append(item)
            return True if fn == "forall" else kept

        return over_items
    if fn == "aggregateOver":
        function, name = value_of(node.params[0]), value_of(node.params[1])
        _, _, source, condition, value = params

        def aggregate(ctx: Context) -> Any:
            values = []
            for item in _as_list(source(ctx)):
                ctx.variables[name] = item
                if condition(ctx):
                    values.append(value(ctx))
            return _collection_fn(function, values, [])

        return aggregate
    if fn.startswith("occurs"):
        subject, *rest = params
        return lambda ctx: _occurs(fn, subject(ctx), [r(ctx) for r in rest], ctx)
    receiver, *args = params
    for group, handler in (
        (TEXT_FUNCTIONS, _text_fn),
        (COLLECTION_FUNCTIONS, _collection_fn),
        (MAP_FUNCTIONS, _map_fn),
    ):
        if fn in group:
            return lambda ctx, h=handler: h(fn, receiver(ctx), [a(ctx) for a in args])  # type: ignore[misc]
    raise PQLUnsupportedError(f"the function {fn} is not supported by the evaluator")


def membership_lookup(members: Mapping[str, Set[str]], profile_id: str) -> Callable[[str], bool]:
    """The ``inSegment`` answer for one profile, from members per segment id."""
    return lambda segment_id: profile_id in members.get(segment_id, ())


def _compile_chain(node: FnApply) -> Compiled:
    """CHAIN: the steps' events occur in timestamp order, each matching its WHAT (and WHEN)."""
    source, timestamp = compile_expression(node.params[0]), value_of(node.params[1])
    steps = []
    for step in node.params[2:]:
        assert isinstance(step, FnApply)
        variable = value_of(step.params[1])
        checks = [compile_expression(p) for p in step.params[2:]]
        steps.append((variable, checks))

    def chain(ctx: Context) -> bool:
        events = sorted(
            (e for e in _as_list(source(ctx)) if isinstance(e, Mapping) and e.get(timestamp)),
            key=lambda e: e[timestamp],
        )
        position = 0
        for variable, checks in steps:
            while position < len(events):
                ctx.variables[variable] = events[position]
                position += 1
                if all(check(ctx) for check in checks):
                    break
            else:
                return False
        return True

    return chain
