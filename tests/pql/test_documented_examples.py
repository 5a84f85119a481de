"""Every example expression in Adobe's public PQL documentation: it parses, round-trips through pql/json
and pql/text, and evaluates to what the documentation says it means, on one hand-built profile.

The examples are copied verbatim (line breaks and doubled spaces included) from the Markdown sources of
Experience League, the ``AdobeDocs/experience-platform.en`` repository:

* ``help/segmentation/pql/*.md``, the PQL reference: overview, boolean, comparison, array/list/set,
  map, string, object, arithmetic, aggregation, date and time, filter functions, logical quantifiers,
  miscellaneous functions (``sample-queries.md`` has none);
* the PQL the segmentation guides quote: ``help/segmentation/methods/streaming-segmentation.md`` and
  ``edge-segmentation.md``, the older ``help/segmentation/ui/edge-segmentation.md`` (frequency queries
  with ``COUNT(5)``, ``WHERE(...)``) and ``help/segmentation/api/pql-conversions.md``;
* ``help/profile/computed-attributes/expressions.md`` (hidden from the table of contents, alpha): PQL
  for computed attributes, with ``groupBy(...).map((K, G) => mapEntry(K, ...))`` and an object literal.

Where two revisions of a page differ, both are here (``regexGroup("@(\\w+)", 1)`` and the older
``regexGroup("@(\\\\w+)", 1)``). The one example that is not PQL is a typo in the streaming guide
(``inSegment("7deb246a-...)`` lacks its closing quote): it is a syntax error here, as it would be for
Adobe.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_segmentation import pql

PQL_PAGES = "help/segmentation/pql/"
OVERVIEW = PQL_PAGES + "overview.md"
BOOLEAN = PQL_PAGES + "boolean-functions.md"
COMPARISON = PQL_PAGES + "comparison-functions.md"
ARRAY = PQL_PAGES + "array-functions.md"
MAP = PQL_PAGES + "map-functions.md"
STRING = PQL_PAGES + "string-functions.md"
OBJECT = PQL_PAGES + "object-functions.md"
ARITHMETIC = PQL_PAGES + "arithmetic-functions.md"
AGGREGATION = PQL_PAGES + "aggregation-functions.md"
DATETIME = PQL_PAGES + "datetime-functions.md"
FILTER = PQL_PAGES + "filter-functions.md"
QUANTIFIERS = PQL_PAGES + "logical-quantifiers.md"
MISC = PQL_PAGES + "misc-functions.md"
STREAMING = "help/segmentation/methods/streaming-segmentation.md"
EDGE = "help/segmentation/methods/edge-segmentation.md"
EDGE_UI = "help/segmentation/ui/edge-segmentation.md (older revision)"
CONVERSIONS = "help/segmentation/api/pql-conversions.md"
COMPUTED = "help/profile/computed-attributes/expressions.md"

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=timezone.utc)  # a Tuesday; "today" starts at 00:00 UTC
TODAY = datetime(2026, 3, 31, tzinfo=timezone.utc)
UTC = timezone.utc


def hours_ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


ORDERS = [
    {"storeId": "SF", "price": 120.0, "order": {"price": 120.0}},
    {"storeId": "NY", "price": 35.5, "order": {"price": 35.5}},
    {"storeId": "SF", "price": 80.0, "order": {"price": 80.0}},
    {"storeId": "LA", "price": 10.0, "order": {"price": 10.0}},
    {"storeId": "NY", "price": 220.0, "order": {"price": 220.0}},
    {"storeId": "SF", "price": 64.0, "order": {"price": 64.0}},
]
# orders.sum(order.price): the per-item argument's bare names are the item's fields, so the docs'
# `order.price` is a field `order.price` of each order; these orders carry it (as XDM's commerce.order).
SF, NY, SF2, LA, NY2, SF3 = ORDERS

HOME_PAGE = {
    "_experience": {"analytics": {"endUser": {"firstWeb": {"webPageDetails": {"isHomePage": True}}}}}
}
HOME_VIEWS = [
    {"eventType": "homePageView", "timestamp": hours_ago(h), **HOME_PAGE} for h in (20, 16, 12, 8, 4)
]
OLD_PURCHASE = {
    "eventType": "commerce.purchases",
    "timestamp": NOW - timedelta(days=40),
    "commerce": {"item": {"price": 60}, "order": {"priceTotal": 500.0, "currencyCode": "USD"}},
    "productListItems": [{"SKU": "PS"}],
}
PURCHASE = {
    "eventType": "commerce.purchases",
    "timestamp": hours_ago(1),
    "commerce": {"item": {"price": 80}, "order": {"priceTotal": 250.0, "currencyCode": "USD"}},
    "productListItems": [{"SKU": "PS"}, {"SKU": "XB"}],
}
CHECKOUT = {"eventType": "commerce.checkouts", "timestamp": hours_ago(2), "productListItems": [{"SKU": "XB"}]}
EMAIL_CLICK = {"eventType": "directMarketing.emailClicked", "timestamp": hours_ago(11)}
CART_ADD = {
    "eventType": "addToCart",
    "timestamp": hours_ago(3),
    "externalSegmentMapProperty": {
        "spring": {"stringProperty": "active"},
        "fall": {"stringProperty": "gone"},
    },
}
TRANSACTIONS = [
    {
        "eventType": "transaction",
        "timestamp": NOW - timedelta(days=days),
        "category": "sporting goods",
        "commerce": {"order": {"priceTotal": total}},
    }
    for days, total in ((2, 120.0), (5, 30.0), (9, 400.0))  # the last one is older than 7 days
]
DOWNLOADS = [
    {
        "eventType": "download",
        "timestamp": NOW - timedelta(days=days),
        "product": product,
        "contentType": kind,
        "commerce": {"order": {"priceTotal": total}},
    }
    for days, product, kind, total in (
        (1, "camera", "image", 15.0),
        (3, "lens", "video", 200.0),
        (6, "camera", "image", 25.0),
        (10, "camera", "image", 7.0),  # older than 7 days
    )
]
EVENTS = [OLD_PURCHASE, PURCHASE, CHECKOUT, EMAIL_CLICK, CART_ADD, *HOME_VIEWS, *TRANSACTIONS, *DOWNLOADS]

PERSON = {
    "name": "Joe Smith",
    "emailAddress": "joe2010@gmail.com",
    "age": 40,
    "gender": "female",
    "birthYear": 1985,
    "birthMonth": 3,
    "birthDay": 31,
    "birthdate": "1992-06-15",  # XDM dates are ISO 8601 strings
    "birthday": TODAY - timedelta(days=3),
    "favoriteColors": ["red", "green"],
    "favoriteCities": ["Paris", "Rome"],
    "visitedCities": ["Paris", "Tokyo", "Rome"],
    "eatenFoods": ["sushi", "tacos"],
    "orders": ORDERS,
}
# Addresses disagree on purpose (countryISO "CA", countryCode "US") so that both outcomes show up.
PROFILE: dict[str, Any] = {
    "homeAddress": {"countryISO": "CA", "countryCode": "US", "country": "Canada", "stateProvince": "QC"},
    "workAddress": {"country": "US", "stateProvince": "QC"},
    "person": PERSON,
    "person1": {"favoriteColors": ["red", "blue", "yellow", "green"]},
    "person2": {"favoriteColors": ["green", "red", "blue", "purple"]},
    "orders": ORDERS,
    "numbers": [1, 2, 3],
    "identityMap": {"ECID": [{"id": "0123"}], "example@example.com": [{"id": "example@example.com"}]},
    "city": "Los Angeles",
    "emailAddress": "ana@example.com",
    "product1": {"price": 10.5},
    "product2": {"price": 4.5},
    "product": {
        "inventory": 12,
        "price": 2.5,
        "saleYear": 2026,
        "sale": "2026-03-10T09:30:00Z",
        "saleDate": hours_ago(3),
    },
    "totalProduct": {"price": 900.0, "sold": 36},
    "timestamp": "2019-12-31T18:00:00Z",
    "X": {"timestamp": NOW - timedelta(days=2)},
    "ca1": 150.0,  # computed attributes that other computed attributes use
    "ca2": 2,
}
SEGMENTS = {
    "e3be6d7f-1727-401f-a41e-c296b45f607a",
    "9e1646bb-57ff-4309-ba59-17d6c5bab6a1",
    "a730ed3f-119c-415b-a4ac-27c396ae2dff",
    "existing segment",
}
SYNTAX_ERROR = object()  # the example is not PQL (a typo in the documentation)

# (source page, the example verbatim, its value on PROFILE with EVENTS at NOW in SEGMENTS)
DOCUMENTED_EXAMPLES: list[tuple[str, str, Any]] = [
    (OVERVIEW, "homeAddress.stateProvince = workAddress.stateProvince", True),
    (OVERVIEW, "$1.homeAddress.stateProvince = $1.homeAddress.stateProvince", True),
    (OVERVIEW, "(Profile) => Profile.homeAddress.stateProvince = Profile.workAddress.stateProvince", True),
    (OVERVIEW, '"pizza"', "pizza"),
    (OVERVIEW, '"jobs"', "jobs"),
    (OVERVIEW, '"antidisestablishmentarianism"', "antidisestablishmentarianism"),
    (OVERVIEW, "true", True),
    (OVERVIEW, "false", False),
    (OVERVIEW, "-201", -201),
    (OVERVIEW, "0", 0),
    (OVERVIEW, "412", 412),
    (OVERVIEW, "-51.24", -51.24),
    (OVERVIEW, "3.14", 3.14),
    (OVERVIEW, "0.6942058", 0.6942058),
    (OVERVIEW, "date(2020, 3, 14)", datetime(2020, 3, 14, tzinfo=UTC)),
    (OVERVIEW, "[1, 4, 7]", [1, 4, 7]),
    (OVERVIEW, '["US", "CA"]', ["US", "CA"]),
    (OVERVIEW, "X.timestamp occurs before today", True),
    (OVERVIEW, "X.timestamp occurs last month", False),
    (OVERVIEW, "X.timestamp occurs <= 3 days before now", True),
    (BOOLEAN, 'homeAddress.countryISO = "CA" and person.birthYear = 1985', True),
    (BOOLEAN, 'homeAddress.countryISO = "CA" or person.birthYear = 1985', True),
    (BOOLEAN, 'not (homeAddress.countryISO = "CA")', False),
    (BOOLEAN, 'if (homeAddress.countryISO = "CA", 1, 2)', 1),
    (COMPARISON, 'homeAddress.countryISO = "CA"', True),
    (COMPARISON, 'homeAddress.countryISO != "CA"', False),
    (COMPARISON, "person.birthMonth > 2", True),
    (COMPARISON, "person.birthMonth >= 3", True),
    (COMPARISON, "person.birthMonth < 2", False),
    (COMPARISON, "person.birthMonth <= 2", False),
    (ARRAY, "person.birthMonth in [3, 6, 9]", True),
    (ARRAY, "person.birthMonth notIn [3, 6, 9]", False),
    (ARRAY, 'person.favoriteColors.intersects(["red", "blue", "green"])', True),
    (ARRAY, 'person1.favoriteColors.intersection(person2.favoriteColors) = ["red", "blue", "green"]', True),
    (ARRAY, "person.favoriteCities.subsetOf(person.visitedCities)", True),
    (ARRAY, 'person.eatenFoods.supersetOf(["sushi", "pizza"])', False),
    (ARRAY, 'person.favoriteColors.includes("red")', True),
    (ARRAY, "person.orders.storeId.distinct().count() > 1", True),
    (ARRAY, "orders.groupBy(storeId)", {"SF": [SF, SF2, SF3], "NY": [NY, NY2], "LA": [LA]}),
    (ARRAY, "person.filter(age >= 21)", [PERSON]),
    # "squares the value of the original numbers": PQL has no user functions, so `square` is, as in every
    # per-item argument, a field of each item; numbers have none.
    (ARRAY, "numbers.map(square)", [None, None, None]),
    (ARRAY, "orders.topN(price, 5)", [NY2, SF, SF2, SF3, NY]),
    (ARRAY, "orders.bottomN(price, 5)", [LA, NY, SF3, SF2, SF]),
    (ARRAY, "orders.topN(price, 5).head()", NY2),
    (MAP, 'identityMap.get("example@example.com")', [{"id": "example@example.com"}]),
    (MAP, "identityMap.keys()", ["ECID", "example@example.com"]),
    (MAP, "identityMap.values()", [[{"id": "0123"}], [{"id": "example@example.com"}]]),
    (STRING, 'city like "%es%"', True),
    (STRING, 'person.name.startsWith("Joe")', True),
    (STRING, 'person.name.doesNotStartWith("Joe")', False),
    (STRING, 'person.emailAddress.endsWith(".com")', True),
    (STRING, 'person.emailAddress.doesNotEndWith(".com")', False),
    (STRING, 'person.emailAddress.contains("2010@gm")', True),
    (STRING, 'person.emailAddress.doesNotContain("2010@gm")', False),
    (STRING, 'person.name.equals("John")', False),
    (STRING, 'person.name.notEqualTo("John")', True),
    (STRING, 'person.name.matches("(?i)^John")', False),
    (STRING, r'emailAddress.regexGroup("@(\\w+)", 1)', "example"),
    (STRING + " (older revision)", r'emailAddress.regexGroup("@(\w+)", 1)', "example"),
    (OBJECT, "person.homeAddress.isNull()", True),
    (OBJECT, "person.homeAddress.isNotNull()", False),
    (ARITHMETIC, "product1.price + product2.price", 15.0),
    (ARITHMETIC, "product.inventory * product.price", 30.0),
    (ARITHMETIC, "product1.price - product2.price", 6.0),
    (ARITHMETIC, "totalProduct.price / totalProduct.sold", 25.0),
    (ARITHMETIC, "person.age % 5 = 0", True),
    (AGGREGATION, "orders.count()", 6),
    (AGGREGATION, "orders.sum(order.price)", 529.5),
    (AGGREGATION, "orders.average(order.price)", 88.25),
    (AGGREGATION, "orders.min(order.price)", 10.0),
    (AGGREGATION, "orders.max(order.price)", 220.0),
    (DATETIME, "person.birthMonth = currentMonth()", True),
    (DATETIME, "person.birthdate.getMonth() = 6", True),
    (DATETIME, "product.saleYear = currentYear()", True),
    (DATETIME, "person.birthday.getYear() in [1991, 1992, 1993, 1994, 1995]", False),
    (DATETIME, "person.birthDay = currentDayOfMonth()", True),
    (DATETIME, "product.sale.getDayOfMonth() <= 15", True),
    (DATETIME, "timestamp occurs on date(2019,12,31)", True),
    (DATETIME, "product.saleDate occurs last week", False),
    (DATETIME, "product.saleDate occurs between date(2015, 1, 8) and date(2017, 7, 1)", False),
    (DATETIME, "product.saleDate occurs = 3 hours before now", True),
    (DATETIME, "person.birthday occurs = 3 days before today", True),
    (FILTER, 'xEvent[productListItems[SKU="PS"]]', [OLD_PURCHASE, PURCHASE]),
    (
        FILTER,
        'xEvent[productListItems[SKU="PS" or ^^.person.gender="female"]]',
        [OLD_PURCHASE, PURCHASE, CHECKOUT],
    ),
    (
        QUANTIFIERS,
        "exists E from xEvent where (E.commerce.item.price > 50), "
        'I from E.productListItems where I.SKU = "PS"',
        True,
    ),
    (
        QUANTIFIERS,
        "forall E from xEvent where (E.commerce.item.price > 50), "
        'I from E.productListItems where I.SKU = "PS"',
        False,
    ),
    (
        MISC,
        "let S = (sum X.commerce.order.priceTotal over X from xEvent where X.commerce.order.currencyCode = "
        '"USD") in (S > 100 and S < 1000)',
        True,
    ),
    (
        STREAMING,
        'inSegment("e3be6d7f-1727-401f-a41e-c296b45f607a") and \n'
        'CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("commerce.checkouts", false)) \n'
        "WHEN(<= 24 hours before now)])",
        True,
    ),
    (
        STREAMING,
        'inSegment("e3be6d7f-1727-401f-a41e-c296b45f607a") and '
        'inSegment("9e1646bb-57ff-4309-ba59-17d6c5bab6a1")',
        True,
    ),
    (
        STREAMING,
        'CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("commerce.checkouts", false)) WHEN(today)])',
        True,
    ),
    (STREAMING, 'homeAddress.country.equals("Canada", false)', True),
    (
        STREAMING,
        'workAddress.country.equals("Canada", false) and CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals('
        '"commerce.checkouts", false)) WHEN(today)])',
        False,
    ),
    (
        STREAMING,
        'workAddress.country.equals("US", false) and CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals('
        '"directMarketing.emailClicked", false)) WHEN(today), C1: WHAT(eventType.equals('
        '"commerce.checkouts", false)) WHEN(today)])',
        True,
    ),
    (
        STREAMING,
        'inSegment("e3be6d7f-1727-401f-a41e-c296b45f607a") and  CHAIN(xEvent, timestamp, [C0: WHAT('
        'eventType.equals("commerce.checkouts", false))  WHEN(<= 24 hours before now)])',
        True,
    ),
    (
        STREAMING,
        'inSegment("7deb246a-49b4-4687-95f9-6316df049948) and '
        'inSegment("9e1646bb-57ff-4309-ba59-17d6c5bab6a1")',
        SYNTAX_ERROR,
    ),
    (STREAMING, 'homeAddress.country = "US"', False),
    (
        EDGE,
        'CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("commerce.checkouts", false)) WHEN(today)])',
        True,
    ),
    (EDGE, 'homeAddress.country.equals("US", false)', False),
    (
        EDGE,
        'workAddress.country.equals("US", false) and CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals('
        '"commerce.checkouts", false)) WHEN(today)])',
        True,
    ),
    (
        EDGE,
        'inSegment("a730ed3f-119c-415b-a4ac-27c396ae2dff") and '
        'inSegment("8fbbe169-2da6-4c9d-a332-b6a6ecf559b9")',
        False,
    ),
    (
        EDGE,
        "select var1 from xEvent where var1._experience.analytics.endUser.firstWeb.webPageDetails.isHomePage "
        "= false",
        [],
    ),
    (
        EDGE,
        "select var1 from xEvent where var1._experience.analytics.endUser.firstWeb.webPageDetails.isHomePage "
        "= true",
        HOME_VIEWS,
    ),
    (EDGE_UI, 'chain(xEvent, timestamp, [A: WHAT(eventType = "addToCart")])', True),
    (EDGE_UI, 'homeAddress.countryCode = "US"', True),
    (
        EDGE_UI,
        'homeAddress.countryCode = "US" and chain(xEvent, timestamp, [A: WHAT(eventType = "homePageView")])',
        True,
    ),
    (EDGE_UI, 'not(chain(xEvent, timestamp, [A: WHAT(eventType = "homePageView")]))', False),
    (
        EDGE_UI,
        'chain(xEvent, timestamp, [X: WHAT(eventType = "homePageView") WHEN(< 8 days before now)])',
        True,
    ),
    (
        EDGE_UI,
        'homeAddress.countryCode = "US" and chain(xEvent, timestamp, [X: WHAT(eventType = "homePageView") '
        "WHEN(< 8 days before now)])",
        True,
    ),
    (
        EDGE_UI,
        'homeAddress.countryCode = "US" and not(chain(xEvent, timestamp, [X: WHAT(eventType = '
        '"homePageView") WHEN(< 8 days before now)]))',
        False,
    ),
    (
        EDGE_UI,
        'chain(xEvent, timestamp, [A: WHAT(eventType = "homePageView") WHEN(< 24 hours before now) '
        "COUNT(5) ] )",
        True,
    ),
    (
        EDGE_UI,
        'homeAddress.countryCode = "US" and chain(xEvent, timestamp, [A: WHAT(eventType = "homePageView") '
        "WHEN(< 24 hours before now) COUNT(5) ] )",
        True,
    ),
    (
        EDGE_UI,
        'not(chain(xEvent, timestamp, [A: WHAT(eventType = "homePageView") WHEN(< 24 hours before now) '
        "COUNT(5) ] ))",
        False,
    ),
    (
        EDGE_UI,
        'chain(xEvent, timestamp, [X: WHAT(eventType = "homePageView") WHEN(< 24 hours before now)]) and '
        'chain(xEvent, timestamp, [X: WHAT(eventType = "checkoutPageView") WHEN(< 24 hours before now)])',
        False,
    ),
    (
        EDGE_UI,
        'homeAddress.countryCode = "US" and chain(xEvent, timestamp, [X: WHAT(eventType = "homePageView") '
        'WHEN(< 24 hours before now)]) and chain(xEvent, timestamp, [X: WHAT(eventType = "checkoutPageView") '
        "WHEN(< 24 hours before now)])",
        False,
    ),
    (EDGE_UI, 'homeAddress.countryCode = "US" and inSegment("existing segment")', True),
    (
        EDGE_UI,
        'chain(xEvent, timestamp, [A: WHAT(eventType = "addToCart") WHERE(externalSegmentMapProperty.values()'
        '.exists(stringProperty="active"))])',
        True,
    ),
    (CONVERSIONS, 'workAddress.country = "US"', True),
    (
        COMPUTED,
        'xEvent[(timestamp occurs < 7 days before now) and eventType="download" and contentType = "image"]'
        ".count()",
        2,
    ),
    (
        COMPUTED,
        'xEvent[(timestamp occurs < 7 days before now) and eventType="transaction" and category = '
        '"sporting goods"].sum(commerce.order.priceTotal)',
        150.0,
    ),
    (
        COMPUTED,
        'xEvent[(timestamp occurs < 7 days before now) and eventType="transaction" and category = '
        '"sporting goods"].count()',
        2,
    ),
    (COMPUTED, "ca1 / ca2", 75.0),
    (COMPUTED, "ca1 > 100", True),
    (
        COMPUTED,
        'chain(xEvent, timestamp, [A: WHAT(eventType = "transaction") WHEN(< 7 days before now)])',
        True,
    ),
    (
        COMPUTED,
        'xEvent[(timestamp occurs < 7 days before now) and eventType="transaction" and category = '
        '"sporting goods"].min(commerce.order.priceTotal)',
        30.0,
    ),
    (
        COMPUTED,
        'xEvent[(timestamp occurs < 7 days before now) and eventType="transaction" and category = '
        '"sporting goods"].max(commerce.order.priceTotal)',
        120.0,
    ),
    (
        COMPUTED,
        'xEvent[(timestamp occurs < 7 days before now) and eventType="download"].groupBy(product).map('
        "(K, G) => mapEntry(K, G.count()))",
        {"camera": 2, "lens": 1},
    ),
    (
        COMPUTED,
        'xEvent[(timestamp occurs < 7 days before now) and eventType="download"].groupBy(product).map('
        "(K, G) => mapEntry(K, G.sum(commerce.order.priceTotal)))",
        {"camera": 40.0, "lens": 200.0},
    ),
    (COMPUTED, "ca2 / ca1", 2 / 150.0),
    (
        COMPUTED,
        'xEvent[(timestamp occurs < 7 days before now) and eventType="download"].groupBy(product).map('
        "(K, G) => mapEntry(K, G.min(commerce.order.priceTotal)))",
        {"camera": 15.0, "lens": 200.0},
    ),
    (
        COMPUTED,
        'xEvent[(timestamp occurs < 7 days before now) and eventType="download"].groupBy(product).map('
        "(K, G) => mapEntry(K, G.max(commerce.order.priceTotal)))",
        {"camera": 25.0, "lens": 200.0},
    ),
    (COMPUTED, 'if(person.gender = "female", 60, 65)', 60),
    (COMPUTED, "person.birthYear >= 2000", False),
    (COMPUTED, 'if(homeAddress.countryCode in ["US","MX","CA"], "NA", "ROW")', "NA"),
    (
        COMPUTED,
        'xEvent[(timestamp occurs < 7 days before now) and eventType="download"].groupBy(product).map('
        "(K, G) => mapEntry(K, G.sum(commerce.order.priceTotal) > 100))",
        {"camera": False, "lens": True},
    ),
    (
        COMPUTED,
        'xEvent[(timestamp occurs < 7 days before now) and eventType="download"].groupBy(product).map('
        "(K, G) => mapEntry(K, G.average(commerce.order.priceTotal) > 100))",
        {"camera": False, "lens": True},
    ),
    (
        COMPUTED,
        'xEvent[(timestamp occurs < 7 days before now) and eventType="download"].groupBy(product).map('
        '(K, G) => mapEntry(K, {"count": G.count(), "sum": G.sum(commerce.order.priceTotal)}))',
        {"camera": {"count": 2, "sum": 40.0}, "lens": {"count": 1, "sum": 200.0}},
    ),
]
PQL_EXAMPLES = [example for example in DOCUMENTED_EXAMPLES if example[2] is not SYNTAX_ERROR]
IDS = [f"{page.rsplit('/', 1)[-1].split()[0]}:{text[:60]}" for page, text, _ in PQL_EXAMPLES]


def value_of(text: str) -> Any:
    """The expression's value (not only whether the profile qualifies) for PROFILE at NOW."""
    view = {**PROFILE, "xEvent": EVENTS}
    return pql.compile(text)(pql.Context(view, NOW, lambda segment: segment in SEGMENTS))


