"""Hostile PQL: every input gets a result or a typed ``PQLError``, never another exception, never a hang.

One test per class of input that used to break the engine (deep nesting and wide chains; ``like`` with
many ``%``; invalid regexes, missing groups, impossible dates, numbers that overflow; catastrophic
regexes), property-based tests over arbitrary text, PQL-shaped text and arbitrary JSON, and the emulator
answering 400 (not 500) to such bodies. ``hang_guard`` only turns a hang of the code before the fix into
a failure; speed itself is asserted nowhere but in the hypothesis deadlines.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation import pql
from airflow_provider_segmentation.emulator.settings import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_ORG_ID,
)
from airflow_provider_segmentation.pql.ast import (
    MAX_DEPTH,
    FieldLookup,
    FnApply,
    Literal,
    ParameterReference,
    PQLTooComplexError,
)
from tests.conftest import mint_token

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
PROFILE: dict[str, Any] = {
    "a": 1,
    "b": "bob",
    "name": "Ana María",
    "pattern": "(a+)+$",
    "year": 2020,
    "loyalty": {"tier": "gold", "points": 1200, "ratio": 0.75},
    "tags": ["x", "y", {"nested": True}],
    "identityMap": {"Email": [{"id": "ana@example.com"}]},
    "born": datetime(1990, 5, 17, tzinfo=timezone.utc),
    "naive": datetime(1990, 5, 17),
}
EVENTS = [
    {"eventType": "commerce.purchases", "timestamp": NOW - timedelta(days=3), "a": 2},
    {"eventType": "web.pageViews", "timestamp": "not a date", "a": "2"},
]
PROPERTY = settings(
    deadline=2000, max_examples=200, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@contextmanager
def hang_guard(seconds: float = 20.0) -> Iterator[None]:
    """Fail instead of hanging forever (what the engine did before); generous, so never flaky."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(_signum: int, _frame: Any) -> None:
        raise TimeoutError(f"no answer within {seconds} s: the engine hangs on this input")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def with_stack(frames: int, call: Callable[[], Any]) -> Any:
    """``call()`` from ``frames`` frames deeper than here: the limit must leave room for callers."""
    return call() if frames <= 0 else with_stack(frames - 1, call)


