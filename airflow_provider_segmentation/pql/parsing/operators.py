"""Operators and parentheses, on explicit stacks (operator precedence): neither a chain of 50,000 ``or``s
nor 10,000 redundant parentheses costs Python stack; more than ``MAX_DEPTH`` stacked operators is a
``PQLTooComplexError``."""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_segmentation.pql.ast import (
    INFIX,
    MAX_DEPTH,
    Literal,
    Node,
    PQLSyntaxError,
    PQLTooComplexError,
    literal,
)
from airflow_provider_segmentation.pql.parsing.base import (
    ADDITIVE_LEVEL,
    COMPARISON_LEVEL,
    NOT_LEVEL,
    UNARY_LEVEL,
    ParserBase,
)


@dataclass
class _Op:
    text: str  # a binary operator, or "not" / "neg" for the prefix ones
    precedence: int
    position: int
    prefix: bool


@dataclass
class _Group:
    """One level of parentheses (or the whole expression) while operators are being stacked."""

    min_precedence: int
    ops_base: int
    compared: bool = False  # one comparison per operand of and/or: "a = b = c" is an error


class OperatorParsing(ParserBase):
    """Prefix and infix operators, parentheses and ``occurs`` after an operand."""

    def parse_expression(self, min_precedence: int) -> Node:
        """Operators of ``min_precedence`` and tighter, with parentheses and prefix operators, on stacks.

        ``min_precedence`` 1 is a whole expression; 3 what follows ``where`` (no bare and/or); 5 an
        additive operand (``occurs`` anchors, aggregated values); 7 a signed operand (list items).
        """
        operands: list[Node] = []
        ops: list[_Op] = []
        groups: list[_Group] = []
        group = _Group(min_precedence, 0)
        while True:
            while True:  # prefix operators and opening parentheses, then an operand
                token = self.current
                if self.at("("):
                    groups.append(group)
                    group = _Group(1, len(ops))
                    self.advance()
                elif len(ops) >= MAX_DEPTH and (self.at("not", "!", "-")):
                    # every stacked operator will be an ancestor of what follows: refuse now, not at the end
                    raise PQLTooComplexError(text=self.text, position=token.pos)
                elif (
                    self.at("not", "!")
                    and group.min_precedence <= NOT_LEVEL
                    and (len(ops) == group.ops_base or ops[-1].text in ("and", "or", "not"))
                ):
                    ops.append(_Op("not", NOT_LEVEL, token.pos, True))
                    self.advance()
                elif self.at("-"):
                    ops.append(_Op("neg", UNARY_LEVEL, token.pos, True))
                    self.advance()
                else:
                    break
            operands.append(self.parse_postfix(self.parse_primary()))  # parse_operand, one frame less
            while True:  # binary operators, occurs, closing parentheses
                token = self.current
                if self.at("occurs") and group.min_precedence <= COMPARISON_LEVEL and not group.compared:
                    self.reduce(ops, operands, group.ops_base, ADDITIVE_LEVEL)
                    self.advance()
                    operands.append(self.parse_occurs(operands.pop(), token.pos))
                    group.compared = True
                    continue
                precedence = INFIX.get(token.text) if token.kind in ("op", "ident") else None
                if (
                    precedence is None
                    or precedence < group.min_precedence
                    or (precedence == COMPARISON_LEVEL and group.compared)
                ):
                    self.reduce(ops, operands, group.ops_base, 0)
                    if not groups:
                        return operands.pop()
                    if not self.at(")"):
                        found = token.text or "the end of the expression"
                        raise PQLSyntaxError(f"expected ')' but found {found!r}", self.text, token.pos)
                    self.advance()
                    operands.append(self.parse_postfix(operands.pop()))
                    group = groups.pop()
                    continue
                if precedence == COMPARISON_LEVEL:
                    group.compared = True
                elif precedence < NOT_LEVEL:
                    group.compared = False
                self.reduce(ops, operands, group.ops_base, precedence)
                if len(ops) >= MAX_DEPTH:  # every stacked operator will be an ancestor of what follows
                    raise PQLTooComplexError(text=self.text, position=token.pos)
                ops.append(_Op(token.text, precedence, token.pos, False))
                self.advance()
                break

    def reduce(self, ops: list[_Op], operands: list[Node], base: int, precedence: int) -> None:
        """Apply the stacked operators (above ``base``) that bind at least as tightly as ``precedence``."""
        while len(ops) > base and ops[-1].precedence >= precedence:
            op = ops.pop()
            operand = operands.pop()
            if op.text == "not":
                operands.append(self.fn("not", (operand,), op.position))
            elif op.text == "neg":
                if isinstance(operand, Literal) and operand.literal_type in ("Integer", "Double"):
                    operands.append(literal(-operand.value))
                else:
                    operands.append(self.fn("-", (literal(0), operand), op.position))
            else:
                operands.append(self.fn(op.text, (operands.pop(), operand), op.position))
