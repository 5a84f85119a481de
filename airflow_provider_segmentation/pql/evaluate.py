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
from collections.abc import Callable, Mapping, Set
from typing import Any

from airflow_provider_segmentation.pql import values as typed
from airflow_provider_segmentation.pql.ast import (
    AGGREGATE_METHODS,
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
from airflow_provider_segmentation.pql.functions import COMPILERS
from airflow_provider_segmentation.pql.runtime import (
    DATA_ERRORS,
    MAX_STEPS,
    Compiled,
    Context,
    as_list,
    guarded,
    is_number,
    step,
)

__all__ = ["MAX_LOOP_NESTING", "MAX_STEPS", "Compiled", "Context", "compile_expression", "membership_lookup"]

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


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    """``left op right``, or null when the operands do not suit ``op`` or the result is not finite."""
    if is_number(left) and is_number(right):
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
    """A function call: the forms that compile their own operands here, the others from their family's
    table (``functions``) with their parameters compiled."""
    fn = node.fn
    if fn == "chain":
        return _compile_chain(node)
    if fn in ("and", "or"):
        return _compile_junction(node)
    if fn in ARITHMETIC:
        return _compile_arithmetic(node)
    params = [_compile(param) for param in node.params]
    compiler = COMPILERS.get(fn)
    if compiler is None:
        raise PQLUnsupportedError(f"the function {fn} is not supported by the evaluator")
    return compiler(node, params)


def _compile_arithmetic(node: FnApply) -> Compiled:
    """``a + b - c ...`` left to right in a loop; null as soon as an operand is null."""
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


def membership_lookup(members: Mapping[str, Set[str]], profile_id: str) -> Callable[[str], bool]:
    """The ``inSegment`` answer for one profile, from members per segment id."""
    return lambda segment_id: profile_id in members.get(segment_id, ())


def _compile_chain(node: FnApply) -> Compiled:
    """CHAIN: the steps' events occur in timestamp order, each matching its WHAT (and WHEN, WHERE);
    a step with COUNT(n) needs n such events, the next step starting after the n-th."""
    source, timestamp = _compile(node.params[0]), value_of(node.params[1])
    steps = []
    for chain_step in node.params[2:]:
        assert isinstance(chain_step, FnApply)  # checked by node_problem
        problem = node_problem(chain_step)
        if problem is not None:
            raise problem
        variable = value_of(chain_step.params[1])
        checks = [_compile(chain_step.params[2])]
        count = 1
        for clause in chain_step.params[3:]:
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
            (e for e in as_list(source(ctx)) if isinstance(e, Mapping) and e.get(timestamp)),
            key=lambda e: e[timestamp],
        )
        position = 0
        for variable, checks, count in steps:
            found = 0
            while found < count and position < len(events):
                step(ctx)
                ctx.variables[variable] = events[position]
                position += 1
                if all(check(ctx) for check in checks):
                    found += 1
            if found < count:
                return False
        return True

    chain_or_null = guarded(chain)
    return lambda ctx: bool(chain_or_null(ctx))
