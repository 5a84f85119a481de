"""pql/text: ``to_text`` prints a tree as the text ``parse`` reads back (``parse(to_text(t)) == t``).

Parentheses go only where precedence needs them; a name is written bare only where the parser reads it
back as the same node (a field named like a keyword is ``$1.and``, a field of an implicit item named like
a declared variable has no text form). ``to_text`` recurses only as deep as ``MAX_DEPTH`` and walks chains
such as ``a or b or c ...`` in a loop. A tree that text cannot say is a ``PQLError`` naming why.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from airflow_provider_segmentation.pql.ast import (
    IDENTIFIER,
    IMPLICIT_VARIABLE,
    INFIX,
    ITEM_METHODS,
    KEYWORD_NAMES,
    METHODS,
    OCCURS_FORMS,
    PLURALS,
    PREFIX_FUNCTIONS,
    RELATIVE_WORDS,
    RESERVED_WORDS,
    FieldLookup,
    FnApply,
    Literal,
    Node,
    ParameterReference,
    PQLError,
    PQLUnsupportedError,
    VariableReference,
    literal,
    value_of,
)
from airflow_provider_segmentation.pql.checks import flatten_chain, literal_problem, node_problem

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
        if node.position < 0:
            raise PQLError(f"the parameter position {node.position} has no pql/text form ($1 is the profile)")
        return f"${node.position}"
    if isinstance(node, VariableReference):
        levels = scope.up(node.name)
        if levels == 0:
            raise PQLError("the current implicit item has no pql/text form on its own")
        if levels:
            return "^" * levels
        if node.name not in scope.names:  # text would read the bare name as a field
            raise PQLError(f"the variable {node.name!r} is declared by nothing around it: no pql/text form")
        return node.name
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
    if fn in RELATIVE_WORDS and not params:
        return fn
    if fn == "relativePeriod":
        return f"{value_of(params[0])} {value_of(params[1])}"
    if fn in OCCURS_FORMS:
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
    if fn not in METHODS:
        raise PQLUnsupportedError(f"the function {fn}() is not supported")
    if not params:
        raise PQLError(f"the function {fn} has no receiver, so no pql/text form")
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
    head, rights = flatten_chain(node)
    # a comparison's operands are additive: a comparison on its left needs parentheses
    parts = [_text(head, precedence + 1 if precedence == 4 else precedence, scope)]
    for op, right in rights:
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
