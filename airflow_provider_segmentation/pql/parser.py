"""A hand-written PQL parser (no dependency; fast enough for linting in a loop).

Precedence, loosest first: ``or``; ``and``; ``not``/``!``; comparisons, ``in``/``notIn``, ``like`` and
``occurs``; ``+ -``; ``* / %``; unary minus; postfix ``.field`` / ``.method(...)``.

Operators and parentheses are parsed with explicit stacks (operator precedence), so neither a chain of
50,000 ``or``s nor 10,000 redundant parentheses costs Python stack. Recursion is left for the constructs
that hold sub-expressions (arguments, lists, objects, filters, quantifiers, aggregates, ``let``,
CHAIN, ``occurs`` anchors); each such level costs a few frames and is counted, and more than
``MAX_DEPTH`` of them, or a tree nested deeper than ``MAX_DEPTH``, is a ``PQLTooComplexError`` with the
line and column where the limit was hit. Literals are checked here too: numbers must be finite,
``date(...)`` of literals must be a real date, and literal regular expressions must compile and not
backtrack catastrophically.

Scopes: inside ``xEvent[...]``, ``WHAT(...)``/``WHERE(...)`` of a CHAIN step and the per-item argument of
``filter``, ``map``, ``groupBy``, ``topN``, ``bottomN``, ``sum``/``average``/``min``/``max`` and
``exists`` (``orders.topN(price, 5)``), a bare name is a field of the current item, the implicit
variable ``_item1`` (``_item2`` one level deeper...); ``^`` is the item one level up and, from the
outermost level, the profile (``xEvent[productListItems[SKU = "PS" or ^^.person.gender = "female"]]``);
``$1.name`` is always the profile's field. Quantifiers, ``... over X``, ``let S = ...`` and
``map((K, G) => ...)`` bind the names they declare.

Each construct is parsed in its own module of ``parsing`` (operators, time windows, paths, literals,
functions and lambdas, quantifiers and aggregates, CHAIN); ``Parser`` combines them with the primaries.
"""

from __future__ import annotations

import math

from airflow_provider_segmentation.pql.ast import (
    AGGREGATES,
    CALLABLE_WORDS,
    OPERATOR_WORDS,
    RELATIVE_WORDS,
    Node,
    ParameterReference,
    PQLSyntaxError,
    PQLUnsupportedError,
    VariableReference,
    literal,
)
from airflow_provider_segmentation.pql.lexer import Token, unescape
from airflow_provider_segmentation.pql.parsing.chains import ChainParsing
from airflow_provider_segmentation.pql.parsing.functions import FunctionParsing
from airflow_provider_segmentation.pql.parsing.literals import LiteralParsing
from airflow_provider_segmentation.pql.parsing.loops import LoopParsing
from airflow_provider_segmentation.pql.parsing.operators import OperatorParsing
from airflow_provider_segmentation.pql.parsing.paths import PathParsing
from airflow_provider_segmentation.pql.parsing.windows import WindowParsing


class Parser(
    OperatorParsing, WindowParsing, PathParsing, LiteralParsing, FunctionParsing, LoopParsing, ChainParsing
):
    """The whole grammar: each construct's mixin (``parsing``), the entry ``parse`` and the primaries."""

    def parse(self) -> Node:
        if not self.text.strip():
            raise self.error("the expression is empty")
        if (
            self.at("(")
            and self.peek().kind == "ident"
            and self.peek(2).text == ")"
            and self.peek(3).text == "=>"
        ):
            self.advance()
            self.profile_alias = self.advance().text
            self.advance()
            self.advance()
        node = self.parse_expression(1)
        if self.current.kind != "eof":
            raise self.error(f"unexpected {self.current.text!r}")
        return node

    def parse_primary(self) -> Node:
        token = self.current
        if token.kind == "string":
            self.advance()
            return literal(unescape(token.text, self.text, token.pos))
        if token.kind == "number":
            self.advance()
            if not any(c in token.text for c in ".eE"):
                return literal(self.whole(token))
            value = float(token.text)
            if not math.isfinite(value):
                raise PQLSyntaxError(f"the number {token.text} is out of range", self.text, token.pos)
            return literal(value)
        if token.kind == "param":
            self.advance()
            return ParameterReference(self.whole(Token(token.kind, token.text[1:], token.pos)))
        if self.at("("):
            self.advance()
            self.enter(token.pos)
            try:
                node = self.parse_expression(1)
            finally:
                self.leave()
            self.expect(")")
            return node
        if self.at("["):
            return self.parse_list()
        if self.at("{"):
            return self.parse_object()
        if self.at("^"):
            return self.parse_up()
        if token.kind != "ident":
            raise self.error(f"unexpected {token.text or 'end of the expression'!r}")
        name = self.advance().text
        if name in ("true", "false"):
            return literal(name == "true")
        if name == "null":
            return literal(None)
        if name == "let" and self.current.kind == "ident" and self.peek().text == "=":
            return self.parse_let(token.pos)
        if name == "let":  # "let" that starts no "let S = ...": no field either
            raise PQLSyntaxError(
                "unexpected 'let' (the profile's field of that name is $1.let)", self.text, token.pos
            )
        if name in OPERATOR_WORDS:  # "a = and x = 1", "a = not b": the value before the word is missing
            raise PQLSyntaxError(
                f"expected a value before {name!r} (the profile's field of that name is $1.{name})",
                self.text,
                token.pos,
            )
        if name in ("exists", "forall", "select"):
            return self.parse_quantifier(name, token.pos)
        if name in ("CHAIN", "chain") and self.at("("):
            return self.parse_chain(token.pos)
        if name in AGGREGATES and self.current.kind == "ident":
            over = self.over_follows()
            if over is not None:
                return self.parse_aggregate(name, over, token.pos)
        if name in RELATIVE_WORDS and not self.at("("):
            return self.fn(name, (), token.pos)
        if name in CALLABLE_WORDS and self.at("("):
            return self.fn(name, self.parse_arguments(), token.pos)
        if self.at("("):
            raise PQLUnsupportedError(f"the function {name}() is not supported")
        if name in self.variables:
            return VariableReference(name)
        if name == self.profile_alias:
            return ParameterReference(1)
        if self.implicit:  # inside xEvent[...], WHAT(...) or orders.topN(price, 5): the item's fields
            return self.field(name, VariableReference(self.implicit[-1]), token.pos)
        return self.field(name, ParameterReference(1), token.pos)


def parse(text: str) -> Node:
    """Parse PQL text into a syntax tree.

    Raises ``PQLSyntaxError`` (with line and column), ``PQLUnsupportedError``, or ``PQLTooComplexError``
    (nested deeper than ``MAX_DEPTH``); never anything else.
    """
    if not isinstance(text, str):
        raise PQLSyntaxError("the expression must be a string", "", 0)
    return Parser(text).parse()
