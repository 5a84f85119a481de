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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from airflow_provider_segmentation.pql.ast import (
    AGGREGATE_METHODS,
    AGGREGATES,
    CALLABLE_WORDS,
    COMPARATORS,
    IMPLICIT_VARIABLE,
    INFIX,
    ITEM_METHODS,
    MAX_DEPTH,
    METHODS,
    OPERATOR_WORDS,
    PLURALS,
    RELATIVE_WORDS,
    RESERVED_WORDS,
    UNITS,
    FieldLookup,
    FnApply,
    Literal,
    Node,
    ParameterReference,
    PQLError,
    PQLSyntaxError,
    PQLTooComplexError,
    PQLUnsupportedError,
    VariableReference,
    literal,
)
from airflow_provider_segmentation.pql.checks import call_problem
from airflow_provider_segmentation.pql.lexer import Token, tokenize, unescape

CHAIN_CLAUSES = ("WHEN", "WHERE", "COUNT")
SINGULARS = {plural: unit for unit, plural in PLURALS.items()}
NOT_LEVEL, COMPARISON_LEVEL, ADDITIVE_LEVEL, UNARY_LEVEL = 3, 4, 5, 7


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


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.variables: set[str] = set()
        self.implicit: list[str] = []
        self.profile_alias: str | None = None
        self.nesting = 0

    # -- token helpers -------------------------------------------------------------------------------
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

    # -- limits and checked construction -------------------------------------------------------------
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

    # -- grammar ---------------------------------------------------------------------------------------
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

    def whole(self, token: Token) -> int:
        try:
            return int(token.text)
        except ValueError:  # more digits than int() takes
            message = f"the number {token.text[:20]}... is too long"
            raise PQLSyntaxError(message, self.text, token.pos) from None

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

    def push_implicit(self) -> str:
        variable = f"_item{len(self.implicit) + 1}"
        self.implicit.append(variable)
        return variable

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


def parse(text: str) -> Node:
    """Parse PQL text into a syntax tree.

    Raises ``PQLSyntaxError`` (with line and column), ``PQLUnsupportedError``, or ``PQLTooComplexError``
    (nested deeper than ``MAX_DEPTH``); never anything else.
    """
    if not isinstance(text, str):
        raise PQLSyntaxError("the expression must be a string", "", 0)
    return Parser(text).parse()
