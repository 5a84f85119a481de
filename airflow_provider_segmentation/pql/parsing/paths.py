"""Paths and navigation: ``.field``, ``.method(...)``, filters ``xEvent[...]`` (a bare name inside is a
field of the implicit item ``_item1``), ``^`` (the enclosing item, or the profile) and call arguments."""

from __future__ import annotations

from airflow_provider_segmentation.pql.ast import (
    ITEM_METHODS,
    METHODS,
    OPERATOR_WORDS,
    Node,
    ParameterReference,
    PQLSyntaxError,
    PQLUnsupportedError,
    VariableReference,
    literal,
)
from airflow_provider_segmentation.pql.parsing.base import (
    ParserBase,
)


class PathParsing(ParserBase):
    """What follows a primary (``.field``, ``.method()``, ``[...]``), ``^`` and arguments."""

    def parse_operand(self) -> Node:
        """A primary (literal, name, call, quantifier...) and its ``.field``/``.method()``/``[...]``."""
        return self.parse_postfix(self.parse_primary())

    def parse_postfix(self, node: Node) -> Node:
        while self.at(".", "["):
            token = self.advance()
            if token.text == "[":
                self.enter(token.pos)
                variable = self.push_implicit()
                try:
                    condition = self.parse_expression(1)
                finally:
                    self.implicit.pop()
                    self.leave()
                self.expect("]")
                node = self.fn("filter", (node, literal(variable), condition), token.pos)
                continue
            if self.current.kind != "ident":
                raise self.error("expected a field or function name after '.'")
            name_token = self.advance()
            name = name_token.text
            if self.at("("):
                if name not in METHODS:
                    raise PQLUnsupportedError(f"the function {name}() is not supported")
                if name in ITEM_METHODS or name == "exists":
                    node = self.parse_item_method(name, node, name_token.pos)
                else:
                    node = self.fn(name, (node, *self.parse_arguments()), name_token.pos)
            else:
                node = self.field(name, node, name_token.pos)
        return node

    def parse_up(self) -> Node:
        """``^^.person.gender``: each ``^`` goes one item up; from the outermost item, to the profile."""
        start = self.current
        levels = 0
        while self.at("^"):
            self.advance()
            levels += 1
        if not self.implicit:
            raise PQLSyntaxError(
                "the up operator ^ refers to an enclosing item: use it inside a filter such as xEvent[...]",
                self.text,
                start.pos,
            )
        if levels > len(self.implicit):
            raise PQLSyntaxError(
                f"{'^' * levels} goes {levels} levels up, but only {len(self.implicit)} enclose it "
                "(the last ^ reaches the profile)",
                self.text,
                start.pos,
            )
        target: Node = ParameterReference(1)
        if levels < len(self.implicit):
            target = VariableReference(self.implicit[-1 - levels])
        if self.at(".") and self.peek().kind == "ident":
            self.advance()
        elif self.current.text in OPERATOR_WORDS:  # "^ and b": the item itself, then an operator
            return target
        if self.current.kind == "ident":
            name_token = self.advance()
            return self.field(name_token.text, target, name_token.pos)
        return target

    def parse_arguments(self) -> tuple[Node, ...]:
        opening = self.expect("(")
        self.enter(opening.pos)
        try:
            args: list[Node] = []
            while not self.at(")"):
                args.append(self.parse_expression(1))
                if self.at(","):
                    self.advance()
                elif not self.at(")"):
                    found = self.current.text or "the end of the expression"
                    raise self.error(f"expected ',' or ')' but found {found!r}")
        finally:
            self.leave()
        self.expect(")")
        return tuple(args)
