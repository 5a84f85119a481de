"""What the documented examples leave open, worked out by hand: calendar months in ``occurs``, CHAIN's
``COUNT``/``WHERE``, ``topN`` ties and nulls, ``let`` and lambda scopes, the up operator ``^``, dates
written as ISO strings, the pql/json of the new constructs, what text cannot say, and the limits (depth,
loop nesting, steps) on every new construct."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from airflow_provider_segmentation import pql
from airflow_provider_segmentation.pql.ast import (
    MAX_DEPTH,
    FieldLookup,
    FnApply,
    Literal,
    ParameterReference,
    PQLTooComplexError,
    VariableReference,
)
from airflow_provider_segmentation.pql.evaluate import MAX_LOOP_NESTING, MAX_STEPS
from tests.pql.test_hostile_inputs import pql_texts

UTC = timezone.utc
NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


def value(text: str, profile: dict[str, Any] | None = None, now: datetime = NOW) -> Any:
    return pql.compile(text)(pql.Context(profile or {}, now))


def round_trips(text: str) -> pql.Node:
    tree = pql.parse(text)
    assert pql.from_json(pql.to_json(tree)) == tree
    assert pql.parse(pql.to_text(tree)) == tree
    return tree


# -- occurs: months and years on the calendar ------------------------------------------------------------
@pytest.mark.parametrize(
    ("when", "text", "now", "expected"),
    [
        # the 31st of March minus one month is the 28th of February (30 days would be the 1st of March)
        (datetime(2026, 2, 28, 12, 0, tzinfo=UTC), "t occurs <= 1 month before now", NOW, True),
        (datetime(2026, 2, 28, 11, 59, tzinfo=UTC), "t occurs <= 1 month before now", NOW, False),
        (datetime(2026, 2, 28, 11, 59, tzinfo=UTC), "t occurs > 1 month before now", NOW, True),
        (datetime(2026, 3, 1, 12, 0, tzinfo=UTC), "t occurs = 1 month before now", NOW, False),
        (datetime(2026, 2, 28, 12, 0, tzinfo=UTC), "t occurs = 1 month before now", NOW, True),
        # a leap day: one year before the 29th of February 2024 is the 28th of February 2023
        (datetime(2023, 2, 28, tzinfo=UTC), "t occurs >= 1 year before date(2024, 2, 29)", NOW, True),
        (datetime(2023, 3, 1, tzinfo=UTC), "t occurs >= 1 year before date(2024, 2, 29)", NOW, False),
        # after: the 31st of January plus one month is the 28th of February
        (datetime(2026, 2, 28, tzinfo=UTC), "t occurs >= 1 month after date(2026, 1, 31)", NOW, True),
        (datetime(2026, 2, 27, tzinfo=UTC), "t occurs >= 1 month after date(2026, 1, 31)", NOW, False),
        (datetime(2016, 3, 31, 12, 0, tzinfo=UTC), "t occurs <= 1 decade before now", NOW, True),
        (datetime(2016, 3, 31, 11, 0, tzinfo=UTC), "t occurs <= 1 decade before now", NOW, False),
        (datetime(1900, 1, 1, tzinfo=UTC), "t occurs > 1 century before now", NOW, True),
        # past the years a datetime holds: the window holds every time since 0001-01-01, as in days
        (datetime(2000, 1, 1, tzinfo=UTC), "t occurs <= 3 millennia before now", NOW, True),
        (datetime(2000, 1, 1, tzinfo=UTC), "t occurs > 3 millennia before now", NOW, False),
        (datetime(2026, 3, 28, 12, tzinfo=UTC), "t occurs <= 3 days before now", NOW, True),  # days: fixed
    ],
)
def test_months_and_years_are_calendar_months_and_years(
    when: datetime, text: str, now: datetime, expected: bool
) -> None:
    assert value(text, {"t": when}, now) is expected


@pytest.mark.parametrize(
    ("when", "text", "expected"),
    [
        (datetime(2026, 3, 31, 11, 15, tzinfo=UTC), "t occurs last hour", True),
        (datetime(2026, 3, 31, 12, 0, 30, tzinfo=UTC), "t occurs this minute", True),
        (datetime(2026, 3, 31, 12, 1, tzinfo=UTC), "t occurs next minute", True),
        (datetime(2026, 1, 1, tzinfo=UTC), "t occurs this year", True),
        (datetime(2009, 12, 31, tzinfo=UTC), "t occurs last decade", False),
        (datetime(2010, 1, 1, tzinfo=UTC), "t occurs last decade", True),
        (datetime(2019, 12, 31, tzinfo=UTC), "t occurs last decade", True),
        (datetime(2099, 12, 31, tzinfo=UTC), "t occurs this century", True),
        (datetime(1999, 12, 31, tzinfo=UTC), "t occurs last millennium", True),
        (datetime(2026, 2, 10, tzinfo=UTC), "t occurs last month", True),
    ],
)
def test_every_unit_makes_a_relative_period(when: datetime, text: str, expected: bool) -> None:
    round_trips(text)
    assert value(text, {"t": when}) is expected


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("1985-05-01", True),  # an XDM date
        ("1989-12-31T23:30:00Z", True),
        ("1990-01-01T00:30:00+01:00", True),  # 23:30 UTC the day before
        ("1990-01-01", False),
        (date(1989, 5, 1), True),
        (datetime(1989, 5, 1), False),  # no time zone: not a time
        ("not a date", False),
        (19890501, False),
    ],
)
def test_dates_may_be_iso_strings_dates_or_aware_datetimes(when: Any, expected: bool) -> None:
    assert (
        value("person.birthDate occurs before date(1990, 1, 1)", {"person": {"birthDate": when}}) is expected
    )


def test_date_parts_and_current_date_functions() -> None:
    profile = {"d": "2026-06-15T23:30:00-02:00", "e": date(1999, 12, 31), "f": "nope"}
    assert [value(f"d.{fn}()", profile) for fn in ("getYear", "getMonth", "getDayOfMonth")] == [2026, 6, 15]
    assert [value(f"e.{fn}()", profile) for fn in ("getYear", "getMonth", "getDayOfMonth")] == [1999, 12, 31]
    assert value("f.getMonth()", profile) is None and value("missing.getYear()", profile) is None
    tokyo = datetime(2026, 4, 1, 8, 0, tzinfo=timezone(timedelta(hours=9)))  # still the 31st of March in UTC
    assert [value(f"current{part}()", now=tokyo) for part in ("Year", "Month", "DayOfMonth")] == [2026, 4, 1]
    with pytest.raises(pql.PQLSyntaxError, match="currentMonth takes 0 parameters"):
        pql.parse("currentMonth(1) = 3")


# -- CHAIN: COUNT and WHERE ----------------------------------------------------------------------------------
def views(*hours_ago: float, **fields: Any) -> list[dict[str, Any]]:
    return [{"eventType": "view", "timestamp": NOW - timedelta(hours=h), **fields} for h in hours_ago]


@pytest.mark.parametrize(
    ("events", "text", "expected"),
    [
        (views(20, 16, 12, 8, 4), 'WHAT(eventType = "view") WHEN(< 24 hours before now) COUNT(5)', True),
        (views(30, 16, 12, 8, 4), 'WHAT(eventType = "view") WHEN(< 24 hours before now) COUNT(5)', False),
        (views(3, 2, 1), 'WHAT(eventType = "view") COUNT(3)', True),
        (views(3, 2, 1), 'WHAT(eventType = "view") COUNT(4)', False),
        # the next step starts after the COUNT-th event: the buy must follow the second view
        (
            [*views(5, 1), {"eventType": "buy", "timestamp": NOW - timedelta(hours=3)}],
            'WHAT(eventType = "view") COUNT(2), B: WHAT(eventType = "buy")',
            False,
        ),
        (
            [*views(5, 4), {"eventType": "buy", "timestamp": NOW - timedelta(hours=3)}],
            'WHAT(eventType = "view") COUNT(2), B: WHAT(eventType = "buy")',
            True,
        ),
        (views(2, page="home"), 'WHAT(eventType = "view") WHERE(page = "home")', True),
        (views(2, page="cart"), 'WHAT(eventType = "view") WHERE(page = "home")', False),
        # clauses in any order; ^ in a step is the profile
        (views(2, 1, page="home"), 'WHAT(eventType = "view") COUNT(2) WHERE(page = ^.favoritePage)', True),
        (views(2, 1, page="home"), 'WHAT(eventType = "view") WHERE(page = $1.favoritePage) COUNT(3)', False),
    ],
)
def test_chain_count_and_where(events: list[dict[str, Any]], text: str, expected: bool) -> None:
    chain = f"CHAIN(xEvent, timestamp, [A: {text}])"
    round_trips(chain)
    profile = {"favoritePage": "home", "xEvent": events}
    assert value(chain, profile) is expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("CHAIN(xEvent, timestamp, [A: WHAT(true) COUNT(0)])", "1 or more"),
        ("CHAIN(xEvent, timestamp, [A: WHAT(true) COUNT(1.5)])", "whole number"),
        ("CHAIN(xEvent, timestamp, [A: WHAT(true) COUNT(2) COUNT(3)])", "takes one COUNT"),
        ("CHAIN(xEvent, timestamp, [A: WHAT(true) WHEN(today) WHEN(today)])", "takes one WHEN"),
    ],
)
def test_chain_clauses_are_checked(text: str, words: str) -> None:
    with pytest.raises(pql.PQLSyntaxError, match=words):
        pql.parse(text)


def test_chain_step_clauses_in_pql_json() -> None:
    doc = json.loads(pql.to_json(pql.parse("CHAIN(xEvent, timestamp, [A: WHAT(true) WHERE(b) COUNT(5)])")))
    step = doc["params"][2]
    assert step["fnName"] == "chainStep"
    assert [param.get("fnName") for param in step["params"][3:]] == ["chainWhere", "chainCount"]
    assert step["params"][4]["params"] == [{"nodeType": "literal", "literalType": "Integer", "value": 5}]


# -- per-item methods: topN, bottomN, groupBy, map, filter, aggregates, exists ----------------------------
ITEMS = [{"n": 3, "k": "a"}, {"n": None, "k": "b"}, {"n": 7, "k": "a"}, {"n": 3, "k": "c"}, {"k": "d"}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("items.topN(n, 2)", [ITEMS[2], ITEMS[0]]),
        ("items.topN(n, 10)", [ITEMS[2], ITEMS[0], ITEMS[3]]),  # no value, no place
        ("items.bottomN(n, 2)", [ITEMS[0], ITEMS[3]]),  # a tie keeps the items' order
        ("items.topN(n, 0)", []),
        ("items.topN(n, size)", [ITEMS[2]]),
        ("items.topN(n, half)", None),  # not a whole number
        ("items.topN(k, 1)", [ITEMS[4]]),  # strings sort too
        ("mixed.topN(v, 1)", None),  # numbers and strings do not compare
        ("items.groupBy(k).keys()", ["a", "b", "c", "d"]),
        ('items.groupBy(k).get("a").count()', 2),
        ("lists.groupBy(v)", None),  # an array is no key
        ("items.groupBy(missing).keys()", [None]),  # null is one key
        ("items.map(n * 2)", [6, None, 14, 6, None]),
        ("items.map((X) => X.k)", ["a", "b", "a", "c", "d"]),
        ("items.map(mapEntry(k, n))", {"a": 7, "b": None, "c": 3, "d": None}),
        ("items.groupBy(k).map((K, G) => mapEntry(K, G.sum(n)))", {"a": 10.0, "b": 0.0, "c": 3.0, "d": 0.0}),
        ("items.groupBy(k).map((K, G) => K)", ["a", "b", "c", "d"]),  # not entries: a list
        ("items.map((K, G) => K)", None),  # two names need a map
        ("items.filter(n > 3)", [ITEMS[2]]),
        ("items.sum(n)", 13.0),
        ("items.average(n)", 13 / 3),
        ("items.min(n) = 3 and items.max(n) = 7", True),
        ("orders.sum(lines.price)", 10.0),  # arrays of values are added up
        ("items.exists(n > 5)", True),
        ("items.exists(n > 7)", False),
        ("items.count()", 5),
        ('["a", "b", "a", "c"].intersection(["c", "a"])', ["a", "c"]),
    ],
)
def test_per_item_methods(text: str, expected: Any) -> None:
    round_trips(text)
    profile = {
        "items": ITEMS,
        "size": 1,
        "half": 0.5,
        "mixed": [{"v": 1}, {"v": "x"}],
        "lists": [{"v": [1, 2]}],
        "orders": [{"lines": [{"price": 2.5}, {"price": 3.5}]}, {"lines": [{"price": 4.0}]}],
    }
    assert value(text, profile) == expected


def test_per_item_arguments_see_the_item_and_the_rest_see_the_profile() -> None:
    tree = pql.parse("orders.topN(price, limit)")
    assert isinstance(tree, FnApply)
    assert tree.params[2] == FieldLookup("price", VariableReference("_item1"))
    assert tree.params[3] == FieldLookup("limit", ParameterReference(1))
    assert value("orders.topN(price, limit)", {"orders": [{"price": 1}, {"price": 2}], "limit": 1}) == [
        {"price": 2}
    ]


def test_pql_json_of_per_item_methods_is_fn_apply_with_the_variable_second() -> None:
    assert json.loads(pql.to_json(pql.parse("orders.topN(price, 5)"))) == {
        "nodeType": "fnApply",
        "fnName": "topN",
        "params": [
            {
                "nodeType": "fieldLookup",
                "fieldName": "orders",
                "object": {"nodeType": "parameterReference", "position": 1},
            },
            {"nodeType": "literal", "literalType": "String", "value": "_item1"},
            {
                "nodeType": "fieldLookup",
                "fieldName": "price",
                "object": {"nodeType": "variableReference", "name": "_item1"},
            },
            {"nodeType": "literal", "literalType": "Integer", "value": 5},
        ],
    }
    # the filter method is the filter operator; exists as a method is the quantifier
    assert pql.parse("xEvent.filter(a = 1)") == pql.parse("xEvent[a = 1]")
    exists = pql.parse("xEvent.exists(a = 1)")
    assert isinstance(exists, FnApply) and exists.fn == "exists"
    assert exists.params[:2] == (Literal("_item1", "String"), pql.parse("xEvent"))
    assert pql.to_text(pql.parse("xEvent.exists(a = 1)")) == "xEvent.exists(a = 1)"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("orders.topN(price)", "expected ','"),
        ("orders.groupBy(a, b)", "expected '\\)'"),
        ("orders.topN(price, -1)", "0 or more"),
        ("orders.map((K, K) => K)", "two different ones"),
        ("orders.map((A, B, C) => A)", "two different ones"),
        ("orders.map((_item1) => 1)", "cannot name a variable"),
        ("exists now from xEvent where true", "cannot name a variable"),
        ("let in = 1 in (in)", "cannot name a variable"),
        ("a = not - b", "expected a value before 'not'"),  # no operator here, no field: $1.not is the field
        ("xEvent[let = 1]", "unexpected 'let'"),
    ],
)
def test_per_item_and_lambda_mistakes_are_syntax_errors(text: str, words: str) -> None:
    with pytest.raises(pql.PQLSyntaxError, match=words):
        pql.parse(text)


# -- let, ^ and scopes ------------------------------------------------------------------------------------
def test_let_binds_its_name_in_its_body_only() -> None:
    profile = {"S": "field", "xEvent": [{"a": 2}, {"a": 5}]}
    assert value("let S = 3 in (S + 1)", profile) == 4
    assert value('(let S = 3 in (S = 3)) and S = "field"', profile) is True
    assert value("let S = 3 in (let S = 4 in (S) = 4 and S = 3)", profile) is True
    assert value("let S = 3 in (xEvent[a > S].count())", profile) == 1
    assert pql.to_text(pql.parse('let S = 1 in ($1.S = "field")')) == 'let S = (1) in ($1.S = "field")'
    round_trips('let S = 1 in ($1.S = "field")')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("xEvent[lines[^.kind = ^^.kind]].count()", 1),  # ^ is the event, ^^ the profile
        ('xEvent[lines[^^kind = "gold"]].count()', 2),  # without a dot too
        ("xEvent[lines[sku = ^.best]].count()", 1),
        ("xEvent[^.kind = kind].count()", 1),  # from the first level, ^ is the profile
        ('xEvent[lines[^[kind = "gold"].count() = 1]].count()', 1),  # ^ alone: the event, filtered
    ],
)
def test_the_up_operator(text: str, expected: Any) -> None:
    round_trips(text)
    profile = {
        "kind": "gold",
        "xEvent": [
            {"kind": "gold", "best": "PS", "lines": [{"sku": "PS"}, {"sku": "XB"}]},
            {"kind": "blue", "best": "ZZ", "lines": [{"sku": "PS"}]},
        ],
    }
    assert value(text, profile) == expected


@pytest.mark.parametrize(
    ("text", "words", "column"),
    [
        ('^.person.gender = "female"', "inside a filter", 1),
        ("xEvent[^^^.a = 1]", "goes 3 levels up, but only 1 enclose it", 8),
    ],
)
def test_the_up_operator_outside_its_reach_is_a_syntax_error(text: str, words: str, column: int) -> None:
    with pytest.raises(pql.PQLSyntaxError, match=words) as excinfo:
        pql.parse(text)
    assert excinfo.value.column == column


@pytest.mark.parametrize(
    "text",
    [
        "$1.now = 1",  # a field that a bare name cannot be
        "xEvent[a = $1.a]",  # inside a filter, the profile's field
        "exists X from xEvent where ($1.X = X.a)",
        "xEvent[exists X from lines where (X.a = a and ^.b = 1)]",
        "orders.map((X) => X.price * 2)",
        "CHAIN(xEvent, timestamp, [A: WHAT(a = 1) WHEN(<= 2 days before ^.since) WHERE(b[c = ^.d])])",
        '{"count": xEvent.count(), "we\\"ird": [1, 2], "nested": {"a": null}}',
    ],
)
def test_scopes_survive_the_round_trip_through_text(text: str) -> None:
    round_trips(text)


@pytest.mark.parametrize(
    ("document", "words"),
    [
        # a filter whose item is not named as the parser names it: text cannot say it
        (
            FnApply("filter", (pql.parse("xEvent"), Literal("X", "String"), pql.parse("true"))),
            "implicit item",
        ),
        (FnApply("exists", (Literal("now", "String"), pql.parse("xEvent"), pql.parse("true"))), "reserved"),
        (FieldLookup("x y", pql.parse("$1")), "not a name"),
        (FnApply("let", (Literal("_item1", "String"), pql.parse("1"), pql.parse("true"))), "reserved"),
        # a variable that nothing declares: its bare name would read back as a field
        (FnApply("not", (VariableReference("X"),)), "'X' is declared by nothing"),
        (FieldLookup("a", VariableReference("")), "'' is declared by nothing"),
        (FieldLookup("a", ParameterReference(-856)), "parameter position -856"),
        (FnApply("zzz", (Literal("X", "String"), Literal("X", "String"))), r"zzz\(\) is not supported"),
    ],
)
def test_trees_that_text_cannot_say_are_pql_errors(document: pql.Node, words: str) -> None:
    with pytest.raises(pql.PQLError, match=words):
        pql.to_text(document)
    assert pql.from_json(pql.to_json(document)) == document


def test_a_double_that_json_writes_as_a_whole_number_stays_a_double_in_text() -> None:
    tree = pql.from_json(
        '{"nodeType":"fnApply","fnName":">","params":[{"nodeType":"fieldLookup","fieldName":"a",'
        '"object":{"nodeType":"parameterReference","position":1}},'
        '{"nodeType":"literal","literalType":"Double","value":-226096333893791}]}'
    )
    assert pql.to_text(tree) == "a > -226096333893791.0"
    assert pql.parse(pql.to_text(tree)) == tree
    with pytest.raises(pql.PQLError, match="out of range for a Double"):
        pql.from_json('{"nodeType":"literal","literalType":"Double","value":1' + "0" * 400 + "}")


def test_an_operator_after_the_up_operator_is_an_operator() -> None:
    lines = pql.parse("xEvent[lines[^ and ok]]").params[2]  # the filter of each event's lines
    assert isinstance(lines, FnApply)
    both = FnApply("and", (VariableReference("_item1"), FieldLookup("ok", VariableReference("_item2"))))
    assert lines.params[2] == both
    round_trips("xEvent[lines[^ and ok]]")


def test_new_constructs_in_pql_json_are_checked() -> None:
    for fn, params, words in [
        ("sum", '[{"nodeType":"parameterReference"},{"nodeType":"parameterReference"}]', "not 2"),
        ("topN", '[{"nodeType":"parameterReference"}]', "topN takes 4 parameters"),
        ("object", '[{"nodeType":"literal","literalType":"String","value":"k"}]', "in pairs"),
        ("chainCount", '[{"nodeType":"literal","literalType":"Integer","value":0}]', "1 or more"),
        ("let", "[]", "let takes 3 parameters"),
    ]:
        with pytest.raises(pql.PQLError, match=words):
            pql.from_json(f'{{"nodeType":"fnApply","fnName":"{fn}","params":{params}}}')


def test_regular_expression_escapes_stay_in_strings() -> None:
    assert pql.parse(r'a.matches("\d+\.\w")') == pql.parse(r'a.matches("\\d+\\.\\w")')
    assert pql.to_text(pql.parse(r'a.matches("\d+")')) == r'a.matches("\\d+")'
    assert pql.parse(r'a = "\u0041\q"').params[1].value == "A\\q"  # type: ignore[union-attr]
    assert value(r'email.regexGroup("@(\w+)\.", 1)', {"email": "ana@example.com"}) == "example"


# -- limits ------------------------------------------------------------------------------------------------
DEEP = 5_000


@pytest.mark.parametrize(
    "text",
    [
        "let S = 1 in " * DEEP + "S",
        "let S = (" * DEEP + "1" + ") in (S)" * DEEP,
        "a.map(" * DEEP + "1" + ")" * DEEP,
        "a.map((X) => " * DEEP + "X" + ")" * DEEP,
        "a.topN(1, " * DEEP + "1" + ")" * DEEP,
        '{"k": ' * DEEP + "1" + "}" * DEEP,
        "CHAIN(xEvent, timestamp, [A: WHAT(true) WHERE(" * DEEP + "true" + ")])" * DEEP,
        "mapEntry(1, " * DEEP + "1" + ")" * DEEP,
    ],
)
def test_deep_new_constructs_are_refused(text: str) -> None:
    with pytest.raises(PQLTooComplexError, match=f"deeper than {MAX_DEPTH} levels"):
        pql.parse(text)


def with_stack(frames: int, call: Any) -> Any:
    return call() if frames <= 0 else with_stack(frames - 1, call)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("let", "let S = 1 in " * (MAX_DEPTH - 1) + "S"),
        ("object", '{"k": ' * (MAX_DEPTH - 1) + "1" + "}" * (MAX_DEPTH - 1)),
        ("map", "a.map(" * (MAX_DEPTH - 2) + "1" + ")" * (MAX_DEPTH - 2)),
    ],
)
def test_new_constructs_nest_up_to_the_limit_with_room_on_the_stack(name: str, text: str) -> None:
    tree = with_stack(300, lambda: pql.parse(text))
    assert tree.depth == MAX_DEPTH
    assert with_stack(300, lambda: pql.from_json(pql.to_json(tree))) == tree
    assert with_stack(300, lambda: pql.parse(pql.to_text(tree))) == tree
    if name == "map":  # loops multiply
        with pytest.raises(PQLTooComplexError, match="nest"):
            pql.compile(tree)
    else:
        assert with_stack(300, lambda: pql.evaluate(tree, {"a": 1}))


@pytest.mark.parametrize(
    ("opening", "closing"),
    [("a.map(", ")"), ("a.groupBy(", ")"), ("a.topN(", ", 1)"), ("a.sum(", ")"), ("a.exists(", ")")],
)
def test_per_item_methods_count_as_loops(opening: str, closing: str) -> None:
    levels = MAX_LOOP_NESTING + 1
    with pytest.raises(PQLTooComplexError, match=f"more than {MAX_LOOP_NESTING}"):
        pql.compile(opening * levels + "true" + closing * levels)
    pql.compile(opening * MAX_LOOP_NESTING + "true" + closing * MAX_LOOP_NESTING)


def test_per_item_methods_share_the_step_budget() -> None:
    items = list(range(1_100))
    compiled = pql.compile("a.map($1.a.map(1).count())")
    with pytest.raises(PQLTooComplexError, match="loop steps"):
        compiled(pql.Context({"a": items}, NOW))
    assert len(items) ** 2 > MAX_STEPS


@settings(deadline=2000, max_examples=200, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(pql_texts)
def test_every_parsed_tree_round_trips_through_text(text: str) -> None:
    try:
        tree = pql.parse(text)
    except pql.PQLError:
        return
    assert pql.parse(pql.to_text(tree)) == tree
