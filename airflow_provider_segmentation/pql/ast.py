"""The PQL syntax tree, shaped like Adobe's pql/json so that conversion is a direct mapping, and PQL's
vocabulary (operators, functions, keywords) that the parser, checks, printer and evaluator share.

``FieldLookup`` wraps its object from the inside out (``workAddress.country`` is ``country`` looked up on
``workAddress`` looked up on the profile, ``ParameterReference(1)``); every operator and function is an
``FnApply`` whose ``fn`` is Adobe's ``fnName``; lambda variables (``X`` in ``exists X from xEvent``) are
``VariableReference`` nodes.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

TEXT_FUNCTIONS = frozenset(
    {
        "startsWith",
        "endsWith",
        "contains",
        "equals",
        "doesNotStartWith",
        "doesNotEndWith",
        "doesNotContain",
        "notEqualTo",
        "matches",
        "regexGroup",
    }
)
COLLECTION_FUNCTIONS = frozenset(
    {
        "intersects",
        "intersection",
        "includes",
        "subsetOf",
        "supersetOf",
        "distinct",
        "count",
        "sum",
        "average",
        "min",
        "max",
        "head",
    }
)
MAP_FUNCTIONS = frozenset({"get", "keys", "values"})
DATE_METHODS = {"getMonth": "month", "getYear": "year", "getDayOfMonth": "day"}
CURRENT_FUNCTIONS = {"currentMonth": "month", "currentYear": "year", "currentDayOfMonth": "day"}
# Functions written before their arguments (``date(2025, 1, 1)``), not as a method of a receiver;
# ``now`` and ``today`` are also words, so the printer writes them without parentheses.
PREFIX_FUNCTIONS = frozenset({"date", "if", "inSegment", "mapEntry", *CURRENT_FUNCTIONS})
CALLABLE_WORDS = PREFIX_FUNCTIONS | {"now", "today"}
PLURALS = {"century": "centuries", "millennium": "millennia"}  # of the units whose plural is not +s
AGGREGATE_METHODS = frozenset({"sum", "average", "min", "max"})
ITEM_METHODS = {
    **{"filter": 0, "groupBy": 0, "map": 0, "topN": 1, "bottomN": 1},
    **dict.fromkeys(AGGREGATE_METHODS, 0),
}
"""Methods whose first argument is evaluated once per item of the receiver (``orders.topN(price, 5)``:
``price`` of each order), with the number of ordinary arguments that follow it. Their tree is
``fnApply(name, [receiver, literal variable, per-item expression, *arguments])``; ``map`` may also name
its variables, ``(K, G) => ...``, and then has one or two of them."""
METHODS = (
    TEXT_FUNCTIONS
    | COLLECTION_FUNCTIONS
    | MAP_FUNCTIONS
    | DATE_METHODS.keys()
    | ITEM_METHODS.keys()
    | {"isNull", "isNotNull", "exists"}
)
"""Every function written as a method, ``receiver.name(...)``."""
RELATIVE_WORDS = ("now", "today", "yesterday", "tomorrow")
COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
"""The comparison operators, with what they mean for two values that are not null."""
INFIX = {
    "or": 1,
    "and": 2,
    **dict.fromkeys((*COMPARATORS, "in", "notIn", "like"), 4),
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}
"""The infix operators and their precedence (higher binds tighter); ``not`` is 3, ``occurs`` 4."""
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
AGGREGATES = ("sum", "count", "average", "min", "max")
"""The functions of ``sum X.price over X from xEvent where ...``."""
OCCURS_FORMS = ("occurs", "occursBetween", "occursBefore", "occursAfter", "occursOn")
OPERATOR_WORDS = frozenset({"and", "or", "not", "in", "notIn", "like", "occurs", "from", "where", "over"})
"""Words of PQL's operators and clauses (``a and b``, ``a in [...]``, ``exists X from S where C``,
``sum X.a over X ...``): never a value, so one written where a value belongs is a syntax error at the
word (``a = and x = 1``: a value is missing before ``and``)."""
RESERVED_WORDS = frozenset(
    {
        *("true", "false", "null", *RELATIVE_WORDS, *OPERATOR_WORDS),
        *("exists", "forall", "select", "let", "CHAIN", "chain"),
    }
)
"""Words no variable may be named after."""
KEYWORD_NAMES = frozenset(
    {*("true", "false", "null", *RELATIVE_WORDS, *OPERATOR_WORDS), *("exists", "forall", "select", "let")}
)
"""Words that never stand for a field when written bare (``now`` is the function, ``exists`` starts a
quantifier, ``and`` joins two conditions...): the profile's field of that name is written ``$1.now``."""
IMPLICIT_VARIABLE = re.compile(r"_item[0-9]+")
"""The names of implicit items (``_item1`` inside ``xEvent[...]``, ``_item2`` one level deeper...):
reserved, no quantifier, ``let`` or lambda may use them."""
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


