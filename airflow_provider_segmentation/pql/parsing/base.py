"""The parser's state and what every construct uses: tokens, errors, the ``MAX_DEPTH`` count of
nested constructs, checked nodes (``fn``, ``field``) and the names in scope.

Each construct is parsed by a mixin of its own module (``operators``, ``windows``, ``paths``,
``literals``, ``functions``, ``loops``, ``chains``); ``pql.parser.Parser`` combines them, so a construct
calls another through ``self``, declared below for the type checker."""

from __future__ import annotations

from airflow_provider_segmentation.pql.ast import (
    IMPLICIT_VARIABLE,
    MAX_DEPTH,
    RESERVED_WORDS,
    FieldLookup,
    FnApply,
    Node,
    PQLError,
    PQLSyntaxError,
    PQLTooComplexError,
    PQLUnsupportedError,
)
from airflow_provider_segmentation.pql.checks import call_problem
from airflow_provider_segmentation.pql.lexer import Token, tokenize

NOT_LEVEL, COMPARISON_LEVEL, ADDITIVE_LEVEL, UNARY_LEVEL = 3, 4, 5, 7
"""Operator precedences (``ast.INFIX``) where a construct starts parsing (``parse_expression``)."""


class ParserBase:
    """State of one parse: the tokens and where we are, the nesting count and the names in scope."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.variables: set[str] = set()
        self.implicit: list[str] = []
        self.profile_alias: str | None = None
        self.nesting = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def at(self, *texts: str) -> bool:
        return self.current.kind in ("op", "ident") and self.current.text in texts

    def advance(self) -> Token:
        token = self.current
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def expect(self, text: str) -> Token:
        if not self.at(text):
            found = self.current.text or "the end of the expression"
            raise PQLSyntaxError(f"expected {text!r} but found {found!r}", self.text, self.current.pos)
        return self.advance()

    def error(self, message: str) -> PQLSyntaxError:
        return PQLSyntaxError(message, self.text, self.current.pos)

    def enter(self, position: int) -> None:
        """One more level of sub-expression (arguments, a list, a condition...); undone by ``leave``."""
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise PQLTooComplexError(text=self.text, position=position)

    def leave(self) -> None:
        self.nesting -= 1

    def located(self, exc: PQLError, position: int) -> PQLError:
        """A problem found in a node, with the line and column of ``position``."""
        if isinstance(exc, PQLTooComplexError):
            return PQLTooComplexError(text=self.text, position=position)
        if isinstance(exc, PQLUnsupportedError):
            where = PQLSyntaxError("", self.text, position)
            return PQLUnsupportedError(f"{exc} (at line {where.line}, column {where.column})")
        if isinstance(exc, PQLSyntaxError):
            return exc
        return PQLSyntaxError(str(exc), self.text, position)

    def fn(self, name: str, params: tuple[Node, ...], position: int) -> FnApply:
        """``FnApply(name, params)``, checked (depth, arity, literal arguments); errors located at
        ``position``."""
        try:
            node = FnApply(name, params)
        except PQLTooComplexError as exc:
            raise self.located(exc, position) from None
        problem = call_problem(node)
        if problem is not None:
            raise self.located(problem, position)
        return node

    def field(self, name: str, obj: Node, position: int) -> FieldLookup:
        try:
            return FieldLookup(name, obj)
        except PQLTooComplexError as exc:
            raise self.located(exc, position) from None

    def whole(self, token: Token) -> int:
        try:
            return int(token.text)
        except ValueError:  # more digits than int() takes
            message = f"the number {token.text[:20]}... is too long"
            raise PQLSyntaxError(message, self.text, token.pos) from None

    def binder(self) -> Token:
        """A name that a quantifier, ``let``, ``... over X`` or a lambda declares."""
        token = self.current
        if token.kind != "ident":
            raise self.error("expected a variable name")
        if token.text in RESERVED_WORDS or IMPLICIT_VARIABLE.fullmatch(token.text):
            raise self.error(f"{token.text!r} cannot name a variable (a reserved word or implicit item)")
        return self.advance()

    def bind(self, names: list[str]) -> list[str]:
        """Declare ``names``; returns those that were not declared already (to ``unbind`` afterwards)."""
        added = [name for name in dict.fromkeys(names) if name not in self.variables]
        self.variables.update(added)
        return added

    def unbind(self, added: list[str]) -> None:
        self.variables.difference_update(added)

    def push_implicit(self) -> str:
        variable = f"_item{len(self.implicit) + 1}"
        self.implicit.append(variable)
        return variable

    # -- constructs that other modules of ``parsing`` parse (``parser.Parser`` combines them) ----------
    def parse_expression(self, min_precedence: int) -> Node:
        raise NotImplementedError  # operators.OperatorParsing

    def parse_primary(self) -> Node:
        raise NotImplementedError  # parser.Parser

    def parse_operand(self) -> Node:
        raise NotImplementedError  # paths.PathParsing

    def parse_postfix(self, node: Node) -> Node:
        raise NotImplementedError  # paths.PathParsing

    def parse_occurs(self, subject: Node, position: int) -> Node:
        raise NotImplementedError  # windows.WindowParsing

    def parse_number(self) -> int:
        raise NotImplementedError  # windows.WindowParsing

    def parse_item_method(self, name: str, receiver: Node, position: int) -> Node:
        raise NotImplementedError  # functions.FunctionParsing