def strict_json(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def exercise(tree: pql.Node) -> None:
    """Everything the API does with a tree: results or PQLErrors only, pql/json always strict JSON."""
    try:
        as_json = pql.to_json(tree)
    except pql.PQLError:
        pass
    else:
        strict_json(as_json)
        assert pql.from_json(as_json) == tree
    try:
        text = pql.to_text(tree)
    except pql.PQLError:
        pass
    else:
        assert pql.parse(text) == tree, text
    try:
        result = pql.evaluate(tree, PROFILE, EVENTS, now=NOW, in_segment=lambda s: s == "gold")
    except pql.PQLError:
        pass
    else:
        assert isinstance(result, bool)


# -- 1. deep nesting and wide chains ---------------------------------------------------------------------
DEEP = 5_000
DEEP_TEXTS = {
    "parentheses": "a = " + "(a = " * DEEP + "1" + ")" * DEEP,
    "not": "not " * DEEP + "a",
    "bang": "!" * DEEP + "a",
    "unary minus": "a = " + "-" * DEEP + "b",
    "dotted path": ".".join(["a"] * DEEP) + " = 1",
    "method arguments": "a.contains(" * DEEP + '"x"' + ")" * DEEP,
    "function arguments": "if(" * DEEP + "true" + ", 1, 2)" * DEEP + " = 1",
    "quantifiers": "exists X from xEvent where " * DEEP + "true",
    "comma quantifiers": "exists X from xEvent where true" + ", Y from xEvent where true" * DEEP,
    "quantifier sources": "exists X from " * DEEP + "xEvent where true",
    "filters": "xEvent" + "[a" * DEEP + "]" * DEEP,
    "occurs anchors": "a occurs before (" * DEEP + "now" + ")" * DEEP,
    "aggregates": "(sum X.a over X from xEvent where " * DEEP + "true" + ")" * DEEP + " > 1",
    "CHAIN": "CHAIN(xEvent, timestamp, [A: WHAT(" * DEEP + "true" + ")])" * DEEP,
    "lists in parentheses": "a in [(" * DEEP + "1" + ")]" * DEEP,
    "let": "let S = 1 in " * DEEP + "S",
    "per-item methods": "a.topN(" * DEEP + "1" + ", 2)" * DEEP,
    "lambdas": "a.map((K, V) => " * DEEP + "K" + ")" * DEEP,
    "objects": '{"k": ' * DEEP + "1" + "}" * DEEP,
    "CHAIN WHERE": "CHAIN(xEvent, timestamp, [A: WHAT(true) WHERE(" * DEEP + "true" + ")])" * DEEP,
}


@pytest.mark.parametrize("name", DEEP_TEXTS)
def test_deep_nesting_is_refused_naming_the_limit_and_where(name: str) -> None:
    with pytest.raises(pql.PQLError) as excinfo:
        pql.parse(DEEP_TEXTS[name])
    error = excinfo.value
    assert isinstance(error, PQLTooComplexError), error
    assert f"deeper than {MAX_DEPTH} levels" in str(error) and "^" in str(error)
    assert error.line == 1 and error.column is not None and error.column > 1
    assert len(str(error)) < 500  # the source line is shown as a window around the caret


def nested(levels: int) -> dict[str, str]:
    """Expressions whose tree is ``levels`` deep (leaves count one), one per kind of nesting."""
    return {
        "parentheses": "a = " + "(a = " * (levels - 3) + "1" + ")" * (levels - 3),
        "not": "not " * (levels - 2) + "a",
        "unary minus": "a = " + "-" * (levels - 3) + "b",
        "dotted path": ".".join(["a"] * (levels - 2)) + " = 1",
        "function arguments": "if(" * (levels - 2) + "true" + ", 1, 2)" * (levels - 2) + " = 1",
        "quantifiers": "exists X from xEvent where " * (levels - 2) + "true",
    }


@pytest.mark.parametrize("name", nested(MAX_DEPTH))
def test_nesting_up_to_the_limit_works_everywhere_with_room_on_the_stack(name: str) -> None:
    text = nested(MAX_DEPTH)[name]
    tree = with_stack(300, lambda: pql.parse(text))
    assert tree.depth == MAX_DEPTH
    as_json = with_stack(300, lambda: pql.to_json(tree))
    assert with_stack(300, lambda: pql.from_json(as_json)) == tree
    assert with_stack(300, lambda: pql.parse(pql.to_text(tree))) == tree
    if name == "quantifiers":  # loops multiply: MAX_LOOP_NESTING refuses them long before MAX_DEPTH
        with pytest.raises(PQLTooComplexError, match=f"nest {MAX_DEPTH - 2} deep"):
            pql.compile(tree)
    else:
        assert isinstance(with_stack(300, lambda: pql.evaluate(tree, PROFILE, EVENTS, now=NOW)), bool)
    with pytest.raises(PQLTooComplexError):
        pql.parse(nested(MAX_DEPTH + 1)[name])


def test_redundant_parentheses_cost_no_depth() -> None:
    assert pql.parse("(" * DEEP + "a = 1" + ")" * DEEP) == pql.parse("a = 1")


@pytest.mark.parametrize(("operator", "width"), [("or", 20_000), ("and", 5_000), ("+", 5_000), ("*", 5_000)])
def test_wide_chains_are_flat_and_work_end_to_end(operator: str, width: int) -> None:
    if operator in ("or", "and"):
        text = f" {operator} ".join(f"a = {i}" for i in range(width))
    else:
        text = f" {operator} ".join(["1"] * width) + (f" = {width}" if operator == "+" else " = 1")
    tree = pql.parse(text)
    assert tree.depth <= 4
    as_json = pql.to_json(tree)
    again = pql.from_json(as_json)
    assert again == tree and hash(again) == hash(tree) and pql.to_json(again) == as_json
    assert pql.parse(pql.to_text(tree)) == tree
    assert repr(tree).count("FnApply(") == (2 * width - 1 if operator in ("or", "and") else width)
    assert pql.evaluate(tree, {"a": width - 1}) is (operator != "and")


class CountingMapping(Mapping[str, Any]):
    """A profile object that counts how often a field is read from it: the evaluator's work, not time."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data, self.reads = data, 0

    def __getitem__(self, key: str) -> Any:
        self.reads += 1
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def test_a_wide_or_of_one_field_against_literals_reads_the_field_once_per_profile() -> None:
    text = " or ".join(f'homeAddress.postalCode = "{i:05d}"' for i in range(20_000))
    compiled = pql.compile(text)
    for postcode, expected in (("19999", True), ("00000", True), ("x", False)):
        home = CountingMapping({"postalCode": postcode})
        assert compiled(pql.Context({"homeAddress": home}, NOW)) is expected
        assert home.reads == 1  # was one read per term: 20,000 per profile, 31 s for 2,000 profiles


RUN_VALUES = [None, 1, 1.0, True, False, "1", "US", 3, 5, 2.5, [1], ["US"], {"a": 1}, NOW]


@pytest.mark.parametrize("value", RUN_VALUES, ids=repr)
@pytest.mark.parametrize(
    ("junction", "tests"),
    [
        ("or", ["a = 1", 'a = "US"', "a in [3, 4, null]", "a in []", "a = true"]),
        ("and", ["a != 1", 'a != "US"', "a notIn [3, 4, null]", "a notIn []"]),
        ("or", ["a = 1", "b = 2", "a = 3", "a > 4", "a = null", "a = 2.5"]),
        ("and", ["a != 1", "a != null", "a != 3"]),
    ],
)
def test_a_run_of_tests_of_one_field_means_what_each_test_means(
    junction: str, tests: list[str], value: Any
) -> None:
    profile = {"a": value, "b": 2}
    one_by_one = [pql.evaluate(test, profile) for test in tests]
    expected = any(one_by_one) if junction == "or" else all(one_by_one)
    assert pql.evaluate(f" {junction} ".join(tests), profile) is expected
    events = [{"a": value}]
    quantified = (
        f"exists X from xEvent where ({f' {junction} '.join(t.replace('a ', 'X.a ') for t in tests)})"
    )
    assert pql.evaluate(quantified, {"b": 2}, events) is expected  # paths of a variable too


LEAF = '{"nodeType":"parameterReference","position":1}'
TRUE = '{"nodeType":"literal","literalType":"Boolean","value":true}'
DEEP_JSON = {
    "fieldLookups": '{"nodeType":"fieldLookup","fieldName":"a","object":' * 20_000 + LEAF + "}" * 20_000,
    "nots": '{"nodeType":"fnApply","fnName":"not","params":[' * DEEP + TRUE + "]}" * DEEP,
    "right-nested ors": ('{"nodeType":"fnApply","fnName":"or","params":[' + TRUE + ",") * DEEP
    + TRUE
    + "]}" * DEEP,
}


@pytest.mark.parametrize("name", DEEP_JSON)
def test_deep_pql_json_is_refused_naming_the_limit_and_the_path(name: str) -> None:
    with pytest.raises(PQLTooComplexError, match=rf"deeper than {MAX_DEPTH} levels .*in pql/json at \$\."):
        pql.from_json(DEEP_JSON[name])


def test_deep_json_that_is_no_pql_and_deep_trees_built_by_hand_are_refused() -> None:
    with pytest.raises(pql.PQLError, match="must be an object"):
        pql.from_json("[" * 100_000 + "]" * 100_000)
    with pytest.raises(pql.PQLError, match="array literals may only hold"):
        pql.from_json('{"nodeType":"literal","literalType":"List","value":' + "[" * DEEP + "]" * DEEP + "}")
    node: pql.Node = ParameterReference()
    with pytest.raises(PQLTooComplexError):
        for _ in range(DEEP):
            node = FieldLookup("a", node)
    assert node.depth == MAX_DEPTH  # the last one that could be built


def test_wide_left_chains_in_pql_json_are_flat() -> None:
    width = 10_000
    doc = (
        '{"nodeType":"fnApply","fnName":"or","params":[' * (width - 1)
        + TRUE
        + ("," + TRUE + "]}") * (width - 1)
    )
    tree = pql.from_json(doc)
    assert pql.to_json(tree) == doc and pql.evaluate(tree, {})


# -- 2. like in linear time --------------------------------------------------------------------------------
def like_reference(subject: str, pattern: str) -> bool:
    """Dynamic programming over (subject, pattern) prefixes: obviously right, O(n*m)."""
    row = [True] + [False] * len(subject)
    for char in pattern:
        if char == "%":
            for i in range(1, len(row)):
                row[i] = row[i] or row[i - 1]
        else:
            row = [False] + [row[i] and (char == "_" or subject[i] == char) for i in range(len(subject))]
    return row[-1]


def test_like_with_twenty_wildcards_against_ten_thousand_characters() -> None:
    twenty = "%a" * 19 + "%b"  # 20 wildcards
    subject = "a" * 10_000
    with hang_guard():
        assert not pql.evaluate(f'name like "{twenty}"', {"name": subject})
        assert pql.evaluate(f'name like "{twenty}"', {"name": subject + "b"})
        assert pql.evaluate('name like "' + "%a_" * 20 + '%"', {"name": "ab" * 5_000})
        assert not pql.evaluate('name like "' + "%_a" * 20 + '"', {"name": "ab" * 5_000})


@PROPERTY
@given(st.text("ab%_", max_size=12), st.text("ab", max_size=30))
@example("%a%a%a%a%a%a%a%a%a%a%a%a%a%a%b", "a" * 30)
def test_like_agrees_with_the_obvious_definition(pattern: str, subject: str) -> None:
    text = f"name like {json.dumps(pattern)}"
    assert pql.evaluate(text, {"name": subject}) is like_reference(subject, pattern)


# -- 3. invalid regexes, missing groups, impossible dates, overflowing numbers ---------------------------
@pytest.mark.parametrize(
    ("text", "words", "column"),
    [
        ('name.matches("(")', "invalid regular expression", 6),
        ('name.matches("[z-a]")', "invalid regular expression", 6),
        ('name.regexGroup("(x)", 2) = "x"', "the pattern has 1 group(s)", 6),
        ('name.regexGroup("x", -1) = "x"', "the pattern has 0 group(s)", 6),
        ('name.regexGroup("x", "one") = "x"', "whole number", 6),
        ("born occurs on date(2020, 2, 31)", "day is out of range for month", 16),
        ("born occurs on date(2020, 13, 1)", "month must be in 1..12", 16),
        ("born occurs on date(0, 1, 1)", "is not a date", 16),
        ('born occurs on date("2020", 1, 1)', "whole numbers", 16),
        ("born occurs on date()", "date takes 1 to 3 parameters", 16),
        ("a > 1e999", "out of range", 5),
        ("a > -1e999", "out of range", 6),
        ("a > " + "9" * 5_000, "too long", 5),
        ("x occurs = " + "9" * 5_000 + " days before now", "too long", 12),
    ],
)
def test_impossible_literals_are_syntax_errors_with_line_and_column(
    text: str, words: str, column: int
) -> None:
    with pytest.raises(pql.PQLSyntaxError) as excinfo:
        pql.parse("true and\n" + text)
    assert words in str(excinfo.value)
    assert (excinfo.value.line, excinfo.value.column) == (2, column)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name.matches(pattern)", False),  # a pattern from the data: refused -> false
        ('name.matches(b + "(")', False),  # invalid at run time -> false
        ('name.regexGroup("(A)", a + 4).isNull()', True),  # a missing group at run time -> null
        ('name.regexGroup("(A)", b).isNull()', True),
        ('name.regexGroup("(A)n", 1) = "A"', True),
        ("date(year, 2, 31).isNull()", True),  # an impossible date at run time -> null
        ("date(year, 2, 28).isNull()", False),
        ("born occurs on date(year, 13, 1)", False),
        ("naive occurs before now", False),  # a naive datetime cannot be compared: null, not TypeError
        ("loyalty.points * 1e308 * 10 > 0", False),  # overflows to infinity: null
        ('"ab" * 1000000000 = "x"', False),  # only numbers multiply
        ("tags.intersects([1])", False),  # unhashable items
        ("xEvent.timestamp.max() occurs before now", False),
        ('CHAIN(xEvent, timestamp, [A: WHAT(eventType = "web.pageViews")])', False),
        ("identityMap.get(tags).isNull()", True),
    ],
)
def test_bad_data_gives_null_or_false_at_evaluation(text: str, expected: bool) -> None:
    assert pql.evaluate(text, PROFILE, EVENTS, now=NOW) is expected


def test_pql_json_is_always_strict_json() -> None:
    for text in ("a > 1.7976931348623157e308", "a > -1.5e-320", 'a = "\\ud800 \\u0000"', "a > 1e308 * 10"):
        strict_json(pql.to_json(pql.parse(text)))
    with pytest.raises(pql.PQLError, match="finite"):
        pql.to_json(FnApply("=", (FieldLookup("a", ParameterReference()), Literal(math.inf, "Double"))))
    with pytest.raises(pql.PQLError, match="finite"):
        pql.to_text(Literal(math.nan, "Double"))
    for bad in ("NaN", "Infinity", "-Infinity", "1e999", "-1e400", "1" * 5_000):
        with pytest.raises(pql.PQLError, match="not valid JSON"):
            pql.from_json(f'{{"nodeType":"literal","literalType":"Double","value":{bad}}}')
    with pytest.raises(pql.PQLError, match="must be a JSON string"):
        pql.from_json({"nodeType": "literal"})  # type: ignore[arg-type]


# -- 4. catastrophic regular expressions ----------------------------------------------------------------
@pytest.mark.parametrize(
    "pattern", ["(a+)+$", "(a*)*$", "(a|aa)+$", "(\\w+\\s?)+$", "(.*a){12}", "(a|.)+$", ".*a.*a.*a.*a.*b"]
)
def test_catastrophic_regexes_are_refused_at_parse_and_false_from_data(pattern: str) -> None:
    with pytest.raises(pql.PQLUnsupportedError, match="backtracks") as excinfo:
        pql.parse(f"name.matches({json.dumps(pattern)})")
    assert "line 1, column 6" in str(excinfo.value)
    with hang_guard():
        assert pql.evaluate("name.matches(pattern)", {"name": "a" * 5_000 + "!", "pattern": pattern}) is False


def test_polynomial_regexes_run_only_on_bounded_texts_and_safe_ones_still_work() -> None:
    with hang_guard():
        assert pql.evaluate('name.matches("\\\\d+\\\\d+x")', {"name": "1" * 499 + "x"})
        assert not pql.evaluate('name.matches("\\\\d+\\\\d+x")', {"name": "1" * 5_000 + "x"})  # not run
    for pattern, subject, expected in [
        ("^[\\w.+-]+@[\\w-]+\\.[\\w.]+$", "ana.maria@example.com", True),
        ("(foo|bar)+$", "xfoobarfoo", True),
        ("(\\d{3}-)+\\d{4}", "555-123-4567", True),
        (".*foo.*bar.*", "a foo and a bar", True),
        ("(?i)^ANA", "ana", True),
        ("^(\\w+\\.)*\\w+@", "ana@", False),  # refused: a repeated group of variable length
    ]:
        assert pql.evaluate("name.matches(pattern)", {"name": subject, "pattern": pattern}) is expected


# -- property-based: nothing but results and PQLErrors ----------------------------------------------------
TOKENS = [
    *"()[],.:=<>+-*/%!^",
    *("=>", "!=", "<=", ">=", "$1", "$99999999999999999999999"),
    *("and", "or", "not", "in", "notIn", "like", "occurs", "before", "after", "on", "between", "from"),
    *("where", "over", "exists", "forall", "select", "sum", "count", "average", "CHAIN", "WHAT", "WHEN"),
    *("X", "Y", "xEvent", "a", "b", "name", "timestamp", "born", "tags", "loyalty", "_item1", "Profile"),
    *("now", "today", "yesterday", "last", "this", "next", "day", "days", "hour", "week", "months", "year"),
    *("date", "if", "inSegment", "true", "false", "null", "topN", "let"),
    *("0", "1", "3", "2.5", "1e999", "1e308", "99999999999999999999", "-"),
    *('"x"', '"%a%_"', '"(a+)+$"', '"("', '"\\\\d+"', '"\\u0041"', '"\\ud800"', '"gold"', '"\\q"', '"'),
    *(".matches(", ".regexGroup(", ".contains(", ".count()", ".isNull()", ".get(", ".intersects(", ".max()"),
    *("date(2020, 2, 31)", "date(2020, 1, 1)", "date(year, 2, 31)", "[1, 2]", "[[1]]", "@", "\n"),
    *("^", "^^.", "{", "}", '"k":', "let S =", "in", ".topN(", ".groupBy(", ".map(", "mapEntry(", "COUNT(2)"),
    *("WHERE(", "currentMonth()", ".getYear()", ".intersection(", '"\\w"', "1 month", "last decade"),
]
LEAVES = [
    "a",
    "b",
    "name",
    "loyalty.points",
    "tags",
    "xEvent",
    "born",
    "$1.name",
    "1",
    "-2.5",
    '"x"',
    '"(a+)+$"',
    '"%a%a%a%a%a%a%a%a%a%a%a%a%b"',
    "true",
    "null",
    "now",
    "today",
    "date(2020, 1, 1)",
    "date(year, 2, 31)",
    "[1, 2]",
    '["x", "y"]',
    "1e308",
]
BINARY = ["and", "or", "=", "!=", "<", ">=", "in", "notIn", "like", "+", "-", "*", "/", "%"]


WRAPPERS: list[Callable[[str, str, str], str]] = [
    lambda a, b, c: f"{a} {c} {b}",
    lambda a, b, c: f"({a})",
    lambda a, b, c: f"not {a}",
    lambda a, b, c: f"-{a}",
    lambda a, b, c: f"{a}.count()",
    lambda a, b, c: f"{a}.field",
    lambda a, b, c: f"{a}.matches({b})",
    lambda a, b, c: f"{a}.regexGroup({b}, 1)",
    lambda a, b, c: f"{a}.startsWith({b}, false)",
    lambda a, b, c: f"exists X from xEvent where ({a})",
    lambda a, b, c: f"forall X from xEvent: {a}",
    lambda a, b, c: f"xEvent[{a}]",
    lambda a, b, c: f"(sum X.a over X from xEvent where {a}) > {b}",
    lambda a, b, c: f"if({a}, {b}, {a})",
    lambda a, b, c: f"{a} occurs <= 3 days before now",
    lambda a, b, c: f"{a} occurs between {b} and now",
    lambda a, b, c: f"{a} occurs last week",
    lambda a, b, c: f"CHAIN(xEvent, timestamp, [A: WHAT({a}) WHEN(today)])",
    lambda a, b, c: f"inSegment({a})",
    lambda a, b, c: f"{a}.topN({b}, 2)",
    lambda a, b, c: f"{a}.groupBy({b}).keys()",
    lambda a, b, c: f"{a}.map((K, V) => mapEntry(K, {b}))",
    lambda a, b, c: f"{a}.map({b})",
    lambda a, b, c: f"let S = ({a}) in (S {c} {b})",
    lambda a, b, c: f"xEvent[{a} or ^.b = {b}]",
    lambda a, b, c: f"CHAIN(xEvent, timestamp, [A: WHAT({a}) WHERE({b}) COUNT(2)])",
    lambda a, b, c: f'{{"k": {a}, "l": {b}}}',
    lambda a, b, c: f"{a}.getMonth() = currentMonth()",
    lambda a, b, c: f"{a} occurs <= 1 month before {b}",
    lambda a, b, c: f"{a}.intersection({b})",
]


@st.composite
def pql_expressions(draw: st.DrawFn, depth: int = 0) -> str:
    """Expressions built from PQL's operators, functions and hostile leaves, nested at random."""
    if depth >= 6 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(LEAVES))
    wrap = draw(st.sampled_from(WRAPPERS))
    first = draw(pql_expressions(depth + 1))
    second = draw(pql_expressions(depth + 1)) if draw(st.booleans()) else draw(st.sampled_from(LEAVES))
    return wrap(first, second, draw(st.sampled_from(BINARY)))


