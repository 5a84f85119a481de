"""pql/text <-> pql/json.

pql/json is Adobe's: a JSON string of ``fnApply{fnName, params}``, ``fieldLookup{fieldName, object}``,
``parameterReference{position}`` and ``literal{literalType, value}`` nodes. For what Adobe does not
document this package uses one extension, consistently: lambda variables are
``{"nodeType": "variableReference", "name": "X"}``; quantifiers are ``fnApply`` ``exists`` with params
``[literal variable name, source, condition]``; ``occurs`` forms are ``fnApply`` ``occurs`` (comparator,
amount, unit, direction, anchor), ``occursBefore``/``occursAfter``/``occursOn`` (anchor) and
``occursBetween`` (start, end); ``last week`` is ``fnApply`` ``relativePeriod``; ``now``/``today`` are
``fnApply`` with no params; arrays are literals of type ``List``.

Every walker here is safe on any input: ``to_json`` and ``from_json`` use stacks of their own (a pql/json
document may be nested 100,000 deep and is refused with ``PQLTooComplexError`` and the JSON path where
``MAX_DEPTH`` was passed, never a ``RecursionError``); ``to_text`` recurses only as deep as ``MAX_DEPTH``
and walks chains such as ``a or b or c ...`` in a loop. ``to_json`` always writes valid JSON (a literal
that JSON cannot hold, such as an infinite number, is a ``PQLError``), and ``from_json`` accepts only
strict JSON (no ``NaN``/``Infinity``, no number that overflows to infinity).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from airflow_provider_segmentation.pql.ast import (
    CHAIN_GROUPS,
    MAX_DEPTH,
    FieldLookup,
    FnApply,
    Literal,
    Node,
    ParameterReference,
    PQLError,
    PQLTooComplexError,
    VariableReference,
    _links,
    literal,
    literal_problem,
    value_of,
)
from airflow_provider_segmentation.pql.checks import node_problem

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


# -- pql/json out ----------------------------------------------------------------------------------------
def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def to_json(node: Node) -> str:
    """The tree as Adobe's pql/json (compact); always valid JSON, or a ``PQLError``."""
    parts: list[str] = []
    stack: list[Node | str] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, Literal):
            problem = literal_problem(item)
            if problem is not None:
                raise PQLError(f"this literal cannot be written as pql/json: {problem}")
            value = list(item.value) if item.literal_type == "List" else item.value
            parts.append(_dumps({"nodeType": "literal", "literalType": item.literal_type, "value": value}))
        elif isinstance(item, ParameterReference):
            parts.append(_dumps({"nodeType": "parameterReference", "position": item.position}))
        elif isinstance(item, VariableReference):
            parts.append(_dumps({"nodeType": "variableReference", "name": item.name}))
        elif isinstance(item, FieldLookup):
            parts.append(f'{{"nodeType":"fieldLookup","fieldName":{_dumps(item.field_name)},"object":')
            stack.extend(("}", item.object))
        elif isinstance(item, FnApply):
            parts.append(f'{{"nodeType":"fnApply","fnName":{_dumps(item.fn)},"params":[')
            stack.append("]}")
            for index in reversed(range(len(item.params))):
                stack.append(item.params[index])
                if index:
                    stack.append(",")
        else:
            raise PQLError(f"not a PQL node: {type(item).__name__}")
    return "".join(parts)


# -- pql/json in -----------------------------------------------------------------------------------------
_JSON_TOKEN = re.compile(
    r"""[ \t\n\r]*(?:
        (?P<punct>[{}\[\],:])
       |(?P<string>"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*")
       |(?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
       |(?P<word>true|false|null))""",
    re.VERBOSE,
)
_WORDS = {"true": True, "false": False, "null": None}


def _bad_json(message: str, position: int) -> PQLError:
    return PQLError(f"pql/json is not valid JSON: {message} at position {position}")


