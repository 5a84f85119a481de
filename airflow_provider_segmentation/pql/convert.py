"""pql/text <-> pql/json.

pql/json is Adobe's: a JSON string of ``fnApply{fnName, params}``, ``fieldLookup{fieldName, object}``,
``parameterReference{position}`` and ``literal{literalType, value}`` nodes. For what Adobe does not
document this package uses one extension, consistently: lambda variables are
``{"nodeType": "variableReference", "name": "X"}``; quantifiers are ``fnApply`` ``exists`` with params
``[literal variable name, source, condition]``; ``occurs`` forms are ``fnApply`` ``occurs`` (comparator,
amount, unit, direction, anchor), ``occursBefore``/``occursAfter``/``occursOn`` (anchor) and
``occursBetween`` (start, end); ``last week`` is ``fnApply`` ``relativePeriod``; ``now``/``today`` are
``fnApply`` with no params; arrays are literals of type ``List``.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_segmentation.pql.ast import (
    FieldLookup,
    FnApply,
    Literal,
    Node,
    ParameterReference,
    PQLError,
    VariableReference,
    literal,
    value_of,
)

INFIX = {
    "or": 1,
    "and": 2,
    "=": 4,
    "!=": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "in": 4,
    "notIn": 4,
    "like": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}
PREFIX_FUNCTIONS = {"date", "if", "inSegment"}
PLURALS = {"century": "centuries", "millennium": "millennia"}


def to_dict(node: Node) -> dict[str, Any]:
    if isinstance(node, Literal):
        value = list(node.value) if node.literal_type == "List" else node.value
        return {"nodeType": "literal", "literalType": node.literal_type, "value": value}
    if isinstance(node, ParameterReference):
        return {"nodeType": "parameterReference", "position": node.position}
    if isinstance(node, VariableReference):
        return {"nodeType": "variableReference", "name": node.name}
    if isinstance(node, FieldLookup):
        return {"nodeType": "fieldLookup", "fieldName": node.field_name, "object": to_dict(node.object)}
    return {"nodeType": "fnApply", "fnName": node.fn, "params": [to_dict(p) for p in node.params]}


def from_dict(data: Any) -> Node:
    if not isinstance(data, dict):
        raise PQLError(f"pql/json node must be an object, got {type(data).__name__}")
    kind = data.get("nodeType")
    try:
        if kind == "literal":
            value = data.get("value")
            literal_type = str(data["literalType"])
            return Literal(tuple(value or ()) if literal_type == "List" else value, literal_type)
        if kind == "parameterReference":
            return ParameterReference(int(data.get("position", 1)))
        if kind == "variableReference":
            return VariableReference(str(data["name"]))
        if kind == "fieldLookup":
            return FieldLookup(str(data["fieldName"]), from_dict(data["object"]))
        if kind == "fnApply":
            return FnApply(str(data["fnName"]), tuple(from_dict(p) for p in data.get("params", [])))
    except (KeyError, TypeError, ValueError) as exc:
        raise PQLError(f"malformed pql/json {kind} node: {exc}") from None
    raise PQLError(f"unknown pql/json nodeType {kind!r}")


def to_json(node: Node) -> str:
    return json.dumps(to_dict(node), separators=(",", ":"))


def from_json(text: str) -> Node:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PQLError(f"pql/json is not valid JSON: {exc}") from None
    return from_dict(data)


def _quote(value: str) -> str:
    return (
        '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'
    )


def _literal_text(node: Literal) -> str:
    if node.literal_type == "String":
        return _quote(str(node.value))
    if node.literal_type == "Boolean":
        return "true" if node.value else "false"
    if node.literal_type == "Null":
        return "null"
    if node.literal_type == "List":
        return "[" + ", ".join(_literal_text(literal(v)) for v in node.value) + "]"
    return repr(node.value)


def to_text(node: Node, parent_precedence: int = 0) -> str:
    if isinstance(node, Literal):
        return _literal_text(node)
    if isinstance(node, ParameterReference):
        return f"${node.position}"
    if isinstance(node, VariableReference):
        return node.name
    if isinstance(node, FieldLookup):
        if isinstance(node.object, ParameterReference) and node.object.position == 1:
            return node.field_name
        if isinstance(node.object, VariableReference) and node.object.name.startswith("_item"):
            return node.field_name  # a bare field inside xEvent[...] or WHAT(...)
        return f"{to_text(node.object, 9)}.{node.field_name}"
    fn, params = node.fn, node.params
    if fn in INFIX and len(params) == 2:
        precedence = INFIX[fn]
        text = f"{to_text(params[0], precedence)} {fn} {to_text(params[1], precedence + 1)}"
        return f"({text})" if precedence < parent_precedence else text
    if fn == "not":
        text = f"not {to_text(params[0], 3)}"
        return f"({text})" if parent_precedence > 3 else text
    if fn in ("now", "today", "yesterday", "tomorrow") and not params:
        return fn
    if fn == "relativePeriod":
        return f"{value_of(params[0])} {value_of(params[1])}"
    if fn.startswith("occurs"):
        text = _occurs_text(node)
        return f"({text})" if parent_precedence >= 4 else text
    if fn in ("exists", "forall", "select"):
        variable = value_of(params[0])
        text = f"{fn} {variable} from {to_text(params[1], 9)} where ({to_text(params[2])})"
        return f"({text})" if parent_precedence > 0 else text
    if fn == "filter":
        return f"{to_text(params[0], 9)}[{to_text(params[2])}]"
    if fn == "aggregateOver":
        function, variable, source, condition, value = params
        text = (
            f"{value_of(function)} {to_text(value, 5)} over {value_of(variable)} from {to_text(source, 9)} "
            f"where ({to_text(condition)})"
        )
        return f"({text})" if parent_precedence > 0 else text
    if fn == "chain":
        steps = []
        for step in params[2:]:
            assert isinstance(step, FnApply)
            label, _, what, *when = step.params
            text = f"{value_of(label)}: WHAT({to_text(what)})"
            if when:
                assert isinstance(when[0], FnApply)
                text += f" WHEN({_occurs_text(when[0]).split(' occurs ', 1)[1]})"
            steps.append(text)
        return f"CHAIN({to_text(params[0], 9)}, {value_of(params[1])}, [{', '.join(steps)}])"
    if fn in PREFIX_FUNCTIONS:
        return f"{fn}({', '.join(to_text(p) for p in params)})"
    receiver, *args = params
    return f"{to_text(receiver, 9)}.{fn}({', '.join(to_text(a) for a in args)})"


def _occurs_text(node: FnApply) -> str:
    subject, *rest = node.params
    head = f"{to_text(subject, 9)} occurs"
    if node.fn == "occurs":
        cmp, amount_node, unit_node, direction, anchor = rest
        unit, amount = str(value_of(unit_node)), value_of(amount_node)
        unit_text = unit if amount == 1 else PLURALS.get(unit, f"{unit}s")
        return f"{head} {value_of(cmp)} {amount} {unit_text} {value_of(direction)} {to_text(anchor, 5)}"
    if node.fn == "occursBetween":
        return f"{head} between {to_text(rest[0], 5)} and {to_text(rest[1], 5)}"
    mode = node.fn.removeprefix("occurs").lower()
    return f"{head} {mode} {to_text(rest[0], 5)}"
