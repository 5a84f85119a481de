"""A hand-written recursive-descent PQL parser (no dependency; fast enough for linting in a loop).

Precedence, loosest first: ``or``; ``and``; ``not``/``!``; comparisons, ``in``/``notIn``, ``like`` and
``occurs``; ``+ -``; ``* / %``; unary minus; postfix ``.field`` / ``.method(...)``.
"""

from __future__ import annotations

from airflow_provider_segmentation.pql.ast import (
    COLLECTION_FUNCTIONS,
    MAP_FUNCTIONS,
    TEXT_FUNCTIONS,
    FieldLookup,
    FnApply,
    Literal,
    Node,
    ParameterReference,
    PQLSyntaxError,
    PQLUnsupportedError,
    VariableReference,
    literal,
)
from airflow_provider_segmentation.pql.lexer import Token, tokenize, unescape

COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
UNITS = (
    "millisecond",
    "second",
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "year",
    "decade",
    "century",
    "millennium",
)
RELATIVE_WORDS = ("now", "today", "yesterday", "tomorrow")
METHODS = TEXT_FUNCTIONS | COLLECTION_FUNCTIONS | MAP_FUNCTIONS | {"isNull", "isNotNull"}
FUNCTIONS = frozenset({"date", "if", "inSegment", "now", "today"})
AGGREGATES = frozenset({"sum", "count", "average", "min", "max"})
UNSUPPORTED = frozenset(
    {
        "let",
        "groupBy",
        "topN",
        "bottomN",
        "map",
        "filter",
        "intersection",
        "currentMonth",
        "currentYear",
        "currentDayOfMonth",
    }
)


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.variables: set[str] = set()
        self.implicit: list[str] = []
        self.profile_alias: str | None = None

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
        self.index += 1
        return token

    def expect(self, text: str) -> Token:
        if not self.at(text):
            found = self.current.text or "the end of the expression"
            raise PQLSyntaxError(f"expected {text!r} but found {found!r}", self.text, self.current.pos)
        return self.advance()

    def error(self, message: str) -> PQLSyntaxError:
        return PQLSyntaxError(message, self.text, self.current.pos)

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
        node = self.parse_or()
        if self.current.kind != "eof":
            raise self.error(f"unexpected {self.current.text!r}")
        return node

    def parse_or(self) -> Node:
        node = self.parse_and()
        while self.at("or"):
            self.advance()
            node = FnApply("or", (node, self.parse_and()))
        return node

    def parse_and(self) -> Node:
        node = self.parse_not()
        while self.at("and"):
            self.advance()
            node = FnApply("and", (node, self.parse_not()))
        return node

    def parse_not(self) -> Node:
        if self.at("not", "!"):
            self.advance()
            return FnApply("not", (self.parse_not(),))
        return self.parse_comparison()

    def parse_comparison(self) -> Node:
        node = self.parse_additive()
        if self.current.kind == "op" and self.current.text in COMPARISONS:
            op = self.advance().text
            return FnApply(op, (node, self.parse_additive()))
        if self.at("in", "notIn", "like"):
            op = self.advance().text
            return FnApply(op, (node, self.parse_additive()))
        if self.at("occurs"):
            self.advance()
            return self.parse_occurs(node)
        return node

    def parse_occurs(self, subject: Node) -> Node:
        if self.current.kind == "op" and self.current.text in COMPARISONS:
            comparator = self.advance().text
            amount = self.parse_number()
            unit = self.parse_unit()
            if not self.at("before", "after", "from"):
                raise self.error("expected 'before', 'after' or 'from' after the duration")
            direction = self.advance().text
            return FnApply(
                "occurs",
                (
                    subject,
                    literal(comparator),
                    literal(amount),
                    literal(unit),
                    literal(direction),
                    self.parse_time_anchor(),
                ),
            )
        if self.at("between"):
            self.advance()
            start = self.parse_time_anchor()
            self.expect("and")
            return FnApply("occursBetween", (subject, start, self.parse_time_anchor()))
        if self.at("before", "after", "on"):
            mode = self.advance().text
            return FnApply("occurs" + mode.capitalize(), (subject, self.parse_time_anchor()))
        return FnApply("occursOn", (subject, self.parse_time_anchor()))

    def parse_number(self) -> int:
        if self.current.kind != "number" or "." in self.current.text:
            raise self.error("expected a whole number")
        return int(self.advance().text)

    def parse_unit(self) -> str:
        word = self.current.text
        singular = {"centuries": "century", "millennia": "millennium"}.get(word, word.removesuffix("s"))
        if self.current.kind != "ident" or singular not in UNITS:
            raise self.error(f"expected a time unit ({', '.join(UNITS)})")
        self.advance()
        return singular

    def parse_time_anchor(self) -> Node:
        if self.at("last", "this", "next"):
            which = self.advance().text
            return FnApply("relativePeriod", (literal(which), literal(self.parse_unit())))
        return self.parse_additive()

    def parse_additive(self) -> Node:
        node = self.parse_multiplicative()
        while self.at("+", "-"):
            op = self.advance().text
            node = FnApply(op, (node, self.parse_multiplicative()))
        return node

    def parse_multiplicative(self) -> Node:
        node = self.parse_unary()
        while self.at("*", "/", "%"):
            op = self.advance().text
            node = FnApply(op, (node, self.parse_unary()))
        return node

    def parse_unary(self) -> Node:
        if self.at("-"):
            self.advance()
            operand = self.parse_unary()
            if isinstance(operand, Literal) and operand.literal_type in ("Integer", "Double"):
                return literal(-operand.value)
            return FnApply("-", (literal(0), operand))
        return self.parse_postfix()

    def parse_postfix(self) -> Node:
        node = self.parse_primary()
        while self.at(".", "["):
            if self.advance().text == "[":
                variable = self.push_implicit()
                try:
                    condition = self.parse_or()
                finally:
                    self.implicit.pop()
                self.expect("]")
                node = FnApply("filter", (node, literal(variable), condition))
                continue
            if self.current.kind != "ident":
                raise self.error("expected a field or function name after '.'")
            name = self.advance().text
            if self.at("("):
                if name not in METHODS:
                    raise PQLUnsupportedError(f"the function {name}() is not supported")
                node = FnApply(name, (node, *self.parse_arguments()))
            else:
                node = FieldLookup(name, node)
        return node

    def parse_arguments(self) -> tuple[Node, ...]:
        self.expect("(")
        args: list[Node] = []
        while not self.at(")"):
            args.append(self.parse_or())
            if self.at(","):
                self.advance()
            elif not self.at(")"):
                found = self.current.text or "the end of the expression"
                raise self.error(f"expected ',' or ')' but found {found!r}")
        self.expect(")")
        return tuple(args)

    def parse_primary(self) -> Node:
        token = self.current
        if token.kind == "string":
            self.advance()
            return literal(unescape(token.text, self.text, token.pos))
        if token.kind == "number":
            self.advance()
            is_double = any(c in token.text for c in ".eE")
            return literal(float(token.text) if is_double else int(token.text))
        if token.kind == "param":
            self.advance()
            return ParameterReference(int(token.text[1:]))
        if self.at("("):
            self.advance()
            node = self.parse_or()
            self.expect(")")
            return node
        if self.at("["):
            return self.parse_list()
        if self.at("^"):
            raise PQLUnsupportedError(
                "the up operator ^ (e.g. ^^.person.gender inside a filter) is not supported"
            )
        if token.kind != "ident":
            raise self.error(f"unexpected {token.text or 'end of the expression'!r}")
        return self.parse_identifier()

    def parse_list(self) -> Node:
        self.expect("[")
        items: list[Literal] = []
        while not self.at("]"):
            item = self.parse_unary()
            if not isinstance(item, Literal):
                raise PQLUnsupportedError("array literals may only hold literals")
            items.append(item)
            if not self.at("]"):
                self.expect(",")
        self.expect("]")
        return literal([item.value for item in items])

    def parse_identifier(self) -> Node:
        name = self.advance().text
        if name in ("true", "false"):
            return literal(name == "true")
        if name == "null":
            return literal(None)
        if name in UNSUPPORTED:
            raise PQLUnsupportedError(f"{name} is valid PQL but not supported by this engine yet")
        if name in ("exists", "forall", "select"):
            return self.parse_quantifier(name)
        if name in ("CHAIN", "chain") and self.at("("):
            return self.parse_chain()
        if name in AGGREGATES and self.current.kind == "ident" and self.over_follows():
            return self.parse_aggregate(name)
        if name in RELATIVE_WORDS and not self.at("("):
            return FnApply(name, ())
        if name in FUNCTIONS and self.at("("):
            return FnApply(name, self.parse_arguments())
        if self.at("("):
            raise PQLUnsupportedError(f"the function {name}() is not supported")
        if name in self.variables:
            return VariableReference(name)
        if name == self.profile_alias:
            return ParameterReference(1)
        if self.implicit:  # inside xEvent[...] or WHAT(...): bare names are the item's fields
            return FieldLookup(name, VariableReference(self.implicit[-1]))
        return FieldLookup(name, ParameterReference(1))

    def push_implicit(self) -> str:
        variable = f"_item{len(self.implicit) + 1}"
        self.implicit.append(variable)
        return variable

    def over_follows(self) -> bool:
        """``sum X.f over X from ...``: is there an ``over`` before the expression ends?"""
        depth = 0
        for token in self.tokens[self.index :]:
            if token.text in ("(", "["):
                depth += 1
            elif token.text in (")", "]"):
                depth -= 1
                if depth < 0:
                    return False
            elif token.text == "over" and depth == 0:
                return True
            elif token.text in ("and", "or") and depth == 0:
                return False
        return False

    def parse_aggregate(self, function: str) -> Node:
        over = next(i for i in range(self.index, len(self.tokens)) if self.tokens[i].text == "over")
        variable = self.tokens[over + 1].text
        self.variables.add(variable)
        try:
            value = self.parse_additive()
            self.expect("over")
            self.advance()
            self.expect("from")
            source = self.parse_postfix()
            if not self.at("where", ":"):
                raise self.error("expected 'where' or ':'")
            self.advance()
            condition = self.parse_not()
        finally:
            self.variables.discard(variable)
        return FnApply("aggregateOver", (literal(function), literal(variable), source, condition, value))

    def parse_chain(self) -> Node:
        self.expect("(")
        source = self.parse_postfix()
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
            label = self.advance().text
            self.expect(":")
            self.expect("WHAT")
            variable = self.push_implicit()
            try:
                self.expect("(")
                what = self.parse_or()
                self.expect(")")
                parts: tuple[Node, ...] = (literal(label), literal(variable), what)
                if self.at("WHEN"):
                    self.advance()
                    self.expect("(")
                    parts += (self.parse_occurs(FieldLookup(timestamp, VariableReference(variable))),)
                    self.expect(")")
            finally:
                self.implicit.pop()
            steps.append(FnApply("chainStep", parts))
            if self.at(","):
                self.advance()
        self.expect("]")
        self.expect(")")
        if not steps:
            raise self.error("CHAIN needs at least one step")
        return FnApply("chain", (source, literal(timestamp), *steps))

    def parse_quantifier(self, kind: str) -> Node:
        if self.current.kind != "ident":
            raise self.error(f"expected a variable name after {kind!r}")
        variable = self.advance().text
        self.expect("from")
        source = self.parse_postfix()
        if not self.at("where", ":"):
            raise self.error("expected 'where' or ':'")
        self.advance()
        self.variables.add(variable)
        try:
            condition = self.parse_not()
            # "exists E from xEvent where (...), I from E.productListItems where ...": nested quantifiers
            if kind != "select" and self.at(",") and self.peek(2).text == "from":
                self.advance()
                condition = FnApply("and", (condition, self.parse_quantifier(kind)))
        finally:
            self.variables.discard(variable)
        return FnApply(kind, (literal(variable), source, condition))


def parse(text: str) -> Node:
    """Parse PQL text into a syntax tree; raises ``PQLSyntaxError`` or ``PQLUnsupportedError``."""
    if not isinstance(text, str):
        raise PQLSyntaxError("the expression must be a string", "", 0)
    return Parser(text).parse()
