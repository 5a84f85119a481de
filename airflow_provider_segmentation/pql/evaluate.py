"""Evaluate a PQL tree against one XDM profile and its ExperienceEvents, at a fixed "now".

``compile_expression`` turns the tree into nested closures once, so that scanning many profiles costs
about one Python call per node per profile: a field path is one, and a run of tests of one path against
literals in an ``or`` (``zip = "10001" or zip = "10002" or ...``) is one set lookup however long.
Null semantics follow PQL: a comparison with null is false, ``notIn`` excludes nulls, string functions
are case-sensitive unless their flag says otherwise. Values keep their types (``pql.values``).
Dates, times and ``occurs`` are computed by ``dates``.

Compiling checks what the tree can tell by itself (``checks.call_problem``: arity, literal dates,
literal regular expressions, occurs parameters) and raises a ``PQLError``; running raises only for
``tomorrow``/``yesterday`` past the calendar (``PQLOutOfRangeError``) and ``MAX_STEPS``. What
only the data can tell gives PQL's null (false for a test): a function applied to values of the wrong
type, an impossible ``date(...)`` built from fields, a regular expression from a field that is invalid or
would backtrack badly (see ``patterns``), a group that does not exist, a division by zero. Arithmetic
stays small: ``- * / %`` take numbers only (``"ab" * 10**9`` is null, not a gigabyte), ``+`` adds
numbers, or joins two strings or two arrays, and a whole-number result beyond 64 bits becomes a double;
a result that is not finite is null. Chains such as ``a or b or ...`` (any length) run in a loop; other
nesting is at most ``MAX_DEPTH`` deep, so neither compiling nor running can exhaust Python's stack.

Loops over arrays (quantifiers, filters, aggregates, CHAIN, and the per-item methods ``map``,
``groupBy``, ``topN``/``bottomN``, ``sum(...)``...) multiply: ``exists X from xEvent where
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
from datetime import datetime
from typing import Any

from airflow_provider_segmentation.pql import patterns
from airflow_provider_segmentation.pql import values as typed
from airflow_provider_segmentation.pql.ast import (
    AGGREGATE_METHODS,
    COLLECTION_FUNCTIONS,
    COMPARATORS,
    CURRENT_FUNCTIONS,
    DATE_METHODS,
    MAP_FUNCTIONS,
    OCCURS_FORMS,
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
    value_of,
)
from airflow_provider_segmentation.pql.checks import flatten_chain, node_problem
from airflow_provider_segmentation.pql.dates import DAY_OFFSETS, date_of, day_start, moment, occurs, period

ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
}
LONG_MAX = 2**63 - 1
LOOPS = frozenset(
    {"exists", "forall", "select", "filter", "aggregateOver", "chain", "map", "groupBy", "topN", "bottomN"}
)
MAX_LOOP_NESTING = 6
MAX_STEPS = 1_000_000
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


def _compile_comparison(op: str, left: Compiled, right: Compiled) -> Compiled:
    """``left op right`` with typed values (``pql.values``): false when either side is null or they do not
    compare (``"a" < 1``, ``true < 2``)."""
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
        "intersects": lambda: bool(typed.keys(items) & typed.keys(other)),
        "intersection": lambda: typed.intersection(items, other),
        "includes": lambda: any(typed.equal(args[0], item) for item in items) if args else False,
        "subsetOf": lambda: typed.keys(items) <= typed.keys(other),
        "supersetOf": lambda: typed.keys(items) >= typed.keys(other),
        "distinct": lambda: typed.distinct(items),
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


@dataclass(frozen=True)
class MapEntry:
    """``mapEntry(key, value)``: what ``map`` turns into one entry of a map."""

    key: Any
    value: Any


def _mapped(results: list[Any], from_map: bool) -> Any:
    """``map``'s results: a map when they are all ``mapEntry``s (or a map gave none), else a list."""
    if all(isinstance(result, MapEntry) for result in results) and (results or from_map):
        return {result.key: result.value for result in results}
    return results


def _flat(values: list[Any]) -> list[Any]:
    """One level of arrays opened: ``xEvent.sum(productListItems.priceTotal)`` adds every price."""
    flat: list[Any] = []
    for value in values:
        if isinstance(value, list):
            flat.extend(value)
        else:
            flat.append(value)
    return flat


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


def _is_loop(node: FnApply) -> bool:
    return node.fn in LOOPS or (node.fn in AGGREGATE_METHODS and len(node.params) == 3)


def _loop_nesting(node: Node) -> int:
    """The most loops (quantifiers, filters...) on one path from the root, walked with a stack."""
    deepest = 0
    stack: list[tuple[Node, int]] = [(node, 0)]
    while stack:
        item, loops = stack.pop()
        if isinstance(item, FnApply):
            loops += _is_loop(item)
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
        return _compile_path(node)
    if isinstance(node, FnApply):
        return _compile_fn(node)
    raise PQLError(f"not a PQL node: {type(node).__name__}")


