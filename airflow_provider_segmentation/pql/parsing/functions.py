"""Per-item methods and lambdas: ``orders.topN(price, 5)`` (the first argument per item), ``map((K, G) =>
...)`` and ``let S = value in body``."""

from __future__ import annotations

from airflow_provider_segmentation.pql.ast import (
    AGGREGATE_METHODS,
    ITEM_METHODS,
    Node,
    literal,
)
from airflow_provider_segmentation.pql.parsing.base import (
    ADDITIVE_LEVEL,
    NOT_LEVEL,
    ParserBase,
)


class FunctionParsing(ParserBase):
    """Item methods, lambdas and ``let``."""

    def parse_item_method(self, name: str, receiver: Node, position: int) -> Node:
        """``orders.topN(price, 5)``: the first argument is evaluated per item (bare names are the item's
        fields), the others (``5``) where the call is; ``map`` also takes ``(K, G) => ...``."""
        opening = self.expect("(")
        self.enter(opening.pos)
        try:
            if name in AGGREGATE_METHODS and self.at(")"):
                self.advance()
                return self.fn(name, (receiver,), position)
            if name == "map" and self.lambda_follows():
                names = self.parse_lambda_variables()
                added = self.bind(names)
                try:
                    body = self.parse_expression(1)
                finally:
                    self.unbind(added)
                binders = tuple(literal(variable) for variable in names)
            else:
                variable = self.push_implicit()
                try:
                    body = self.parse_expression(1)
                finally:
                    self.implicit.pop()
                binders = (literal(variable),)
            others: list[Node] = []
            for _ in range(ITEM_METHODS.get(name, 0)):
                self.expect(",")
                others.append(self.parse_expression(1))
            self.expect(")")
        finally:
            self.leave()
        if name == "exists":  # the quantifier's node: exists _item1 from receiver where body
            return self.fn("exists", (binders[0], receiver, body), position)
        return self.fn(name, (receiver, *binders, body, *others), position)

    def lambda_follows(self) -> bool:
        """Does ``X =>`` or ``(K, G) =>`` start here?"""
        if self.current.kind == "ident":
            return self.peek().text == "=>"
        if not self.at("("):
            return False
        offset = 1
        while self.peek(offset).kind == "ident":
            following = self.peek(offset + 1).text
            if following == ")":
                return self.peek(offset + 2).text == "=>"
            if following != ",":
                return False
            offset += 2
        return False

    def parse_lambda_variables(self) -> list[str]:
        names: list[str] = []
        parenthesized = self.at("(")
        if parenthesized:
            self.advance()
        while True:
            names.append(self.binder().text)
            if not (parenthesized and self.at(",")):
                break
            self.advance()
        if parenthesized:
            self.expect(")")
        self.expect("=>")
        if len(names) > 2 or len(set(names)) != len(names):
            raise self.error("map takes one variable, or two different ones: (X) => ... or (K, G) => ...")
        return names

    def parse_let(self, position: int) -> Node:
        """``let S = (value) in (body)``: ``value`` once, ``S`` stands for it in ``body``."""
        self.enter(position)
        try:
            variable = self.binder().text
            self.expect("=")
            value = self.parse_expression(ADDITIVE_LEVEL)
            self.expect("in")
            added = self.bind([variable])
            try:
                body = self.parse_expression(NOT_LEVEL)
            finally:
                self.unbind(added)
        finally:
            self.leave()
        return self.fn("let", (literal(variable), value, body), position)