@pytest.mark.parametrize(("page", "text", "expected"), PQL_EXAMPLES, ids=IDS)
def test_documented_example_parses_round_trips_and_evaluates(page: str, text: str, expected: Any) -> None:
    tree = pql.parse(text)
    as_json = pql.to_json(tree)
    assert pql.from_json(as_json) == tree
    assert pql.parse(pql.to_text(tree)) == tree
    assert pql.to_json(pql.from_json(as_json)) == as_json
    assert value_of(text) == expected


def test_the_documented_typo_is_a_syntax_error_and_its_fix_works() -> None:
    (typo,) = [text for _, text, expected in DOCUMENTED_EXAMPLES if expected is SYNTAX_ERROR]
    with pytest.raises(pql.PQLSyntaxError):
        pql.parse(typo)
    fixed = typo.replace("049948) and", '049948") and')
    assert value_of(fixed) is False  # not a member of 7deb246a-...


def test_the_table_covers_every_documented_page_and_construct() -> None:
    pages = {page.split(" (")[0] for page, _, _ in DOCUMENTED_EXAMPLES}
    assert len(pages) == 18
    assert len(DOCUMENTED_EXAMPLES) == len({(page, text) for page, text, _ in DOCUMENTED_EXAMPLES})
    names = " ".join(text for _, text, _ in DOCUMENTED_EXAMPLES)
    for construct in (
        "let ",
        ".topN(",
        ".bottomN(",
        ".head()",
        ".groupBy(",
        ".filter(",
        ".map(",
        ".intersection(",
        "currentMonth()",
        "currentYear()",
        "currentDayOfMonth()",
        ".getMonth()",
        ".getYear()",
        ".getDayOfMonth()",
        "COUNT(5)",
        "WHERE(",
        "^^.",
        r"\w",
        "mapEntry(",
    ):
        assert construct in names, construct