def _compile_path(node: FieldLookup) -> Compiled:
    """``a.b.c``: one closure that looks up each name in turn (a wide expression of paths stays cheap)."""
    names: list[str] = []
    base: Node = node
    while isinstance(base, FieldLookup):
        names.append(base.field_name)
        base = base.object
    names.reverse()
    start = None if isinstance(base, ParameterReference) else _compile(base)

    def lookup(ctx: Context) -> Any:
        value = ctx.profile if start is None else start(ctx)
        for name in names:
            if type(value) is dict or isinstance(value, Mapping):
                value = value.get(name)
            elif isinstance(value, list):  # a path through an array collects the values
                value = [v.get(name) for v in value if isinstance(v, Mapping) and v.get(name) is not None]
            else:
                return None
        return value

    return lookup


SET_TESTS = {"or": ("=", "in"), "and": ("!=", "notIn")}
"""The tests that a run of, in an ``or``, ``a = 1 or a = 2 or a in [3, 4]`` (in an ``and``, ``a != 1 and
a notIn [2]``) on one path turns into one set lookup: a 20,000-term ``or`` of postcodes costs one."""


def _set_test(node: Node, junction: str) -> tuple[FieldLookup, list[Any]] | None:
    """The path and the literal values of ``node`` if it is one of ``SET_TESTS[junction]`` on a plain
    path (pure: no loop, nothing to count) against valid literals, else None (compiled as it is)."""
    if not (isinstance(node, FnApply) and node.fn in SET_TESTS[junction] and len(node.params) == 2):
        return None  # with two params the call itself is right: only the literal is left to check
    path, values = node.params
    if not isinstance(path, FieldLookup) or not isinstance(values, Literal):
        return None
    if values.literal_type == "Null" or node_problem(values) is not None:
        return None  # "a != null" is false whatever a is; an invalid literal is for _compile to report
    is_list = values.literal_type == "List"
    if is_list != (node.fn in ("in", "notIn")):  # "a = [1, 2]" compares arrays
        return None
    base: Node = path
    while isinstance(base, FieldLookup):
        base = base.object
    if not isinstance(base, ParameterReference | VariableReference):
        return None
    return path, [value for value in (values.value if is_list else (values.value,)) if value is not None]


def _compile_junction(node: FnApply) -> Compiled:
    """``a or b or ...`` / ``a and b and ...`` in a loop; runs of tests of one path against literals
    (``SET_TESTS``) become one set lookup with the same result as the tests one by one."""
    head, others = flatten_chain(node)
    operands: list[Compiled] = []
    run_path: FieldLookup | None = None
    run_values: list[Any] = []
    for operand_node in (head, *(operand for _, operand in others)):
        test = _set_test(operand_node, node.fn)
        if test is not None and run_path is not None and test[0] == run_path:
            run_values += test[1]
            continue
        if run_path is not None:
            operands.append(_compile_set_test(run_path, run_values, negated=node.fn == "and"))
            run_path = None
        if test is not None:
            run_path, run_values = test[0], list(test[1])
        else:
            operands.append(_compile(operand_node))
    if run_path is not None:
        operands.append(_compile_set_test(run_path, run_values, negated=node.fn == "and"))
    if node.fn == "and":
        return lambda ctx: all(operand(ctx) for operand in operands)
    return lambda ctx: any(operand(ctx) for operand in operands)


def _compile_set_test(path: FieldLookup, literals: list[Any], *, negated: bool) -> Compiled:
    """Is the path's value one of ``literals`` (not one of them, ``negated``)? Null is neither, as for
    ``=``/``in`` one by one, and as there ``true`` is not ``1`` (typed keys)."""
    lookup, wanted = _compile(path), frozenset(typed.key(literal) for literal in literals)

    def member(ctx: Context) -> bool:
        value = lookup(ctx)
        if value is None:
            return False
        try:
            return (typed.key(value) in wanted) != negated
        except TypeError:  # unhashable data of no PQL type (a set...)
            return negated

    return member


