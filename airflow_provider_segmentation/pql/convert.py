"""pql/text <-> pql/json.

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
from typing import Any, NamedTuple

from airflow_provider_segmentation.pql.ast import (
    CHAIN_GROUPS,
    CURRENT_FUNCTIONS,
    IDENTIFIER,
    IMPLICIT_VARIABLE,
    ITEM_METHODS,
    KEYWORD_NAMES,
    MAX_DEPTH,
    RESERVED_WORDS,
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
PREFIX_FUNCTIONS = {"date", "if", "inSegment", "mapEntry", *CURRENT_FUNCTIONS}
OCCURS = ("occurs", "occursBetween", "occursBefore", "occursAfter", "occursOn")
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


class _Scope(NamedTuple):
    """Where a node is written: the implicit items around it (outermost first) and the declared names."""

    items: tuple[str, ...] = ()
    names: frozenset[str] = frozenset()

    def implicit(self) -> str:
        """The name the parser gives the next implicit item: ``_item1``, then ``_item2`` inside it..."""
        return f"_item{len(self.items) + 1}"

    def inside(self, variable: str) -> _Scope:
        return _Scope((*self.items, variable), self.names)

    def declaring(self, *names: str) -> _Scope:
        return _Scope(self.items, self.names | set(names))

    def up(self, variable: str) -> int | None:
        """How many ``^`` reach the implicit item ``variable`` from here (0: the current item)."""
        if variable not in self.items:
            return None
        return len(self.items) - 1 - self.items.index(variable)


def _name(name: str, what: str) -> str:
    if not IDENTIFIER.fullmatch(name):
        raise PQLError(f"{what} {name!r} has no pql/text form (not a name)")
    return name


def _binder(name: Any, what: str) -> str:
    """A name that a quantifier, ``let``, ``... over X`` or lambda declares, checked for pql/text."""
    text = _name(str(name), what)
    if text in RESERVED_WORDS or IMPLICIT_VARIABLE.fullmatch(text):
        raise PQLError(f"{what} {text!r} has no pql/text form (a reserved word or implicit item)")
    return text


def to_text(node: Node, parent_precedence: int = 0) -> str:
    """The tree as pql/text (parentheses only where needed); ``PQLError`` for a tree that has none.

    ``parse(to_text(tree)) == tree`` for every tree ``parse`` makes; trees from pql/json that text cannot
    say (an implicit item named otherwise than the parser would name it, a field name that is not a
    name...) are a ``PQLError``.
    """
    return _text(node, parent_precedence, _Scope())


def _text(node: Node, parent_precedence: int, scope: _Scope) -> str:
    if isinstance(node, Literal):
        problem = literal_problem(node)
        if problem is not None:
            raise PQLError(f"this literal has no pql/text form: {problem}")
        text = _literal_text(node)
        return f"({text})" if parent_precedence > 7 and text.startswith("-") else text  # (-2.5).count()
    if isinstance(node, ParameterReference):
        return f"${node.position}"
    if isinstance(node, VariableReference):
        levels = scope.up(node.name)
        if levels == 0:
            raise PQLError("the current implicit item has no pql/text form on its own")
        return "^" * levels if levels else node.name
    if isinstance(node, FieldLookup):
        return _field_text(node, scope)
    if not isinstance(node, FnApply):
        raise PQLError(f"not a PQL node: {type(node).__name__}")
    problem_ = node_problem(node)
    if problem_ is not None:
        raise problem_
    fn, params = node.fn, node.params
    if fn in INFIX and len(params) >= 2:
        return _infix_text(node, parent_precedence, scope)
    if fn == "not":
        text = f"not {_text(params[0], 3, scope)}"
        return f"({text})" if parent_precedence > 3 else text
    if fn in ("now", "today", "yesterday", "tomorrow") and not params:
        return fn
    if fn == "relativePeriod":
        return f"{value_of(params[0])} {value_of(params[1])}"
    if fn in OCCURS:
        text = f"{_text(params[0], 9, scope)} occurs {_occurs_tail(node, scope)}"
        return f"({text})" if parent_precedence >= 4 else text
    if fn in ("exists", "forall", "select"):
        variable = value_of(params[0])
        if fn == "exists" and variable == scope.implicit():  # written as a method: xs.exists(...)
            return f"{_text(params[1], 9, scope)}.exists({_text(params[2], 0, scope.inside(variable))})"
        variable = _binder(variable, f"the variable of {fn}")
        among, where = _text(params[1], 9, scope), _text(params[2], 0, scope.declaring(variable))
        text = f"{fn} {variable} from {among} where ({where})"
        return f"({text})" if parent_precedence > 0 else text
    if fn == "let":
        variable = _binder(value_of(params[0]), "the variable of let")
        bound, body = _text(params[1], 0, scope), _text(params[2], 0, scope.declaring(variable))
        text = f"let {variable} = ({bound}) in ({body})"
        return f"({text})" if parent_precedence > 0 else text
    if fn in ITEM_METHODS:
        return _item_method_text(node, scope)
    if fn == "aggregateOver":
        function, variable_node, source, condition, value = params
        variable = _binder(value_of(variable_node), "the variable of an aggregate")
        inner = scope.declaring(variable)
        text = (
            f"{value_of(function)} {_text(value, 5, inner)} over {variable} from {_text(source, 9, scope)} "
            f"where ({_text(condition, 0, inner)})"
        )
        return f"({text})" if parent_precedence > 0 else text
    if fn == "chain":
        return _chain_text(node, scope)
    if fn in ("chainStep", "chainCount", "chainWhere"):
        raise PQLError("a CHAIN step and its clauses have no pql/text form outside their CHAIN")
    if fn == "object":
        pairs = zip(params[::2], params[1::2], strict=True)
        return "{" + ", ".join(f"{_quote(str(value_of(k)))}: {_text(v, 0, scope)}" for k, v in pairs) + "}"
    if fn in PREFIX_FUNCTIONS:
        return f"{fn}({', '.join(_text(param, 0, scope) for param in params)})"
    if not params:
        raise PQLError(f"the function {fn} has no receiver, so no pql/text form")
    _name(fn, "the function")
    args = ", ".join(_text(param, 0, scope) for param in params[1:])
    return f"{_text(params[0], 9, scope)}.{fn}({args})"


def _field_text(node: FieldLookup, scope: _Scope) -> str:
    """``name`` (a field of the profile or of the current item), ``^^.name``, ``$1.name`` or ``x.name``."""
    name, obj = _name(node.field_name, "the field name"), node.object
    bare = name not in KEYWORD_NAMES and name not in scope.names
    if isinstance(obj, ParameterReference) and obj.position == 1 and not scope.items and bare:
        return name
    if isinstance(obj, VariableReference):
        levels = scope.up(obj.name)
        if levels == 0:
            if not bare:
                raise PQLError(f"the field {name!r} of an implicit item has no pql/text form")
            return name
        if levels:
            return f"{'^' * levels}.{name}"
    return f"{_text(obj, 9, scope)}.{name}"


def _item_method_text(node: FnApply, scope: _Scope) -> str:
    """``orders.topN(price, 5)``, ``xEvent[...]``, ``groups.map((K, G) => ...)``."""
    fn, params = node.fn, node.params
    receiver = _text(params[0], 9, scope)
    if len(params) == 1:  # orders.sum()
        return f"{receiver}.{fn}()"
    variable = value_of(params[1])
    if fn == "map" and (len(params) == 4 or variable != scope.implicit()):
        names = [_binder(value_of(param), "the variable of map") for param in params[1:-1]]
        return f"{receiver}.map(({', '.join(names)}) => {_text(params[-1], 0, scope.declaring(*names))})"
    if variable != scope.implicit():
        raise PQLError(
            f"{fn} here calls its item {variable!r}; pql/text can only write the implicit item, which "
            f"is {scope.implicit()!r} at this depth"
        )
    value = _text(params[2], 0, scope.inside(variable))
    if fn == "filter":
        return f"{receiver}[{value}]"
    return f"{receiver}.{fn}({', '.join([value, *(_text(param, 0, scope) for param in params[3:])])})"


def _chain_text(node: FnApply, scope: _Scope) -> str:
    source, timestamp_node, *steps = node.params
    timestamp = _name(str(value_of(timestamp_node)), "the timestamp field of CHAIN")
    texts = []
    for step in steps:
        assert isinstance(step, FnApply)  # checked by node_problem
        problem = node_problem(step)
        if problem is not None:
            raise problem
        label, variable_node, what, *clauses = step.params
        variable = value_of(variable_node)
        if variable != scope.implicit():
            raise PQLError(f"a CHAIN step's event is {scope.implicit()!r} in pql/text, not {variable!r}")
        inner = scope.inside(variable)
        text = f"{_name(str(value_of(label)), 'the CHAIN step label')}: WHAT({_text(what, 0, inner)})"
        for clause in clauses:
            assert isinstance(clause, FnApply)  # checked by node_problem
            if clause.fn == "chainCount":
                text += f" COUNT({value_of(clause.params[0])})"
            elif clause.fn == "chainWhere":
                text += f" WHERE({_text(clause.params[0], 0, inner)})"
            elif clause.params[0] == FieldLookup(timestamp, VariableReference(variable)):
                text += f" WHEN({_occurs_tail(clause, inner)})"
            else:
                raise PQLError("the WHEN of a CHAIN step must be about the step's event timestamp")
        texts.append(text)
    return f"CHAIN({_text(source, 9, scope)}, {timestamp}, [{', '.join(texts)}])"


def _infix_text(node: FnApply, parent_precedence: int, scope: _Scope) -> str:
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
    parts = [_text(left, precedence + 1 if precedence == 4 else precedence, scope)]
    for op, right in reversed(rights):
        parts.append(f" {op} {_text(right, INFIX[op] + 1, scope)}")
    text = "".join(parts)
    return f"({text})" if precedence < parent_precedence else text


def _occurs_tail(node: FnApply, scope: _Scope) -> str:
    """What follows ``occurs``: ``<= 3 days before now``, ``between A and B``, ``before A``..."""
    rest = node.params[1:]
    if node.fn == "occurs":
        cmp, amount_node, unit_node, direction, anchor = rest
        unit, amount = str(value_of(unit_node)), value_of(amount_node)
        unit_text = unit if amount == 1 else PLURALS.get(unit, f"{unit}s")
        return f"{value_of(cmp)} {amount} {unit_text} {value_of(direction)} {_text(anchor, 5, scope)}"
    if node.fn == "occursBetween":
        return f"between {_text(rest[0], 5, scope)} and {_text(rest[1], 5, scope)}"
    return f"{node.fn.removeprefix('occurs').lower()} {_text(rest[0], 5, scope)}"
