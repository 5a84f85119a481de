"""Compound literals: arrays ``[1, "a"]`` (of literals only) and objects ``{"key": expression, ...}``."""

from __future__ import annotations

from airflow_provider_segmentation.pql.ast import (
    Literal,
    Node,
    PQLUnsupportedError,
    literal,
)
from airflow_provider_segmentation.pql.lexer import unescape
from airflow_provider_segmentation.pql.parsing.base import (
    UNARY_LEVEL,
    ParserBase,
)


class LiteralParsing(ParserBase):
    """Array and object literals."""

    def parse_list(self) -> Node:
        opening = self.expect("[")
        self.enter(opening.pos)
        try:
            items: list[Literal] = []
            while not self.at("]"):
                if self.at("["):
                    raise PQLUnsupportedError("arrays inside array literals are not supported")
                item = self.parse_expression(UNARY_LEVEL)
                if not isinstance(item, Literal) or item.literal_type == "List":
                    raise PQLUnsupportedError("array literals may only hold literals")
                items.append(item)
                if not self.at("]"):
                    self.expect(",")
        finally:
            self.leave()
        self.expect("]")
        return literal([item.value for item in items])

    def parse_object(self) -> Node:
        """``{"count": G.count(), "sum": G.sum(price)}``: keys are strings, values any expressions."""
        opening = self.expect("{")
        self.enter(opening.pos)
        try:
            params: list[Node] = []
            while not self.at("}"):
                key = self.current
                if key.kind != "string":
                    raise self.error("expected a key in double quotes")
                self.advance()
                self.expect(":")
                params += [literal(unescape(key.text, self.text, key.pos)), self.parse_expression(1)]
                if not self.at("}"):
                    self.expect(",")
        finally:
            self.leave()
        self.expect("}")
        return self.fn("object", tuple(params), opening.pos)