pql_texts = pql_expressions()
token_texts = st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join)
WRAP = ["(", "not ", "-", "a.contains(", "if(", "exists X from xEvent where ", "xEvent[", "[("]
CLOSE = {"(": ")", "a.contains(": ")", "if(": ", 1, 2)", "xEvent[": "]", "[(": ")]"}


@st.composite
def deeply_wrapped(draw: st.DrawFn) -> str:
    """One kind of nesting repeated up to twice past the limit, around a random expression."""
    wrapper, times = draw(st.sampled_from(WRAP)), draw(st.integers(0, 2 * MAX_DEPTH))
    return wrapper * times + draw(pql_texts) + CLOSE.get(wrapper, "") * times


def parse_and_exercise(text: str) -> None:
    try:
        tree = pql.parse(text)
    except pql.PQLError:
        return
    exercise(tree)


@PROPERTY
@given(st.text(max_size=200))
def test_any_text_parses_or_raises_a_pql_error(text: str) -> None:
    parse_and_exercise(text)


@PROPERTY
@given(st.one_of(token_texts, pql_texts, deeply_wrapped()))
def test_pql_shaped_text_gives_results_or_pql_errors(text: str) -> None:
    parse_and_exercise(text)


@PROPERTY
@given(pql_texts)
def test_parsed_trees_round_trip_through_pql_json(text: str) -> None:
    try:
        tree = pql.parse(text)
    except pql.PQLError:
        return
    as_json = pql.to_json(tree)
    strict_json(as_json)
    assert pql.from_json(as_json) == tree
    assert pql.to_json(pql.from_json(as_json)) == as_json


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10), st.integers(-(10**30), 10**30)
)
json_docs = st.recursive(
    json_scalars,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=20,
)
FN_NAMES = sorted(
    {"and", "or", "not", "=", "<", "in", "like", "+", "/", "%", "if", "date", "now", "relativePeriod"}
    | {"exists", "select", "filter", "aggregateOver", "occurs", "occursOn", "occursBetween", "chain"}
    | {"chainStep", "matches", "regexGroup", "count", "get", "keys", "inSegment", "zzz", "topN"}
    | {"let", "map", "groupBy", "sum", "object", "mapEntry", "chainCount", "chainWhere", "getMonth"}
    | {"currentMonth", "intersection"}
)
pql_leaves = st.one_of(
    st.fixed_dictionaries(
        {
            "nodeType": st.just("literal"),
            "literalType": st.sampled_from(
                ["String", "Integer", "Double", "Boolean", "Null", "List", "Date"]
            ),
            "value": json_docs,
        }
    ),
    st.fixed_dictionaries({"nodeType": st.just("parameterReference"), "position": json_scalars}),
    st.fixed_dictionaries(
        {"nodeType": st.just("variableReference"), "name": st.sampled_from(["X", "_item1"])}
    ),
    st.builds(
        lambda name, value: {"nodeType": "literal", "literalType": "String", "value": value},
        st.none(),
        st.sampled_from(["(a+)+$", "(", "x", "%a%", "last", "day", "=", "sum", "X", "_item1", "month"]),
    ),
)
pql_docs = st.recursive(
    pql_leaves,
    lambda c: st.one_of(
        st.fixed_dictionaries(
            {
                "nodeType": st.just("fnApply"),
                "fnName": st.sampled_from(FN_NAMES),
                "params": st.lists(c, max_size=6),
            }
        ),
        st.fixed_dictionaries(
            {
                "nodeType": st.just("fieldLookup"),
                "fieldName": st.sampled_from(["a", "name", "x y"]),
                "object": c,
            }
        ),
        st.dictionaries(st.sampled_from(["nodeType", "fnName", "params", "object"]), c, max_size=3),
    ),
    max_leaves=30,
)


