"""Evaluate a PQL tree against one XDM profile and its ExperienceEvents, at a fixed "now".

``compile_expression`` turns the tree into nested closures once, so that scanning many profiles costs
one Python call per node per profile. Null semantics follow PQL: a comparison with null is false,
``notIn`` excludes nulls, string functions are case-sensitive unless their flag says otherwise.
Durations use calendar approximations for month (30 days) and year (365 days).

Compiling checks what the tree can tell by itself (``checks.call_problem``: arity, literal dates,
literal regular expressions, occurs parameters) and raises a ``PQLError``; running never raises. What
only the data can tell gives PQL's null (false for a test): a function applied to values of the wrong
type, an impossible ``date(...)`` built from fields, a regular expression from a field that is invalid or
would backtrack badly (see ``patterns``), a group that does not exist, a division by zero. Arithmetic
stays small: ``- * / %`` take numbers only (``"ab" * 10**9`` is null, not a gigabyte), ``+`` adds
numbers, or joins two strings or two arrays, and a whole-number result beyond 64 bits becomes a double;
a result that is not finite is null. Chains such as ``a or b or ...`` (any length) run in a loop; other
nesting is at most ``MAX_DEPTH`` deep, so neither compiling nor running can exhaust Python's stack.

Loops over arrays (quantifiers, filters, aggregates, CHAIN) multiply: ``exists X from xEvent where
exists Y from xEvent where ...`` takes ``len(xEvent) ** depth`` steps. So they may nest at most
``MAX_LOOP_NESTING`` deep (``PQLTooComplexError`` when compiling), and one evaluation of a compiled
expression (one profile) may take at most ``MAX_STEPS`` loop steps, past which it raises
``PQLTooComplexError`` rather than run for hours.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_segmentation.pql import patterns
from airflow_provider_segmentation.pql.ast import (
    COLLECTION_FUNCTIONS,
    MAP_FUNCTIONS,
    TEXT_FUNCTIONS,
    FieldLookup,
    FnApply,
    Literal,
    Node,
    ParameterReference,
    PQLError,
    PQLTooComplexError,
    PQLUnsupportedError,
    VariableReference,
    _links,
    value_of,
)
from airflow_provider_segmentation.pql.checks import node_problem

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
LONG_MAX = 2**63 - 1
LOOPS = frozenset({"exists", "forall", "select", "filter", "aggregateOver", "chain"})
MAX_LOOP_NESTING = 6
MAX_STEPS = 1_000_000
OCCURS = ("occurs", "occursBetween", "occursBefore", "occursAfter", "occursOn")
# What a function applied to unsuitable data raises; it then gives null. Never RecursionError/MemoryError.
DATA_ERRORS = (TypeError, ValueError, ArithmeticError, LookupError, AttributeError)


@dataclass
class Context:
    profile: Mapping[str, Any]
    now: datetime
    in_segment: Callable[[str], bool] = lambda _segment_id: False
    variables: dict[str, Any] = field(default_factory=dict)
    steps: int = 0  # loop steps taken by the current evaluation; see MAX_STEPS


def _step(ctx: Context) -> None:
    ctx.steps += 1
    if ctx.steps > MAX_STEPS:
        raise PQLTooComplexError(
            problem=f"evaluating the expression for one profile takes more than {MAX_STEPS} loop steps "
            "(the limit); nested quantifiers or filters over long arrays multiply",
            limit=MAX_STEPS,
        )


Compiled = Callable[[Context], Any]


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None or right is None:
        return False
    try:
        return bool(COMPARE[op](left, right))
    except DATA_ERRORS:
        return False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    """``left op right``, or null when the operands do not suit ``op`` or the result is not finite."""
    if _is_number(left) and _is_number(right):
        try:
            result = ARITHMETIC[op](left, right)
            if isinstance(result, int) and not -LONG_MAX - 1 <= result <= LONG_MAX:
                result = float(result)
        except DATA_ERRORS:
            return None
        return result if isinstance(result, int) or math.isfinite(result) else None
    if op == "+" and type(left) is type(right) and isinstance(left, str | list):
        return left + right
    return None


def _text_fn(name: str, value: Any, args: Sequence[Any]) -> Any:
    if name == "matches":
        return patterns.search(args[0] if args else None, value)
    if name == "regexGroup":
        return patterns.group(args[0] if args else None, value, args[1] if len(args) > 1 else 0)
    if not isinstance(value, str) or not args or not isinstance(args[0], str):
        return False
    case_sensitive = args[1] if len(args) > 1 and isinstance(args[1], bool) else True
    subject, needle = (value, args[0]) if case_sensitive else (value.lower(), args[0].lower())
    if name == "startsWith":
        return subject.startswith(needle)
    if name == "endsWith":
        return subject.endswith(needle)
    if name == "contains":
        return needle in subject
    if name == "equals":
        return subject == needle
    if name == "doesNotStartWith":
        return not subject.startswith(needle)
    if name == "doesNotEndWith":
        return not subject.endswith(needle)
    if name == "doesNotContain":
        return needle not in subject
    return subject != needle  # notEqualTo


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple | set) else [value]


def _collection_fn(name: str, value: Any, args: Sequence[Any]) -> Any:
    items = _as_list(value)
    other = _as_list(args[0]) if args else []
    numbers = [v for v in items if _is_number(v)]
    return {
        "intersects": lambda: bool(set(items) & set(other)),
        "includes": lambda: args[0] in items if args else False,
        "subsetOf": lambda: set(items) <= set(other),
        "supersetOf": lambda: set(items) >= set(other),
        "distinct": lambda: list(dict.fromkeys(items)),
        "count": lambda: len(items),
        "sum": lambda: _finite(math.fsum(numbers)),
        "average": lambda: _finite(math.fsum(numbers) / len(numbers)) if numbers else None,
        "min": lambda: min(numbers) if numbers else None,
        "max": lambda: max(numbers) if numbers else None,
        "head": lambda: items[0] if items else None,
    }[name]()


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _map_fn(name: str, value: Any, args: Sequence[Any]) -> Any:
    if not isinstance(value, Mapping):
        return None
    if name == "get":
        return value.get(args[0])
    return list(value.keys()) if name == "keys" else list(value.values())


def _date(*parts: Any) -> datetime | None:
    if not all(isinstance(p, int) and not isinstance(p, bool) for p in parts):
        return None
    try:
        return datetime(*parts, *[1] * (3 - len(parts))).replace(tzinfo=timezone.utc)
    except DATA_ERRORS:
        return None


def _start_of_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _period(which: str, unit: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of this/last/next day, week (Monday first), month or year."""
    today = _start_of_day(now)
    shift = {"last": -1, "this": 0, "next": 1}[which]
    if unit == "day":
        start, step = today, timedelta(days=1)
        return start + shift * step, start + (shift + 1) * step
    if unit == "week":
        start = today - timedelta(days=today.weekday())
        return start + timedelta(weeks=shift), start + timedelta(weeks=shift + 1)
    if unit == "month":
        month_index = today.year * 12 + today.month - 1 + shift
        start = today.replace(year=month_index // 12, month=month_index % 12 + 1, day=1)
        following = month_index + 1
        return start, today.replace(year=following // 12, month=following % 12 + 1, day=1)
    year = today.year + shift  # "year"; checks.call_problem refused anything else
    return today.replace(year=year, month=1, day=1), today.replace(year=year + 1, month=1, day=1)


def _occurs(fn: str, subject: Any, args: Sequence[Any]) -> bool:
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
        return bool(subject < start)
    if fn == "occursAfter":
        return bool(subject >= end)
    return bool(start <= subject < end)


def compile_expression(node: Node) -> Compiled:
    """Turn a tree into a function of a ``Context``; ``PQLError`` for what the tree says is wrong.

    The function counts its loop steps afresh on each call (``MAX_STEPS``).
    """
    nesting = _loop_nesting(node)
    if nesting > MAX_LOOP_NESTING:
        raise PQLTooComplexError(
            problem=f"quantifiers, filters, aggregates and CHAINs nest {nesting} deep, more than "
            f"{MAX_LOOP_NESTING} (the limit): each level multiplies the work by the length of an array",
            limit=MAX_LOOP_NESTING,
        )
    compiled = _compile(node)

    def evaluate(ctx: Context) -> Any:
        ctx.steps = 0
        return compiled(ctx)

    return evaluate


def _loop_nesting(node: Node) -> int:
    """The most loops (quantifiers, filters...) on one path from the root, walked with a stack."""
    deepest = 0
    stack: list[tuple[Node, int]] = [(node, 0)]
    while stack:
        item, loops = stack.pop()
        if isinstance(item, FnApply):
            loops += item.fn in LOOPS
            deepest = max(deepest, loops)
            stack.extend((param, loops) for param in item.params)
        elif isinstance(item, FieldLookup):
            stack.append((item.object, loops))
    return deepest


def _compile(node: Node) -> Compiled:
    problem = node_problem(node)
    if problem is not None:
        raise problem
    if isinstance(node, Literal):
        value = list(node.value) if node.literal_type == "List" else node.value
        return lambda ctx: value
    if isinstance(node, ParameterReference):
        return lambda ctx: ctx.profile
    if isinstance(node, VariableReference):
        name = node.name
        return lambda ctx: ctx.variables.get(name)
    if isinstance(node, FieldLookup):
        obj, key = _compile(node.object), node.field_name

        def lookup(ctx: Context) -> Any:
            value = obj(ctx)
            if isinstance(value, Mapping):
                return value.get(key)
            if isinstance(value, list):  # a path through an array collects the values
                return [v.get(key) for v in value if isinstance(v, Mapping) and v.get(key) is not None]
            return None

        return lookup
    if isinstance(node, FnApply):
        return _compile_fn(node)
    raise PQLError(f"not a PQL node: {type(node).__name__}")


def _chain(node: FnApply) -> tuple[Node, list[tuple[str, Node]]]:
    """A chain ``a op b op c ...`` (one kind of infix operator): its head and its (op, operand)s."""
    rights: list[tuple[str, Node]] = []
    head: FnApply = node
    while True:
        for param in reversed(head.params[1:]):
            rights.append((head.fn, param))
        left = head.params[0]
        if not (isinstance(left, FnApply) and _links(head.fn, head.params, left)):
            break
        problem = node_problem(left)
        if problem is not None:
            raise problem
        head = left
    rights.reverse()
    return left, rights


def _compile_fn(node: FnApply) -> Compiled:
    fn = node.fn
    if fn == "chain":
        return _compile_chain(node)
    if fn in ("and", "or"):
        head, others = _chain(node)
        operands = [_compile(head)]
        for _, operand_node in others:
            operands.append(_compile(operand_node))
        if fn == "and":
            return lambda ctx: all(operand(ctx) for operand in operands)
        return lambda ctx: any(operand(ctx) for operand in operands)
    if fn in ARITHMETIC:
        head, chained = _chain(node)
        first = _compile(head)
        steps: list[tuple[str, Compiled]] = []
        for op, operand_node in chained:
            steps.append((op, _compile(operand_node)))

        def arithmetic(ctx: Context) -> Any:
            value = first(ctx)
            for op, operand in steps:
                right = operand(ctx)
                value = None if value is None or right is None else _arithmetic(op, value, right)
            return value

        return arithmetic
    params: list[Compiled] = []
    for param in node.params:
        params.append(_compile(param))
    if fn == "not":
        (inner,) = params
        return lambda ctx: not inner(ctx)
    if fn in COMPARE:
        left, right = params
        return lambda ctx: _compare(fn, left(ctx), right(ctx))
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

        def like(ctx: Context) -> bool:
            subject, wanted = value(ctx), pattern(ctx)
            return isinstance(subject, str) and isinstance(wanted, str) and patterns.like(subject, wanted)

        return like
    if fn in ("isNull", "isNotNull"):
        (value,) = params
        return lambda ctx: (value(ctx) in (None, [])) == (fn == "isNull")
    if fn == "if":
        test, then, otherwise = params
        return lambda ctx: then(ctx) if test(ctx) else otherwise(ctx)
    if fn == "date":
        return lambda ctx: _date(*[p(ctx) for p in params])
    if fn == "now":
        return lambda ctx: ctx.now
    if fn in DAY_OFFSETS:
        offset = timedelta(days=DAY_OFFSETS[fn])
        return lambda ctx: _start_of_day(ctx.now) + offset
    if fn == "relativePeriod":
        which, unit = value_of(node.params[0]), value_of(node.params[1])
        return _guarded(lambda ctx: _period(which, unit, ctx.now))
    if fn == "inSegment":
        (segment,) = params
        return lambda ctx: ctx.in_segment(str(segment(ctx)))
    if fn == "exists":
        name = value_of(node.params[0])
        _, source, condition = params

        def exists(ctx: Context) -> bool:
            for item in _as_list(source(ctx)):
                _step(ctx)
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
                _step(ctx)
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
                _step(ctx)
                ctx.variables[name] = item
                if condition(ctx):
                    values.append(value(ctx))
            return _collection_fn(function, values, [])

        return _guarded(aggregate)
    if fn in OCCURS:
        subject, *anchors = params
        occurs = _guarded(lambda ctx: _occurs(fn, subject(ctx), [a(ctx) for a in anchors]))
        return lambda ctx: bool(occurs(ctx))
    handler = (
        _text_fn
        if fn in TEXT_FUNCTIONS
        else _collection_fn
        if fn in COLLECTION_FUNCTIONS
        else _map_fn
        if fn in MAP_FUNCTIONS
        else None
    )
    if handler is not None:
        receiver, *args = params

        def apply(ctx: Context) -> Any:
            values = [receiver(ctx)]
            for arg in args:
                values.append(arg(ctx))
            return handler(fn, values[0], values[1:])

        return _guarded(apply)
    raise PQLUnsupportedError(f"the function {fn} is not supported by the evaluator")


def _guarded(function: Compiled) -> Compiled:
    """``function``, with PQL's null instead of the errors unsuitable data raises."""

    def guarded(ctx: Context) -> Any:
        try:
            return function(ctx)
        except PQLError:  # MAX_STEPS from a loop inside: not a data problem
            raise
        except DATA_ERRORS:
            return None

    return guarded


def membership_lookup(members: Mapping[str, Set[str]], profile_id: str) -> Callable[[str], bool]:
    """The ``inSegment`` answer for one profile, from members per segment id."""
    return lambda segment_id: profile_id in members.get(segment_id, ())


def _compile_chain(node: FnApply) -> Compiled:
    """CHAIN: the steps' events occur in timestamp order, each matching its WHAT (and WHEN)."""
    source, timestamp = _compile(node.params[0]), value_of(node.params[1])
    steps = []
    for step in node.params[2:]:
        assert isinstance(step, FnApply)  # checked by node_problem
        problem = node_problem(step)
        if problem is not None:
            raise problem
        variable = value_of(step.params[1])
        checks = [_compile(p) for p in step.params[2:]]
        steps.append((variable, checks))

    def chain(ctx: Context) -> bool:
        events = sorted(
            (e for e in _as_list(source(ctx)) if isinstance(e, Mapping) and e.get(timestamp)),
            key=lambda e: e[timestamp],
        )
        position = 0
        for variable, checks in steps:
            while position < len(events):
                _step(ctx)
                ctx.variables[variable] = events[position]
                position += 1
                if all(check(ctx) for check in checks):
                    break
            else:
                return False
        return True

    guarded = _guarded(chain)
    return lambda ctx: bool(guarded(ctx))
