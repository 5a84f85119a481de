"""CHAIN: ``CHAIN(xEvent, timestamp, [A: WHAT(...) WHEN(...) WHERE(...) COUNT(n), ...])``."""

from __future__ import annotations

from airflow_provider_segmentation.pql.ast import (
    Node,
    PQLSyntaxError,
    VariableReference,
    literal,
)
from airflow_provider_segmentation.pql.parsing.base import (
    ParserBase,
)

CHAIN_CLAUSES = ("WHEN", "WHERE", "COUNT")


class ChainParsing(ParserBase):
    """CHAIN and the clauses of its steps."""

    def parse_chain(self, position: int) -> Node:
        self.expect("(")
        self.enter(position)
        try:
            source = self.parse_operand()
            self.expect(",")
            if self.current.kind != "ident":
                raise self.error("expected the timestamp field of the events")
            timestamp = self.advance().text
            self.expect(",")
            self.expect("[")
            steps: list[Node] = []
            while not self.at("]"):
                if self.current.kind != "ident":
                    raise self.error("expected a step label such as A:")
                label_token = self.advance()
                self.expect(":")
                self.expect("WHAT")
                variable = self.push_implicit()
                try:
                    self.expect("(")
                    what = self.parse_expression(1)
                    self.expect(")")
                    parts: tuple[Node, ...] = (literal(label_token.text), literal(variable), what)
                    parts += self.parse_chain_clauses(timestamp, variable)
                finally:
                    self.implicit.pop()
                steps.append(self.fn("chainStep", parts, label_token.pos))
                if self.at(","):
                    self.advance()
            self.expect("]")
            self.expect(")")
        finally:
            self.leave()
        if not steps:
            raise self.error("CHAIN needs at least one step")
        return self.fn("chain", (source, literal(timestamp), *steps), position)

    def parse_chain_clauses(self, timestamp: str, variable: str) -> tuple[Node, ...]:
        """``WHEN(<= 24 hours before now)``, ``COUNT(5)`` (at least 5 such events), ``WHERE(...)`` (one
        more condition on the event), each at most once, in any order, after a step's ``WHAT(...)``."""
        clauses: list[Node] = []
        seen: set[str] = set()
        while self.at(*CHAIN_CLAUSES) and self.peek().text == "(":
            clause = self.advance()
            if clause.text in seen:
                raise PQLSyntaxError(f"a CHAIN step takes one {clause.text}", self.text, clause.pos)
            seen.add(clause.text)
            self.expect("(")
            if clause.text == "WHEN":
                subject = self.field(timestamp, VariableReference(variable), clause.pos)
                clauses.append(self.parse_occurs(subject, clause.pos))
            elif clause.text == "WHERE":
                clauses.append(self.fn("chainWhere", (self.parse_expression(1),), clause.pos))
            else:
                clauses.append(self.fn("chainCount", (literal(self.parse_number()),), clause.pos))
            self.expect(")")
        return tuple(clauses)