def _compile_fn(node: FnApply) -> Compiled:
    fn = node.fn
    if fn == "chain":
        return _compile_chain(node)
    if fn in ("and", "or"):
        return _compile_junction(node)
    if fn in ARITHMETIC:
        head, chained = flatten_chain(node)
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
    if fn in COMPARATORS:
        return _compile_comparison(fn, *params)
    if fn in ("in", "notIn"):
        value, choices = params

        def membership(ctx: Context) -> bool:
            item = value(ctx)
            if item is None:
                return False
            return any(typed.equal(item, choice) for choice in _as_list(choices(ctx))) == (fn == "in")

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
        return _guarded(lambda ctx: date_of([p(ctx) for p in params]))
    if fn == "now":
        return lambda ctx: ctx.now
    if fn in DAY_OFFSETS:
        return lambda ctx: day_start(fn, ctx.now)
    if fn == "relativePeriod":
        which, unit = value_of(node.params[0]), value_of(node.params[1])
        return _guarded(lambda ctx: period(which, unit, ctx.now))
    if fn == "inSegment":
        (segment,) = params
        return lambda ctx: ctx.in_segment(str(segment(ctx)))
    if fn in CURRENT_FUNCTIONS:
        part = CURRENT_FUNCTIONS[fn]
        return lambda ctx: getattr(ctx.now, part)
    if fn in DATE_METHODS:
        (value,) = params
        part = DATE_METHODS[fn]
        return _guarded(lambda ctx: getattr(moment(value(ctx)), part, None))
    if fn == "mapEntry":
        key, entry_value = params
        return lambda ctx: MapEntry(key(ctx), entry_value(ctx))
    if fn == "object":
        keys = [value_of(param) for param in node.params[::2]]
        values = params[1::2]
        return _guarded(lambda ctx: {k: v(ctx) for k, v in zip(keys, values, strict=True)})
    if fn == "let":
        return _compile_let(node, params)
    if fn in ("map", "groupBy", "topN", "bottomN") or (fn in AGGREGATE_METHODS and len(params) == 3):
        return _compile_item_method(node, params)
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
    if fn in OCCURS_FORMS:
        subject, *anchors = params
        occurs_at = _guarded(lambda ctx: occurs(fn, subject(ctx), [a(ctx) for a in anchors]))
        return lambda ctx: bool(occurs_at(ctx))
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


_UNSET = object()


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
            items = _as_list(value)
        results = []
        for item in items:
            _step(ctx)
            if len(names) == 2:
                ctx.variables[names[0]], ctx.variables[names[1]] = item
            else:
                ctx.variables[names[0]] = item
            results.append((item, body(ctx)))
        return results

    if fn == "map":
        return _guarded(lambda ctx: _mapped([result for _, result in per_item(ctx)], len(names) == 2))
    if fn in AGGREGATE_METHODS:
        return _guarded(lambda ctx: _collection_fn(fn, _flat([result for _, result in per_item(ctx)]), []))
    if fn == "groupBy":

        def group_by(ctx: Context) -> dict[Any, list[Any]]:
            groups: dict[Any, list[Any]] = {}
            for item, key in per_item(ctx):
                groups.setdefault(key, []).append(item)
            return groups

        return _guarded(group_by)
    amount = params[3]

    def top_or_bottom(ctx: Context) -> list[Any] | None:
        """topN: the N items of highest value, highest first; bottomN: the N lowest, lowest first."""
        count = amount(ctx)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return None
        scored = [(key, item) for item, key in per_item(ctx) if key is not None]
        scored.sort(key=lambda pair: pair[0], reverse=fn == "topN")  # stable: ties keep their order
        return [item for _, item in scored[:count]]

    return _guarded(top_or_bottom)


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
    """CHAIN: the steps' events occur in timestamp order, each matching its WHAT (and WHEN, WHERE);
    a step with COUNT(n) needs n such events, the next step starting after the n-th."""
    source, timestamp = _compile(node.params[0]), value_of(node.params[1])
    steps = []
    for step in node.params[2:]:
        assert isinstance(step, FnApply)  # checked by node_problem
        problem = node_problem(step)
        if problem is not None:
            raise problem
        variable = value_of(step.params[1])
        checks = [_compile(step.params[2])]
        count = 1
        for clause in step.params[3:]:
            assert isinstance(clause, FnApply)  # checked by node_problem
            problem = node_problem(clause)
            if problem is not None:
                raise problem
            if clause.fn == "chainCount":
                count = value_of(clause.params[0])
            elif clause.fn == "chainWhere":
                checks.append(_compile(clause.params[0]))
            else:
                checks.append(_compile(clause))
        steps.append((variable, checks, count))

    def chain(ctx: Context) -> bool:
        events = sorted(
            (e for e in _as_list(source(ctx)) if isinstance(e, Mapping) and e.get(timestamp)),
            key=lambda e: e[timestamp],
        )
        position = 0
        for variable, checks, count in steps:
            found = 0
            while found < count and position < len(events):
                _step(ctx)
                ctx.variables[variable] = events[position]
                position += 1
                if all(check(ctx) for check in checks):
                    found += 1
            if found < count:
                return False
        return True

    guarded = _guarded(chain)
    return lambda ctx: bool(guarded(ctx))
