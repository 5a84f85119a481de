"""Quantifiers and aggregates: ``exists X from S where C`` (with ``, Y from T where D`` nesting),
``forall``, ``select`` and ``sum X.a over X from S where C``."""

from __future__ import annotations

from airflow_provider_segmentation.pql.ast import (
    Node,
    literal,
)
from airflow_provider_segmentation.pql.parsing.base import (
    ADDITIVE_LEVEL,
    NOT_LEVEL,
    ParserBase,
)


class LoopParsing(ParserBase):
    """Quantifiers and ``... over X`` aggregates, which declare their variables."""

    def parse_quantifier(self, kind: str, position: int) -> Node:
        """``exists X from S where C``; ``, Y from T where D`` continues it inside C (built in a loop)."""
        self.enter(position)
        parts: list[tuple[str, Node, Node, int]] = []
        added: list[str] = []
        try:
            while True:
                variable_token = self.binder()
                variable = variable_token.text
                self.expect("from")
                source = self.parse_operand()
                if not self.at("where", ":"):
                    raise self.error("expected 'where' or ':'")
                self.advance()
                added += self.bind([variable])
                condition = self.parse_expression(NOT_LEVEL)
                parts.append((variable, source, condition, variable_token.pos))
                # "exists E from xEvent where (...), I from E.productListItems where ...": nested quantifiers
                if kind != "select" and self.at(",") and self.peek(2).text == "from":
                    self.advance()
                    continue
                break
        finally:
            self.unbind(added)
            self.leave()
        variable, source, condition, _ = parts[-1]
        node: Node = self.fn(kind, (literal(variable), source, condition), position)
        for variable, source, condition, at in reversed(parts[:-1]):
            node = self.fn(kind, (literal(variable), source, self.fn("and", (condition, node), at)), at)
        return node

    def over_follows(self) -> int | None:
        """``sum X.f over X from ...``: the index of the ``over`` before the expression ends, if any."""
        depth = 0
        for index in range(self.index, len(self.tokens)):
            text = self.tokens[index].text
            if text in ("(", "[", "{"):
                depth += 1
            elif text in (")", "]", "}"):
                depth -= 1
                if depth < 0:
                    return None
            elif depth == 0 and text == "over":
                return index
            elif depth == 0 and text in ("and", "or", ",", ":", "where", "from"):
                return None
        return None

    def parse_aggregate(self, function: str, over: int, position: int) -> Node:
        saved, self.index = self.index, over + 1  # "sum X.a over X from ...": X is declared after "over"
        variable = self.binder().text
        self.index = saved
        self.enter(position)
        added = self.bind([variable])
        try:
            value = self.parse_expression(ADDITIVE_LEVEL)
            self.expect("over")
            self.advance()
            self.expect("from")
            source = self.parse_operand()
            if not self.at("where", ":"):
                raise self.error("expected 'where' or ':'")
            self.advance()
            condition = self.parse_expression(NOT_LEVEL)
        finally:
            self.unbind(added)
            self.leave()
        return self.fn(
            "aggregateOver", (literal(function), literal(variable), source, condition, value), position
        )