MAX_DEPTH = 200
"""How deep a syntax tree may nest: far below Python's recursion limit, far above what people write.

A level is a node below another: an argument, an operand, the object of a ``.field``, a condition. The
left operand of a chain of the same kind of infix operator (``a and b and c``, ``a + b - c``) stays on
its parent's level, so wide chains are flat however long they are; every walker handles them in a loop.
"""
CHAIN_GROUPS = {"or": 1, "and": 2, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}
_WINDOW = 60


def _locate(text: str, position: int) -> tuple[int, int, str]:
    """Line, column, and the source line with a caret (a window of it when the line is long)."""
    position = max(0, min(position, len(text)))
    line = text.count("\n", 0, position) + 1
    line_start = text.rfind("\n", 0, position) + 1
    line_end = text.find("\n", position)
    source_line = text[line_start : line_end if line_end != -1 else len(text)]
    column = position - line_start + 1
    offset = column - 1
    if len(source_line) > 2 * _WINDOW:
        left = max(0, offset - _WINDOW)
        right = min(len(source_line), offset + _WINDOW)
        prefix, suffix = ("..." if left else ""), ("..." if right < len(source_line) else "")
        source_line = prefix + source_line[left:right] + suffix
        offset = offset - left + len(prefix)
    return line, column, f"\n  {source_line}\n  {' ' * offset}^"


class PQLError(ValueError):
    """Base of every PQL error; ``str()`` is a message a DAG author can act on."""


class PQLSyntaxError(PQLError):
    """The text is not PQL; the message shows line, column and a caret under the problem."""

    def __init__(self, message: str, text: str, position: int) -> None:
        line, column, caret = _locate(text, position)
        self.line, self.column = line, column
        super().__init__(f"{message} at line {line}, column {column}:{caret}")


class PQLUnsupportedError(PQLError):
    """Valid PQL that this engine does not evaluate; the message names the construct."""


class PQLOutOfRangeError(PQLError):
    """A time the expression names lies outside the calendar a profile's times can hold (years 1 to
    9999): ``tomorrow`` on 9999-12-31. Windows and periods that merely reach past it still evaluate."""


class PQLTooComplexError(PQLError):
    """Past one of the engine's limits (by default ``MAX_DEPTH``); ``line``/``column`` say where when the
    input was text, and ``limit`` is the limit that was passed."""

    def __init__(
        self,
        where: str = "",
        text: str | None = None,
        position: int | None = None,
        *,
        problem: str = f"the expression nests deeper than {MAX_DEPTH} levels (the limit)",
        limit: int = MAX_DEPTH,
    ) -> None:
        self.line: int | None = None
        self.column: int | None = None
        self.limit = limit
        message = problem
        if text is not None and position is not None:
            self.line, self.column, caret = _locate(text, position)
            message += f" at line {self.line}, column {self.column}:{caret}"
        elif where:
            message += f" {where}"
        super().__init__(message)


@dataclass(frozen=True, eq=False)
class Literal:
    value: Any
    literal_type: str  # String, Integer, Double, Boolean, List, Null

    depth: ClassVar[int] = 1

    def _typed(self) -> tuple[Any, ...]:
        """What tells two literals apart: ``[true]`` is not ``[1]``, nor ``[1]`` ``[1.0]`` (Python's
        ``True == 1`` would make them one)."""
        items = (
            self.value
            if self.literal_type == "List" and isinstance(self.value, list | tuple)
            else (self.value,)
        )
        return (self.literal_type, *((type(item), item) for item in items))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Literal) and self._typed() == other._typed()

    def __hash__(self) -> int:
        return hash(self._typed())


@dataclass(frozen=True)
class ParameterReference:
    position: int = 1

    depth: ClassVar[int] = 1


@dataclass(frozen=True)
class VariableReference:
    name: str

    depth: ClassVar[int] = 1


def continues_chain(fn: str, params: Any, child: Any) -> bool:
    """Is ``child`` (the first of ``params``) the left operand continuing a chain like ``a and b and c``?"""
    group = CHAIN_GROUPS.get(fn)
    return (
        group is not None
        and len(params) == 2
        and isinstance(child, FnApply)
        and len(child.params) == 2
        and CHAIN_GROUPS.get(child.fn) == group
    )


