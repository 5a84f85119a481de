"""PQL: parsing (with Adobe's pql/json), errors with a caret, round trips, and hand-worked evaluation."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_segmentation import pql

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)

# Expressions from Adobe's PQL docs (reference §4.3), each with its expected text after a round trip.
DOC_EXPRESSIONS = [
    "homeAddress.stateProvince = workAddress.stateProvince",
    "$1.homeAddress.stateProvince = $1.workAddress.stateProvince",
    'homeAddress.countryISO = "CA"',
    "person.birthMonth >= 3",
    'homeAddress.countryISO = "CA" and person.birthYear = 1985',
    'homeAddress.countryISO = "CA" or person.birthYear = 1985',
    'not (homeAddress.countryISO = "CA")',
    "person.age % 5 = 0",
    'city like "%es%"',
    'person.name.startsWith("Joe")',
    'person.name.doesNotStartWith("Joe")',
    'person.emailAddress.endsWith(".com")',
    'person.emailAddress.doesNotEndWith(".com")',
    'person.emailAddress.contains("2010@gm")',
    'person.emailAddress.doesNotContain("2010@gm")',
    'person.name.equals("John")',
    'person.name.notEqualTo("John")',
    'person.name.matches("(?i)^John")',
    'emailAddress.regexGroup("@(\\\\w+)", 1)',
    'eventType.equals("commerce.checkouts", false)',
    "person.birthMonth in [3, 6, 9]",
    "person.birthMonth notIn [3, 6, 9]",
    'person.favoriteColors.intersects(["red", "blue", "green"])',
    'person.favoriteColors.includes("red")',
    'person.likedColors.subsetOf(["red", "green", "blue"])',
    'person.likedColors.supersetOf(["red", "green"])',
    "person.orders.storeId.distinct().count() > 1",
    "orders.count() > 3",
    "orders.sum(order.price) > 100",
    'identityMap.get("Email").count() > 0',
    "identityMap.keys().count() > 1",
    "person.homeAddress.isNull()",
    "person.homeAddress.isNotNull()",
    "product.saleDate occurs = 3 hours before now",
    "person.birthday occurs = 3 days before today",
    "X.timestamp occurs before today",
    "timestamp occurs on date(2019, 12, 31)",
    "product.saleDate occurs last week",
    "timestamp occurs between date(2015, 1, 8) and date(2017, 7, 1)",
    "X.timestamp occurs <= 3 days before now",
    'inSegment("e3be6d7f-1727-4d10-9cd5-7c4bd04c6e41") and inSegment("9e1646bb-57ff-4309-ba59-17d6c5bab6a1")',
    "exists E from xEvent where (E.commerce.item.price > 50)",
    'if(person.age > 30, "old", "young") = "old"',
    'CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("commerce.checkouts", false)) WHEN(today)])',
    'workAddress.country.equals("US", false) and CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals('
    '"directMarketing.emailClicked", false)) WHEN(today), '
    'C1: WHAT(eventType.equals("commerce.checkouts", false)) WHEN(today)])',
    'CHAIN(xEvent, timestamp, [C0: WHAT(eventType = "x") WHEN(<= 24 hours before now)])',
    'chain(xEvent, timestamp, [A: WHAT(eventType = "addToCart")])',
    'not(chain(xEvent, timestamp, [A: WHAT(eventType = "homePageView")]))',
    "select var1 from xEvent where "
    "var1._experience.analytics.endUser.firstWeb.webPageDetails.isHomePage = true",
    "homeAddress.stateProvince = workAddress.stateProvince and homeAddress.city != workAddress.city",
    'xEvent[productListItems[SKU = "PS"]]',
    'exists E from xEvent where (E.commerce.item.price > 50), I from E.productListItems where I.SKU = "PS"',
    'forall E from xEvent where (E.eventType = "web.webpagedetails.pageViews")',
    'exists E from xEvent: (E.eventType = "commerce.purchases")',
    'sum X.commerce.order.priceTotal over X from xEvent where X.commerce.order.currencyCode = "USD" > 100',
    'count X.eventType over X from xEvent where X.eventType = "commerce.purchases" >= 2',
    'average X.commerce.order.priceTotal over X from xEvent where X.commerce.order.currencyCode = "EUR" < 80',
    'homeAddress.countryCode = "US" and not (loyalty.tier = "bronze")',
    '!(homeAddress.countryCode = "US")',
    "person.birthYear >= 1980 and person.birthYear <= 1989",
    "loyalty.points * 2 - 100 > 1000",
    "loyalty.points / 4 >= 250.5",
    "person.birthYear % 4 = 0 or person.birthYear % 100 = 0",
    '"gold" = loyalty.tier',
    "loyalty.points != 0",
    "loyalty.points < -1",
    "loyalty.ratio > 0.75",
    "loyalty.ratio > 1.5e3",
    'person.name.firstName like "J_n%"',
    'personalEmail.address.endsWith("@example.com", false)',
    'personalEmail.address.startsWith("ana", true)',
    'person.name.lastName.doesNotEndWith("son", false)',
    'person.name.lastName.contains("ll", false)',
    'homeAddress.city.matches("^San ")',
    'homeAddress.city in ["Paris", "Berlin", "Tokyo"]',
    "loyalty.points in [0, 1, 2]",
    'homeAddress.countryCode notIn ["US", "CA"]',
    'identityMap.get("ECID").count() = 1',
    "identityMap.values().count() >= 2",
    "consents.marketing.email.isNotNull()",
    "workAddress.isNull() or workAddress.city.isNull()",
    "loyalty.isNull() = false",
    "xEvent.count() > 10",
    "xEvent.timestamp.max() occurs <= 7 days before now",
    "person.birthDate occurs before date(1990, 1, 1)",
    "person.birthDate occurs after date(2000, 12, 31)",
    "X.timestamp occurs this month",
    "X.timestamp occurs next year",
    "X.timestamp occurs = 2 weeks before today",
    "X.timestamp occurs >= 1 year after date(2020, 1, 1)",
    "X.timestamp occurs yesterday",
    "X.timestamp occurs on tomorrow",
    'if(loyalty.tier = "gold", loyalty.points, 0) > 500',
    'inSegment("a") or inSegment("b")',
    '(Profile) => Profile.homeAddress.countryCode = "US" and Profile.loyalty.points > 10',
    '$1.loyalty.tier = "platinum"',
    'note = "tab\\tand quote \\"x\\""',
    "true",
    "false or true",
    'exists X from xEvent where (X.eventType = "commerce.purchases" '
    "and X.timestamp occurs <= 30 days before now)",
]


@pytest.mark.parametrize("text", DOC_EXPRESSIONS)
def test_doc_expressions_round_trip(text: str) -> None:
    tree = pql.parse(text)
    as_json = pql.to_json(tree)
    again = pql.to_text(pql.from_json(as_json))
    assert pql.to_json(pql.parse(again)) == as_json
    assert pql.from_json(as_json) == tree


def test_pql_json_matches_adobes_documented_example() -> None:
    assert json.loads(pql.to_json(pql.parse('workAddress.country = "US"'))) == {
        "nodeType": "fnApply",
        "fnName": "=",
        "params": [
            {
                "nodeType": "fieldLookup",
                "fieldName": "country",
                "object": {
                    "nodeType": "fieldLookup",
                    "fieldName": "workAddress",
                    "object": {"nodeType": "parameterReference", "position": 1},
                },
            },
            {"nodeType": "literal", "literalType": "String", "value": "US"},
        ],
    }


def test_lambda_form_means_the_profile() -> None:
    assert pql.parse('(Profile) => Profile.homeAddress.city = "Paris"') == pql.parse(
        'homeAddress.city = "Paris"'
    )


def test_string_escapes() -> None:
    tree = pql.parse(r'note = "say \"hi\"\n\\ok"')
    assert tree.params[1].value == 'say "hi"\n\\ok'  # type: ignore[union-attr]
    assert pql.to_text(tree) == r'note = "say \"hi\"\n\\ok"'


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ('homeAddress.country = = "US"', (1, 23), "unexpected '='"),
        ('homeAddress.country = "US" and', (1, 31), "unexpected 'end of the expression'"),
        ("a = 1\nand b = @", (2, 9), "unexpected character '@'"),
        ('person.name.startsWith("J"', (1, 27), "expected ',' or ')'"),
        ("", (1, 1), "empty"),
        ("X.timestamp occurs <= 3 lightyears before now", (1, 25), "time unit"),
        ('"unterminated', (1, 1), "unexpected character"),
    ],
)
def test_syntax_errors_point_at_the_problem(text: str, where: tuple[int, int], words: str) -> None:
    with pytest.raises(pql.PQLSyntaxError) as excinfo:
        pql.parse(text)
    assert (excinfo.value.line, excinfo.value.column) == where
    assert words in str(excinfo.value) and "^" in str(excinfo.value)


OPERATOR_WORDS = ["and", "or", "not", "in", "notIn", "like", "occurs", "from", "where", "over"]


@pytest.mark.parametrize("word", OPERATOR_WORDS)
def test_a_keyword_where_a_value_belongs_is_a_missing_value_at_the_keyword(word: str) -> None:
    with pytest.raises(pql.PQLSyntaxError, match=f"expected a value before '{word}'") as excinfo:
        pql.parse(f"homeAddress.countryCode = {word} x = 1")
    assert (excinfo.value.line, excinfo.value.column) == (1, 27)  # at the keyword, not at x
    assert f"$1.{word}" in str(excinfo.value)  # how to name a field called like that
    text = f"$1.{word} = 1 and person.{word} = 2"
    tree = pql.parse(text)
    assert pql.to_text(tree) == text and pql.parse(pql.to_text(tree)) == tree


@pytest.mark.parametrize(
    "text",
    [
        "x.select = 1 and x.from.where = 2",  # after a dot every name is a field
        "last = 1 and next = 2 and on = 3 and between = 4",  # words of occurs only after occurs
        "count = 1 and sum = 2 and chain = 3 and WHAT = 4",
    ],
)
def test_words_that_are_keywords_only_in_their_construct_stay_field_names(text: str) -> None:
    tree = pql.parse(text)
    assert pql.to_text(tree) == text
    assert pql.evaluate(text, {"x": {"select": 1, "from": {"where": 2}}}) is (text.startswith("x."))


@pytest.mark.parametrize(
    ("text", "construct"),
    [
        ('person.favoriteColors.union(["red"]).count() > 1', "union"),  # not in Adobe's docs
        ("orders.forall(price > 5)", "forall"),  # the quantifier, not a method, in Adobe's docs
        ("currentWeek() = 3", "currentWeek"),
        ("tags in [[1, 2]]", "arrays inside array literals"),
    ],
)
def test_functions_outside_the_documented_set_name_the_construct(text: str, construct: str) -> None:
    with pytest.raises(pql.PQLUnsupportedError, match=construct):
        pql.parse(text)


ANA = {
    "person": {"name": {"firstName": "Ana"}, "birthYear": 1985},
    "homeAddress": {"countryCode": "US", "city": "San Jose"},
    "loyalty": {"tier": "gold", "points": 1200},
    "identityMap": {"Email": [{"id": "ana@example.com"}], "ECID": [{"id": "1"}]},
    "favoriteColors": ["red", "green"],
}
BEN = {
    "person": {"name": {"firstName": "ben"}, "birthYear": 1992},
    "homeAddress": {"countryCode": "FR", "city": "Paris"},
    "loyalty": {"tier": "bronze", "points": 10},
    "identityMap": {"ECID": [{"id": "2"}]},
}
NOBODY: dict = {}
EVENTS = {
    "ana": [
        {
            "eventType": "commerce.purchases",
            "timestamp": NOW - timedelta(days=3),
            "commerce": {"order": {"priceTotal": 250.0}},
        }
    ],
    "ben": [{"eventType": "web.webpagedetails.pageViews", "timestamp": NOW - timedelta(days=40)}],
    "nobody": [],
}
PEOPLE = {"ana": ANA, "ben": BEN, "nobody": NOBODY}

# (expression, who qualifies): worked out by hand from the three profiles above.
CASES = [
    ('homeAddress.countryCode = "US"', {"ana"}),
    ('homeAddress.countryCode != "US"', {"ben"}),  # null is not "not US"
    ("loyalty.points > 100", {"ana"}),
    ("loyalty.points <= 10", {"ben"}),
    ('loyalty.tier in ["gold", "platinum"]', {"ana"}),
    ('loyalty.tier notIn ["gold"]', {"ben"}),  # notIn excludes nulls
    ('not (loyalty.tier in ["gold"])', {"ben", "nobody"}),
    ('person.name.firstName.startsWith("b")', {"ben"}),
    ('person.name.firstName.startsWith("B", false)', {"ben"}),
    ('person.name.firstName.equals("ana")', set()),
    ('person.name.firstName.equals("ana", false)', {"ana"}),
    ('person.name.firstName.doesNotContain("n")', set()),
    ('homeAddress.city like "%os%"', {"ana"}),
    ('homeAddress.city like "P_ris"', {"ben"}),
    ('homeAddress.city.matches("^San")', {"ana"}),
    ('homeAddress.city.regexGroup("^(\\\\w+) ", 1) = "San"', {"ana"}),
    ("person.birthYear >= 1980 and person.birthYear < 1990", {"ana"}),
    ("person.birthYear % 2 = 0", {"ben"}),
    ("loyalty.points + 100 > 1000", {"ana"}),
    ("loyalty.isNull()", {"nobody"}),
    ("loyalty.isNotNull()", {"ana", "ben"}),
    ('identityMap.get("Email").count() > 0', {"ana"}),
    ("identityMap.keys().count() = 1", {"ben"}),
    ('favoriteColors.includes("red")', {"ana"}),
    ('favoriteColors.intersects(["blue", "green"])', {"ana"}),
    (
        'favoriteColors.subsetOf(["red", "green", "blue"])',
        {"ana", "ben", "nobody"},
    ),  # the empty set is a subset
    ('if(loyalty.points > 100, "vip", "std") = "vip"', {"ana"}),
    ('exists X from xEvent where (X.eventType = "commerce.purchases")', {"ana"}),
    ("exists X from xEvent where (X.timestamp occurs <= 7 days before now)", {"ana"}),
    ("exists X from xEvent where (X.timestamp occurs > 30 days before now)", {"ben"}),
    ("exists X from xEvent where (X.commerce.order.priceTotal > 200)", {"ana"}),
    (
        "exists X from xEvent where (X.timestamp occurs between date(2026, 10, 1) and date(2026, 10, 31))",
        {"ben"},
    ),
    ("exists X from xEvent where (X.timestamp occurs before date(2026, 11, 1))", {"ben"}),
    ("exists X from xEvent where (X.timestamp occurs last week)", {"ana"}),
    ('inSegment("gold-seg")', {"ana"}),
    ('xEvent[eventType = "commerce.purchases"]', {"ana"}),
    ("xEvent[commerce.order.priceTotal > 100]", {"ana"}),
    (
        'forall X from xEvent where (X.eventType = "commerce.purchases")',
        {"ana", "nobody"},
    ),  # vacuous for nobody
    ('(select X from xEvent where X.eventType = "web.webpagedetails.pageViews").count() = 1', {"ben"}),
    (
        "(sum X.commerce.order.priceTotal over X from xEvent "
        'where (X.eventType = "commerce.purchases")) > 200',
        {"ana"},
    ),
    (
        'CHAIN(xEvent, timestamp, [A: WHAT(eventType = "commerce.purchases") WHEN(<= 7 days before now)])',
        {"ana"},
    ),
    ('CHAIN(xEvent, timestamp, [A: WHAT(eventType = "web.webpagedetails.pageViews") WHEN(today)])', set()),
    ('not (CHAIN(xEvent, timestamp, [A: WHAT(eventType = "commerce.purchases")]))', {"ben", "nobody"}),
    ('inSegment("gold-seg") or homeAddress.countryCode = "FR"', {"ana", "ben"}),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_evaluation_by_hand(text: str, expected: set[str]) -> None:
    members = {
        who
        for who, profile in PEOPLE.items()
        if pql.evaluate(
            text,
            profile,
            EVENTS[who],
            now=NOW,
            in_segment=lambda seg, w=who: seg == "gold-seg" and w == "ana",
        )
    }
    assert members == expected


names = st.sampled_from(["a", "b", "loyalty", "tier", "points", "countryCode"])
literals = st.one_of(
    st.integers(-1000, 1000),
    st.text(max_size=8),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda f: round(f, 3)),
)


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    field = ".".join(draw(st.lists(names, min_size=1, max_size=3)))
    value = draw(literals)
    text = (
        json.dumps(value)
        if isinstance(value, str)
        else ("true" if value is True else "false" if value is False else repr(value))
    )
    leaf = f"{field} {draw(st.sampled_from(['=', '!=', '<', '>=']))} {text}"
    if depth < 2 and draw(st.booleans()):
        op = draw(st.sampled_from(["and", "or"]))
        return f"({leaf}) {op} ({draw(expressions(depth + 1))})"
    return leaf


@given(expressions())
def test_round_trip_property(text: str) -> None:
    tree = pql.parse(text)
    as_json = pql.to_json(tree)
    assert pql.from_json(as_json) == tree
    assert pql.to_json(pql.parse(pql.to_text(tree))) == as_json


def test_testing_helper_reports_the_difference() -> None:
    from airflow_provider_segmentation.pql.testing import assert_selects, matching_profiles

    assert matching_profiles('loyalty.tier = "gold"', PEOPLE) == {"ana"}
    assert_selects(
        'inSegment("s") or loyalty.tier = "bronze"', PEOPLE, {"ana", "ben"}, segments={"s": ["ana"]}
    )
    with pytest.raises(AssertionError, match=r"unexpected: \['ben'\], missing: \[\]"):
        assert_selects("loyalty.points > 0", PEOPLE, {"ana"})
