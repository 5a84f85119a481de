"""The PQL syntax tree, shaped like Adobe's pql/json so that conversion is a direct mapping.

``FieldLookup`` wraps its object from the inside out (``workAddress.country`` is ``country`` looked up on
``workAddress`` looked up on the profile, ``ParameterReference(1)``); every operator and function is an
``FnApply`` whose ``fn`` is Adobe's ``fnName``; lambda variables (``X`` in ``exists X from xEvent``) are
``VariableReference`` nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

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


class PQLError(ValueError):
    """Base of every PQL error; ``str()`` is a message a DAG author can act on."""


class PQLSyntaxError(PQLError):
    """The text is not PQL; the message shows line, column and a caret under the problem."""

    def __init__(self, message: str, text: str, position: int) -> None:
        line = text.count("\n", 0, position) + 1
        line_start = text.rfind("\n", 0, position) + 1
        line_end = text.find("\n", position)
        source_line = text[line_start : line_end if line_end != -1 else len(text)]
        column = position - line_start + 1
        self.line, self.column = line, column
        super().__init__(
            f"{message} at line {line}, column {column}:\n  {source_line}\n  {' ' * (column - 1)}^"
        )


class PQLUnsupportedError(PQLError):
    """Valid PQL that this engine does not evaluate; the message names the construct."""


@dataclass(frozen=True)
class Literal:
    value: Any
    literal_type: str  # String, Integer, Double, Boolean, List, Null


@dataclass(frozen=True)
class ParameterReference:
    position: int = 1


@dataclass(frozen=True)
class VariableReference:
    name: str


@dataclass(frozen=True)
class FieldLookup:
    field_name: str
    object: Node


@dataclass(frozen=True)
class FnApply:
    fn: str
    params: tuple[Node, ...]


Node = Union[Literal, ParameterReference, VariableReference, FieldLookup, FnApply]  # noqa: UP007


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