@st.composite
def deep_docs(draw: st.DrawFn) -> str:
    """A pql/json node wrapped up to 600 times in one kind of node, as JSON text."""
    inner, times = json.dumps(draw(pql_docs)), draw(st.integers(0, 3 * MAX_DEPTH))
    head, tail = draw(
        st.sampled_from(
            [
                ('{"nodeType":"fieldLookup","fieldName":"a","object":', "}"),
                ('{"nodeType":"fnApply","fnName":"not","params":[', "]}"),
                ('{"nodeType":"fnApply","fnName":"or","params":[', "," + TRUE + "]}"),
                ('{"nodeType":"fnApply","fnName":"+","params":[' + TRUE + ",", "]}"),
                ("[", "]"),
            ]
        )
    )
    return head * times + inner + tail * times


@PROPERTY
@given(st.one_of(json_docs.map(json.dumps), pql_docs.map(json.dumps), deep_docs(), st.text(max_size=100)))
def test_any_json_gives_a_tree_or_a_pql_error(text: str) -> None:
    try:
        tree = pql.from_json(text)
    except pql.PQLError:
        return
    exercise(tree)


# -- the emulator: 400, never 500 ------------------------------------------------------------------------
BASE = "/data/core/ups"
HOSTILE_BODIES = {
    "deep parentheses": ("pql/text", DEEP_TEXTS["parentheses"]),
    "deep not": ("pql/text", DEEP_TEXTS["not"]),
    "deep quantifiers": ("pql/text", DEEP_TEXTS["quantifiers"]),
    "invalid regex": ("pql/text", 'person.name.firstName.matches("(")'),
    "catastrophic regex": ("pql/text", 'person.name.firstName.matches("(a+)+$")'),
    "20-wildcard like and an invalid regex": (
        "pql/text",
        'person.name.firstName like "' + "%a" * 19 + '%b" and homeAddress.city.matches("[")',
    ),
    "impossible date": ("pql/text", "person.birthDate occurs on date(2020, 2, 31)"),
    "overflowing number": ("pql/text", "loyalty.points > 1e999"),
    "deep pql/json": ("pql/json", DEEP_JSON["fieldLookups"]),
    "pql/json with NaN": ("pql/json", '{"nodeType":"literal","literalType":"Double","value":NaN}'),
    "pql/json that is an object": ("pql/json", {"nodeType": "literal"}),
}


