"""The PQL syntax tree, shaped like Adobe's pql/json so that conversion is a direct mapping.

``FieldLookup`` wraps its object from the inside out (``workAddress.country`` is ``country`` looked up on
``workAddress`` looked up on the profile, ``ParameterReference(1)``); every operator and function is an
``FnApply`` whose ``fn`` is Adobe's ``fnName``; lambda variables (``X`` in ``exists X from xEvent``) are
``VariableReference`` nodes.
"""

from __future__ import annotations

import math
import re
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
AGGREGATE_METHODS = frozenset({"sum", "average", "min", "max"})
ITEM_METHODS = {
    **{"filter": 0, "groupBy": 0, "map": 0, "topN": 1, "bottomN": 1},
    **dict.fromkeys(AGGREGATE_METHODS, 0),
}
"""Methods whose first argument is evaluated once per item of the receiver (``orders.topN(price, 5)``:
``price`` of each order), with the number of ordinary arguments that follow it. Their tree is
``fnApply(name, [receiver, literal variable, per-item expression, *arguments])``; ``map`` may also name
its variables, ``(K, G) => ...``, and then has one or two of them."""
RESERVED_WORDS = frozenset(
    {
        *("true", "false", "null", "now", "today", "yesterday", "tomorrow", "not", "and", "or"),
        *("in", "notIn", "like", "occurs", "exists", "forall", "select", "let", "from", "where", "over"),
        *("CHAIN", "chain"),
    }
)
"""Words no variable may be named after."""
KEYWORD_NAMES = frozenset(
    {
        "true",
        "false",
        "null",
        "now",
        "today",
        "yesterday",
        "tomorrow",
        "exists",
        "forall",
        "select",
        "not",
        "let",
    }
)
"""Words that never stand for a field when written bare (``now`` is the function, ``exists`` starts a
quantifier...): the profile's field of that name is written ``$1.now``."""
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


@dataclass(frozen=True)
class Literal:
    value: Any
    literal_type: str  # String, Integer, Double, Boolean, List, Null

    depth: ClassVar[int] = 1


@dataclass(frozen=True)
class ParameterReference:
    position: int = 1

    depth: ClassVar[int] = 1


@dataclass(frozen=True)
class VariableReference:
    name: str

    depth: ClassVar[int] = 1


def _links(fn: str, params: Any, child: Any) -> bool:
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
            depth = max(depth, below if index == 0 and _links(self.fn, self.params, param) else below + 1)
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


SCALAR_TYPES = {"String": (str,), "Integer": (int,), "Double": (float, int), "Boolean": (bool,)}


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


# fn -> (fewest, most) params, receiver included for methods; None: no upper bound.
ARITY: dict[str, tuple[int, int | None]] = {
    **{op: (2, None) for op in ("and", "or")},
    **{op: (2, 2) for op in ("=", "!=", "<", "<=", ">", ">=", "in", "notIn", "like")},
    **{op: (2, 2) for op in ("+", "-", "*", "/", "%")},
    "not": (1, 1),
    "isNull": (1, 1),
    "isNotNull": (1, 1),
    "if": (3, 3),
    "date": (1, 3),
    "inSegment": (1, 1),
    **{word: (0, 0) for word in ("now", "today", "yesterday", "tomorrow")},
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


def arity_problem(fn: str, count: int) -> str | None:
    """Why ``count`` params do not suit ``fn`` (None when they do, or when ``fn`` is unknown here)."""
    fewest, most = ARITY.get(fn, (0, None))
    if count < fewest or (most is not None and count > most):
        wanted = f"{fewest}" if fewest == most else f"{fewest} to {most}" if most else f"at least {fewest}"
        return f"{fn} takes {wanted} parameter{'s' if most != 1 else ''}, not {count}"
    return None