def _number(text: str) -> int | float:
    """A JSON number; ``ValueError`` for one that overflows to infinity or has too many digits."""
    if not any(c in text for c in ".eE"):
        try:
            return int(text)
        except ValueError:
            raise ValueError("a number with too many digits") from None
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_NOT_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[^\[\]{}"]+')
_C_DECODER_DEPTH = 100  # the C decoder recurses once per level: only shallow documents go to it


def _json_depth(text: str) -> int:
    """How deep ``[``/``{`` nest in ``text`` (strings skipped), counted without recursion."""
    deepest = depth = 0
    for char in _NOT_BRACKETS.sub("", text):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _load(text: str) -> Any:
    """Strict JSON (no NaN/Infinity, no overflowing number) of any depth, never a RecursionError."""
    if _json_depth(text) <= _C_DECODER_DEPTH:
        try:
            return json.loads(text, parse_constant=_refuse_constant, parse_float=_number, parse_int=_number)
        except ValueError as exc:
            raise PQLError(f"pql/json is not valid JSON: {exc}") from None
    return _load_json(text)


def _load_json(text: str) -> Any:
    """``json.loads`` with a stack of its own (any depth) and strict numbers (no NaN, no overflow)."""
    containers: list[Any] = []
    keys: list[Any] = []
    expect = "value"  # value | item_or_end | key_or_end | key | colon | comma_or_end | done
    root: Any = None
    position = 0
    while True:
        match = _JSON_TOKEN.match(text, position)
        if match is None:
            if expect == "done" and not text[position:].strip(" \t\n\r"):
                return root
            where = position + len(text[position:]) - len(text[position:].lstrip(" \t\n\r"))
            found = "the end" if where >= len(text) else repr(text[where])
            raise _bad_json(f"unexpected {found}", where)
        punct, string, number, word = match.group("punct", "string", "number", "word")
        start = match.start(match.lastindex or 0)
        position = match.end()
        if expect == "done":
            raise _bad_json("extra data after the document", start)
        if expect == "colon":
            if punct != ":":
                raise _bad_json("expected ':'", start)
            expect = "value"
            continue
        if expect in ("key", "key_or_end"):
            if string is not None:
                keys[-1] = json.loads(string) if "\\" in string else string[1:-1]
                expect = "colon"
                continue
            if punct != "}" or expect == "key":
                raise _bad_json("expected a property name in double quotes", start)
        elif expect == "comma_or_end":
            if punct == ",":
                expect = "key" if isinstance(containers[-1], dict) else "value"
                continue
            if punct != ("}" if isinstance(containers[-1], dict) else "]"):
                raise _bad_json("expected ',' or the end of the object or array", start)
        elif punct == "]" and expect != "item_or_end":
            raise _bad_json("expected a value", start)
        if punct in ("}", "]"):
            value = containers.pop()
            if punct == "}":
                keys.pop()
        elif punct == "{":
            containers.append({})
            keys.append(None)
            expect = "key_or_end"
            continue
        elif punct == "[":
            containers.append([])
            expect = "item_or_end"
            continue
        elif string is not None:
            value = json.loads(string) if "\\" in string else string[1:-1]
        elif number is not None:
            try:
                value = _number(number)
            except ValueError as exc:
                raise _bad_json(str(exc), start) from None
        elif word is not None:
            value = _WORDS[word]
        else:
            raise _bad_json("expected a value", start)
        if not containers:
            root, expect = value, "done"
        elif isinstance(containers[-1], dict):
            containers[-1][keys[-1]] = value
            expect = "comma_or_end"
        else:
            containers[-1].append(value)
            expect = "comma_or_end"


def _path(trail: list[tuple[int, str]], index: int) -> str:
    steps: list[str] = []
    while index >= 0:
        index, step = trail[index]
        steps.append(step)
    steps.reverse()
    if len(steps) > 9:
        steps = [*steps[:5], f"...({len(steps) - 9} more)...", *steps[-4:]]
    return "".join(steps)


def _json_links(parent: dict[str, Any], child: Any) -> bool:
    """The pql/json side of ``ast._links``: does ``child`` (params[0]) continue its parent's chain?"""
    group = CHAIN_GROUPS.get(parent.get("fnName"))  # type: ignore[arg-type]
    return (
        group is not None
        and isinstance(child, dict)
        and child.get("nodeType") == "fnApply"
        and isinstance(child.get("params"), list)
        and len(child["params"]) == 2
        and len(parent["params"]) == 2
        and isinstance(child.get("fnName"), str)
        and CHAIN_GROUPS.get(child["fnName"]) == group
    )


def _text_field(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise KeyError(f"{key} must be a string")
    return value


def _leaf(data: dict[str, Any], kind: Any) -> Node | None:
    if kind == "literal":
        value = data.get("value")
        literal_type = _text_field(data, "literalType")
        if literal_type == "List":
            if value is not None and not isinstance(value, list):
                raise TypeError("a List literal's value must be an array")
            value = tuple(value or ())
        node = Literal(value, literal_type)
        problem = literal_problem(node)
        if problem is not None:
            raise ValueError(problem)
        return node
    if kind == "parameterReference":
        position = data.get("position", 1)
        if isinstance(position, bool) or not isinstance(position, int):
            raise TypeError("position must be a whole number")
        return ParameterReference(position)
    if kind == "variableReference":
        return VariableReference(_text_field(data, "name"))
    return None


def from_dict(data: Any) -> Node:
    """A tree from decoded pql/json; ``PQLError`` (naming the JSON path) for anything malformed."""
    results: list[Node] = []
    trail: list[tuple[int, str]] = [(-1, "$")]
    stack: list[tuple[Any, int, int, bool]] = [(data, 1, 0, False)]  # item, depth, trail index, children done
    while stack:
        item, depth, where, children_done = stack.pop()
        kind = item.get("nodeType") if isinstance(item, dict) else None
        try:
            if children_done:
                if kind == "fieldLookup":
                    results.append(FieldLookup(_text_field(item, "fieldName"), results.pop()))
                else:
                    count = len(item["params"])
                    params = tuple(results[len(results) - count :])
                    del results[len(results) - count :]
                    node = FnApply(_text_field(item, "fnName"), params)
                    problem = node_problem(node)
                    if problem is not None:
                        raise problem
                    results.append(node)
                continue
            if not isinstance(item, dict):
                raise PQLError(f"pql/json node must be an object, got {type(item).__name__}")
            if depth > MAX_DEPTH:
                raise PQLTooComplexError(f"in pql/json at {_path(trail, where)}")
            leaf = _leaf(item, kind)
            if leaf is not None:
                results.append(leaf)
                continue
            if kind == "fieldLookup":
                children: list[Any] = [item["object"]]
                steps = [".object"]
            elif kind == "fnApply":
                _text_field(item, "fnName")
                item.setdefault("params", [])
                if not isinstance(item["params"], list):
                    raise TypeError("params must be an array")
                children = item["params"]
                steps = [f".params[{index}]" for index in range(len(children))]
            else:
                raise PQLError(f"unknown pql/json nodeType {kind!r}")
        except PQLTooComplexError:
            raise
        except PQLError as exc:
            raise type(exc)(f"{exc} (at {_path(trail, where)})") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise PQLError(f"malformed pql/json {kind} node at {_path(trail, where)}: {exc}") from None
        stack.append((item, depth, where, True))
        for index in reversed(range(len(children))):
            linked = index == 0 and kind == "fnApply" and _json_links(item, children[0])
            trail.append((where, steps[index]))
            stack.append((children[index], depth if linked else depth + 1, len(trail) - 1, False))
    return results[0]


def from_json(text: str | bytes) -> Node:
    """A tree from Adobe's pql/json (a JSON string); ``PQLError`` for anything else."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PQLError(f"pql/json is not UTF-8: {exc}") from None
    if not isinstance(text, str):
        raise PQLError(f"pql/json must be a JSON string, got {type(text).__name__}")
    return from_dict(_load(text))


# -- pql/text --------------------------------------------------------------------------------------------
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}
_NEEDS_ESCAPE = re.compile(r'[\\"\x00-\x1f\x7f\ud800-\udfff]')


def _quote(value: str) -> str:
    """A PQL string literal; control characters and lone surrogates as escapes, so the text is UTF-8."""
    return '"' + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES.get(m.group(), f"\\u{ord(m.group()):04x}"), value) + '"'


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
    """The tree as pql/text (parentheses only where needed); ``PQLError`` for a tree that has none."""
    if isinstance(node, Literal):
        problem = literal_problem(node)
        if problem is not None:
            raise PQLError(f"this literal has no pql/text form: {problem}")
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
    if not isinstance(node, FnApply):
        raise PQLError(f"not a PQL node: {type(node).__name__}")
    problem_ = node_problem(node)
    if problem_ is not None:
        raise problem_
    fn, params = node.fn, node.params
    if fn in INFIX and len(params) >= 2:
        return _infix_text(node, parent_precedence)
    if fn == "not":
        text = f"not {to_text(params[0], 3)}"
        return f"({text})" if parent_precedence > 3 else text
    if fn in ("now", "today", "yesterday", "tomorrow") and not params:
        return fn
    if fn == "relativePeriod":
        return f"{value_of(params[0])} {value_of(params[1])}"
    if fn.startswith("occurs") and fn in (
        "occurs",
        "occursBetween",
        "occursBefore",
        "occursAfter",
        "occursOn",
    ):
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
            assert isinstance(step, FnApply)  # checked by node_problem
            label, _, what, *when = step.params
            text = f"{value_of(label)}: WHAT({to_text(what)})"
            if when:
                assert isinstance(when[0], FnApply)
                text += f" WHEN({_occurs_text(when[0]).split(' occurs ', 1)[1]})"
            steps.append(text)
        return f"CHAIN({to_text(params[0], 9)}, {value_of(params[1])}, [{', '.join(steps)}])"
    if fn == "chainStep":
        raise PQLError("a CHAIN step has no pql/text form outside its CHAIN")
    args: list[str] = []
    if fn in PREFIX_FUNCTIONS:
        for param in params:
            args.append(to_text(param))
        return f"{fn}({', '.join(args)})"
    if not params:
        raise PQLError(f"the function {fn} has no receiver, so no pql/text form")
    for param in params[1:]:
        args.append(to_text(param))
    return f"{to_text(params[0], 9)}.{fn}({', '.join(args)})"


def _infix_text(node: FnApply, parent_precedence: int) -> str:
    """``a or b or c``: a chain of one kind of infix operator is walked in a loop, not recursively."""
    precedence = INFIX[node.fn]
    rights: list[tuple[str, Node]] = []  # right operands, from the end of the chain backwards
    head = node
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
    # a comparison's operands are additive: a comparison on its left needs parentheses
    parts = [to_text(left, precedence + 1 if precedence == 4 else precedence)]
    for op, right in reversed(rights):
        parts.append(f" {op} {to_text(right, INFIX[op] + 1)}")
    text = "".join(parts)
    return f"({text})" if precedence < parent_precedence else text


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