_set = object.__setattr__  # frozen dataclasses set their derived fields this way


def _check_depth(depth: int) -> int:
    if depth > MAX_DEPTH:
        raise PQLTooComplexError()
    return depth


@dataclass(frozen=True, eq=False, repr=False)
class FieldLookup:
    field_name: str
    object: Node
    depth: int = field(init=False, compare=False)

    def __post_init__(self) -> None:
        _set(self, "depth", _check_depth(getattr(self.object, "depth", 1) + 1))

    def __eq__(self, other: Any) -> bool:
        return _same(self, other) if type(other) is FieldLookup else NotImplemented

    def __hash__(self) -> int:
        return _tree_hash(self)

    def __repr__(self) -> str:
        return _tree_repr(self)


@dataclass(frozen=True, eq=False, repr=False)
class FnApply:
    fn: str
    params: tuple[Node, ...]
    depth: int = field(init=False, compare=False)

    def __post_init__(self) -> None:
        depth = 1
        for index, param in enumerate(self.params):
            below = getattr(param, "depth", 1)
            chained = index == 0 and continues_chain(self.fn, self.params, param)
            depth = max(depth, below if chained else below + 1)
        _set(self, "depth", _check_depth(depth))

    def __eq__(self, other: object) -> bool:
        return _same(self, other) if type(other) is FnApply else NotImplemented

    def __hash__(self) -> int:
        return _tree_hash(self)

    def __repr__(self) -> str:
        return _tree_repr(self)


Node = Union[Literal, ParameterReference, VariableReference, FieldLookup, FnApply]  # noqa: UP007


# Equality, hashing and repr walk the tree with a stack of their own: a chain of 50,000 ``and``s is flat
# as far as MAX_DEPTH goes but 50,000 nodes deep for Python.
def _same(first: Node, second: object) -> bool:
    stack: list[tuple[object, object]] = [(first, second)]
    while stack:
        left, right = stack.pop()
        if left is right:
            continue
        if type(left) is not type(right):
            return False
        if isinstance(left, FnApply):
            assert isinstance(right, FnApply)
            if left.fn != right.fn or len(left.params) != len(right.params):
                return False
            stack.extend(zip(left.params, right.params, strict=True))
        elif isinstance(left, FieldLookup):
            assert isinstance(right, FieldLookup)
            if left.field_name != right.field_name:
                return False
            stack.append((left.object, right.object))
        elif left != right:
            return False
    return True


def _tree_hash(node: Node) -> int:
    hashes: list[int] = []
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        item, children_done = stack.pop()
        if isinstance(item, FnApply | FieldLookup):
            children = item.params if isinstance(item, FnApply) else (item.object,)
            if children_done:
                mine = tuple(hashes[len(hashes) - len(children) :])
                del hashes[len(hashes) - len(children) :]
                name = item.fn if isinstance(item, FnApply) else item.field_name
                hashes.append(hash((type(item).__name__, name, mine)))
            else:
                stack.append((item, True))
                stack.extend((child, False) for child in reversed(children))
        else:
            hashes.append(hash(item))
    return hashes[0]


def _tree_repr(node: Node) -> str:
    parts: list[str] = []
    stack: list[Node | str] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, FieldLookup):
            parts.append(f"FieldLookup(field_name={item.field_name!r}, object=")
            stack.extend((")", item.object))
        elif isinstance(item, FnApply):
            parts.append(f"FnApply(fn={item.fn!r}, params=(")
            stack.append(",))" if len(item.params) == 1 else "))")
            for index in reversed(range(len(item.params))):
                stack.append(item.params[index])
                if index:
                    stack.append(", ")
        else:
            parts.append(repr(item))
    return "".join(parts)


def literal(value: Any) -> Literal:
    """A literal with Adobe's ``literalType`` for a Python value."""
    if value is None:
        return Literal(None, "Null")
    if isinstance(value, bool):
        return Literal(value, "Boolean")
    if isinstance(value, int):
        return Literal(value, "Integer")
    if isinstance(value, float):
        return Literal(value, "Double")
    if isinstance(value, list | tuple):
        return Literal(tuple(value), "List")
    return Literal(str(value), "String")


def value_of(node: Node) -> Any:
    """The value of a literal parameter (variable names, units, comparators in ``occurs``)."""
    if not isinstance(node, Literal):
        raise PQLError(f"expected a literal, found {type(node).__name__}")
    return node.value