@pytest.fixture
def auth_headers(emulator: Any, emulator_admin: Any) -> dict[str, str]:
    token = mint_token(emulator.url, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, scope="openid,AdobeID")
    return {
        "Authorization": f"Bearer {token}",
        "x-api-key": DEFAULT_CLIENT_ID,
        "x-gw-ims-org-id": DEFAULT_ORG_ID,
        "x-sandbox-name": "prod",
        "Content-Type": "application/json",
    }


@pytest.mark.parametrize("name", HOSTILE_BODIES)
def test_emulator_answers_400_to_hostile_pql(emulator: Any, auth_headers: dict[str, str], name: str) -> None:
    fmt, value = HOSTILE_BODIES[name]
    expression = {"type": "PQL", "format": fmt, "value": value}
    conversion = requests.post(
        f"{emulator.url}{BASE}/segment/conversion",
        headers=auth_headers,
        json={"expression": expression},
        timeout=30,
    )
    definition = requests.post(
        f"{emulator.url}{BASE}/segment/definitions",
        headers=auth_headers,
        json={
            "name": f"hostile {name}",
            "schema": {"name": "_xdm.context.profile"},
            "expression": expression,
        },
        timeout=30,
    )
    for response in (conversion, definition):
        assert response.status_code == 400, response.text[:500]
        assert "Invalid PQL expression" in response.json()["title"]


def test_emulator_converts_a_20_wildcard_like_which_is_valid_pql(
    emulator: Any, auth_headers: dict[str, str]
) -> None:
    text = 'person.name.firstName like "' + "%a" * 19 + '%b"'
    response = requests.post(
        f"{emulator.url}{BASE}/segment/conversion",
        headers=auth_headers,
        json={"expression": {"type": "PQL", "format": "pql/text", "value": text}},
        timeout=30,
    )
    assert response.status_code == 200
    assert pql.from_json(response.json()["expression"]["value"]) == pql.parse(text)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
