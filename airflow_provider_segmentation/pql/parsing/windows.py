"""Time windows: ``occurs`` in all its forms (``<= 3 days before now``, ``between ... and ...``,
``before``/``after``/``on``), relative periods (``last week``), durations and their units."""

from __future__ import annotations

from airflow_provider_segmentation.pql.ast import (
    COMPARATORS,
    PLURALS,
    UNITS,
    Node,
    literal,
)
from airflow_provider_segmentation.pql.parsing.base import (
    ADDITIVE_LEVEL,
    ParserBase,
)

SINGULARS = {plural: unit for unit, plural in PLURALS.items()}


class WindowParsing(ParserBase):
    """``occurs`` and what it takes: comparator, whole number, unit, direction and time anchors."""

    def parse_occurs(self, subject: Node, position: int) -> Node:
        self.enter(position)
        try:
            return self._parse_occurs(subject, position)
        finally:
            self.leave()

    def _parse_occurs(self, subject: Node, position: int) -> Node:
        if self.current.kind == "op" and self.current.text in COMPARATORS:
            comparator = self.advance().text
            amount = self.parse_number()
            unit = self.parse_unit()
            if not self.at("before", "after", "from"):
                raise self.error("expected 'before', 'after' or 'from' after the duration")
            direction = self.advance().text
            return self.fn(
                "occurs",
                (
                    subject,
                    literal(comparator),
                    literal(amount),
                    literal(unit),
                    literal(direction),
                    self.parse_time_anchor(),
                ),
                position,
            )
        if self.at("between"):
            self.advance()
            start = self.parse_time_anchor()
            self.expect("and")
            return self.fn("occursBetween", (subject, start, self.parse_time_anchor()), position)
        if self.at("before", "after", "on"):
            mode = self.advance().text
            return self.fn("occurs" + mode.capitalize(), (subject, self.parse_time_anchor()), position)
        return self.fn("occursOn", (subject, self.parse_time_anchor()), position)

    def parse_number(self) -> int:
        if self.current.kind != "number" or any(c in self.current.text for c in ".eE"):
            raise self.error("expected a whole number")
        return self.whole(self.advance())

    def parse_unit(self) -> str:
        word = self.current.text
        singular = SINGULARS.get(word, word.removesuffix("s"))
        if self.current.kind != "ident" or singular not in UNITS:
            raise self.error(f"expected a time unit ({', '.join(UNITS)})")
        self.advance()
        return singular

    def parse_time_anchor(self) -> Node:
        if self.at("last", "this", "next"):
            token = self.advance()
            return self.fn("relativePeriod", (literal(token.text), literal(self.parse_unit())), token.pos)
        return self.parse_expression(ADDITIVE_LEVEL)
