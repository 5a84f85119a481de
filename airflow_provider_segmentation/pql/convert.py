"""pql/json, the syntax tree as Adobe's JSON: ``to_json`` and ``from_json`` (pql/text is ``text``).

pql/json is Adobe's: a JSON string of ``fnApply{fnName, params}``, ``fieldLookup{fieldName, object}``,
``parameterReference{position}`` and ``literal{literalType, value}`` nodes. Adobe documents no other
node and no ``params`` beyond the example ``workAddress.country = "US"``, so every operator and function
is an ``fnApply`` named as in pql/text with its receiver first (``person.birthdate.getMonth()`` is
``getMonth[person.birthdate]``; ``currentMonth()`` has no params). For what that leaves open this package
uses one extension, consistently, and documents it here:

* lambda variables are ``{"nodeType": "variableReference", "name": "X"}``; the implicit items of
  ``xEvent[...]``, ``WHAT(...)``/``WHERE(...)`` and per-item arguments are ``_item1``, ``_item2``... by
  depth; ``^`` is the enclosing item's variable (or, from the outermost, ``parameterReference`` 1);
* a construct that declares a variable has it as a ``String`` literal among its params: quantifiers
  ``exists``/``forall``/``select`` ``[variable, source, condition]`` (``xs.exists(c)`` is ``exists``
  with ``_itemN``); ``let`` ``[variable, value, body]``; ``aggregateOver`` ``[function, variable, source,
  condition, value]``; the per-item methods ``filter`` (also ``xs[c]``), ``groupBy``, ``map``,
  ``sum``/``average``/``min``/``max`` ``[receiver, variable, per-item value]``, ``topN``/``bottomN``
  ``[receiver, variable, per-item value, amount]``, and ``map((K, G) => v)`` ``[receiver, "K", "G", v]``;
* ``occurs`` forms are ``fnApply`` ``occurs`` (comparator, amount, unit, direction, anchor),
  ``occursBefore``/``occursAfter``/``occursOn`` (anchor) and ``occursBetween`` (start, end); ``last week``
  is ``fnApply`` ``relativePeriod``; ``now``/``today`` are ``fnApply`` with no params;
* ``CHAIN(xEvent, timestamp, [A: WHAT(c) WHEN(...) COUNT(5) WHERE(d)])`` is ``chain`` ``[source,
  timestamp field, chainStep...]``, each ``chainStep`` ``[label, variable, what, clause...]`` where a
  clause is the WHEN's ``occurs*`` node, ``chainCount`` ``[n]`` or ``chainWhere`` ``[condition]``;
* arrays are literals of type ``List``; ``{"k": v}`` is ``fnApply`` ``object`` ``[key, value, ...]``;
  ``mapEntry(k, v)`` is ``fnApply`` ``mapEntry``.

Both walkers are safe on any input: ``to_json`` and ``from_json`` use stacks of their own (a pql/json
document may be nested 100,000 deep and is refused with ``PQLTooComplexError`` and the JSON path where
``MAX_DEPTH`` was passed, never a ``RecursionError``). ``to_json`` always writes valid JSON (a literal
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
)
from airflow_provider_segmentation.pql.checks import literal_problem, node_problem


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
    """The pql/json side of ``ast.continues_chain``: does ``child`` (params[0]) continue the chain?"""
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
        elif literal_type == "Double" and isinstance(value, int) and not isinstance(value, bool):
            try:  # JSON may write the double 3.0 as 3: it is still a double
                value = float(value)
            except OverflowError:
                raise ValueError(f"{str(value)[:20]}... is out of range for a Double") from None
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
