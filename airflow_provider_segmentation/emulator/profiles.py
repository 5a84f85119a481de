"""A deterministic synthetic profile store and the ``AudienceEngine`` that evaluates PQL over it.

Profiles carry realistic XDM fields (see the README's field table) and ExperienceEvents spread over the
90 days before the store's ``now``. The same ``count`` and ``seed`` always give the same profiles; event
times are relative to ``now`` (``move_to``: the evaluation's instant on the emulator clock) so that "in
the last 30 days" stays meaningful. Which profiles one emulator day sees (growth, churn, ingestion drops)
is ``history.Population``: joiners continue the seeded sequence, leavers follow a seeded order computed
once, so a day's profiles are derived lazily and stay the same after a restart.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Iterable, Iterator, Mapping, Set
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_segmentation import pql
from airflow_provider_segmentation.emulator.history import Population
from airflow_provider_segmentation.pql.evaluate import Context, membership_lookup

FIRST_NAMES = (
    "Ana",
    "Ben",
    "Chloe",
    "David",
    "Emma",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Keira",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
)
LAST_NAMES = (
    "Smith",
    "Garcia",
    "Müller",
    "Rossi",
    "Dubois",
    "Kowalski",
    "Tanaka",
    "Silva",
    "Novak",
    "Jensen",
)
PLACES = (
    ("United States", "US", "CA", "San Jose"),
    ("United States", "US", "NY", "New York"),
    ("United States", "US", "TX", "Austin"),
    ("Canada", "CA", "ON", "Toronto"),
    ("United Kingdom", "GB", "ENG", "London"),
    ("Germany", "DE", "BE", "Berlin"),
    ("France", "FR", "IDF", "Paris"),
    ("Japan", "JP", "13", "Tokyo"),
)
TIERS = ("bronze", "bronze", "bronze", "silver", "silver", "gold", "platinum")
TIER_RANK = {"bronze": 0, "silver": 1, "gold": 2, "platinum": 3}
BIRTH_START = datetime(1950, 1, 1)
EVENT_TYPES = (
    "web.webpagedetails.pageViews",
    "commerce.productViews",
    "commerce.productListAdds",
    "commerce.purchases",
    "directMarketing.emailOpened",
    "directMarketing.emailClicked",
)
EVENT_WEIGHTS = (40, 25, 10, 6, 12, 7)
PRODUCTS = (
    ("SKU-1001", "Trail running shoes", 129.0),
    ("SKU-1002", "Rain jacket", 189.0),
    ("SKU-1003", "Merino socks", 19.5),
    ("SKU-1004", "Headlamp", 45.0),
    ("SKU-1005", "Water bottle", 24.0),
)
CURRENCIES = ("USD", "USD", "USD", "EUR", "GBP", "CAD", "JPY")


CACHE_VIEWS_UP_TO = 100_000
EVENT_WINDOW_SECONDS = 90 * 86400
BIRTH_RANGE_DAYS = 365 * 55
GENDERS = ("female", "male", "not_specified")


class ProfileStore:
    """``count`` profiles generated from ``seed``, stored as compact columns.

    Each profile is a handful of small integers (indexes into the value tables above) and its events are
    rows of parallel arrays, so a million profiles fit in a few hundred MiB. ``views()`` turns them into
    XDM dicts; below ``CACHE_VIEWS_UP_TO`` profiles the dicts are built once and kept (fast repeated
    evaluation), above it they are rebuilt on each scan (bounded memory).
    """

    def __init__(self, count: int = 10_000, seed: int = 42, now: datetime | None = None) -> None:
        self.count = count
        self.seed = seed
        self.now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
        self._rng = random.Random(seed)
        self._names, self._people, self._places, self._loyalty = (
            array("H"),
            array("i"),
            array("B"),
            array("i"),
        )
        self._ecids, self._crmids, self._flags = array("Q"), array("i"), array("B")
        self._offsets = array("I", [0])
        self._events_columns = (array("B"), array("I"), array("B"), array("B"), array("B"))
        self._addresses = [
            {"country": c, "countryCode": code, "stateProvince": st, "city": city}
            for c, code, st, city in PLACES
        ]
        self._consents = [{"marketing": {"email": {"val": value}}} for value in ("n", "y")]
        self._cached: list[dict[str, Any]] | None = None
        self._leave_rank: array[int] | None = None
        self._grow(count)

    def _grow(self, total: int) -> None:
        """Generate profiles up to ``total`` (joiners continue the seeded sequence: deterministic)."""
        rng = self._rng
        ev_types, ev_ages, ev_products, ev_quantities, ev_currencies = self._events_columns
        start = len(self._names)
        for _ in range(start, total):
            self._names.append(
                rng.randrange(len(FIRST_NAMES)) * len(LAST_NAMES) + rng.randrange(len(LAST_NAMES))
            )
            self._people.append(rng.randrange(BIRTH_RANGE_DAYS) * len(GENDERS) + rng.randrange(len(GENDERS)))
            home = rng.randrange(len(PLACES))
            work = home if rng.random() < 0.7 else rng.randrange(len(PLACES))
            self._places.append(home * len(PLACES) + work)
            tier = rng.randrange(len(TIERS))
            self._loyalty.append(rng.randrange(20_000) * (TIER_RANK[TIERS[tier]] + 1) * len(TIERS) + tier)
            self._ecids.append(rng.getrandbits(63))
            self._crmids.append(rng.randrange(10**8) if rng.random() < 0.6 else -1)
            self._flags.append(1 if rng.random() < 0.75 else 0)
            for _ in range(rng.randrange(0, 12)):
                ev_types.append(rng.choices(range(len(EVENT_TYPES)), EVENT_WEIGHTS)[0])
                ev_ages.append(rng.randrange(EVENT_WINDOW_SECONDS))
                ev_products.append(rng.randrange(len(PRODUCTS)))
                ev_quantities.append(rng.randrange(1, 4))
                ev_currencies.append(rng.randrange(len(CURRENCIES)))
            self._offsets.append(len(ev_types))
        if self._cached is not None:
            if total > CACHE_VIEWS_UP_TO:
                self._cached = None
            else:
                self._cached.extend(self._build(i) for i in range(start, total))

    def __len__(self) -> int:
        return self.count

    def profile_id(self, index: int) -> str:
        return f"{self.seed:04d}-{index:07d}"

    def _index(self, profile_id: str) -> int:
        try:
            seed, index = profile_id.split("-", 1)
            position = int(index)
        except ValueError:
            raise KeyError(profile_id) from None
        if int(seed) != self.seed or not 0 <= position < len(self._names):
            raise KeyError(profile_id)
        return position

    def _build(self, index: int) -> dict[str, Any]:
        """The XDM profile of ``index`` with its ExperienceEvents under ``xEvent``."""
        profile_id = self.profile_id(index)
        first, last = divmod(self._names[index], len(LAST_NAMES))
        first_name, last_name = FIRST_NAMES[first], LAST_NAMES[last]
        days, gender = divmod(self._people[index], len(GENDERS))
        birth = BIRTH_START + timedelta(days=days)
        home, work = divmod(self._places[index], len(PLACES))
        points, tier = divmod(self._loyalty[index], len(TIERS))
        email = f"{first_name}.{last_name}.{profile_id[-5:]}@example.com".lower()
        identity_map: dict[str, list[dict[str, Any]]] = {
            "ECID": [{"id": f"{self._ecids[index]:020d}", "primary": False}],
            "Email": [{"id": email, "primary": True}],
        }
        if self._crmids[index] >= 0:
            identity_map["CRMID"] = [{"id": f"CRM{self._crmids[index]:08d}", "primary": False}]
        return {
            "_id": profile_id,
            "person": {
                "name": {"firstName": first_name, "lastName": last_name},
                "birthDate": birth.date().isoformat(),
                "birthYear": birth.year,
                "gender": GENDERS[gender],
            },
            "homeAddress": self._addresses[home],
            "workAddress": self._addresses[work],
            "personalEmail": {"address": email},
            "loyalty": {"tier": TIERS[tier], "points": points},
            "identityMap": identity_map,
            "consents": self._consents[self._flags[index]],
            "xEvent": self._events(index),
        }

    def _events(self, index: int) -> list[dict[str, Any]]:
        types, ages, products, quantities, currencies = self._events_columns
        events = []
        for row in range(self._offsets[index], self._offsets[index + 1]):
            event_type = EVENT_TYPES[types[row]]
            event: dict[str, Any] = {
                "eventType": event_type,
                "timestamp": self.now - timedelta(seconds=ages[row]),
            }
            if event_type.startswith("commerce."):
                sku, name, price = PRODUCTS[products[row]]
                total = price * quantities[row]
                event["productListItems"] = [
                    {"SKU": sku, "name": name, "priceTotal": total, "quantity": quantities[row]}
                ]
                if event_type == "commerce.purchases":
                    event["commerce"] = {
                        "order": {"priceTotal": total, "currencyCode": CURRENCIES[currencies[row]]}
                    }
            events.append(event)
        events.sort(key=lambda e: e["timestamp"])
        return events

    def prepare(self) -> None:
        """Build the cached views now (small stores), so that no evaluation pays for it."""
        if self._cached is None and len(self._names) <= CACHE_VIEWS_UP_TO:
            self._cached = [self._build(i) for i in range(len(self._names))]

    def move_to(self, now: datetime) -> None:
        """Make events relative to ``now`` (they move with the emulator's clock): shifts cached views."""
        delta = now - self.now
        if not delta:
            return
        for view in self._cached or ():
            for event in view["xEvent"]:
                event["timestamp"] += delta
        self.now = now

    def present(self, population: Population) -> list[int]:
        """Indexes of the profiles ``population`` sees, in store order (see ``history``)."""
        joined, left = population.joined(self.count), population.left(self.count)
        if joined > len(self._names):
            self._grow(joined)
        indexes: Iterable[int] = range(joined)
        if left:
            rank = self._leave_ranks()
            indexes = (i for i in indexes if i >= self.count or rank[i] >= left)
        present = list(indexes)
        kept = population.kept(len(present))
        if kept == len(present):
            return present
        # evenly spread: position k is kept when floor(k * kept / n) steps up (exactly ``kept`` positions)
        n = len(present)
        return [index for k, index in enumerate(present) if (k + 1) * kept // n > k * kept // n]

    def _leave_ranks(self) -> array[int]:
        """Each starting profile's place in the seeded order in which churn takes them (computed once)."""
        if self._leave_rank is None:
            order = list(range(self.count))
            random.Random(f"churn-{self.seed}").shuffle(order)
            rank = array("I", bytes(4 * self.count))
            for position, index in enumerate(order):
                rank[index] = position
            self._leave_rank = rank
        return self._leave_rank

    def views(self, population: Population | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """(id, profile with its events under ``xEvent``) for every profile ``population`` sees (the
        starting profiles when None), in store order."""
        indexes = range(self.count) if population is None else self.present(population)
        self.prepare()
        cached = self._cached
        if cached is not None:
            return ((self.profile_id(i), cached[i]) for i in indexes)
        return ((self.profile_id(i), self._build(i)) for i in indexes)

    def profile(self, profile_id: str) -> dict[str, Any]:
        """The XDM profile (without events), as exports and previews show it."""
        index = self._index(profile_id)
        view = self._cached[index] if self._cached is not None else self._build(index)
        return {key: value for key, value in view.items() if key != "xEvent"}

    def events(self, profile_id: str) -> list[dict[str, Any]]:
        return self._events(self._index(profile_id))


class PQLEngine:
    """The emulator's ``AudienceEngine``: PQL from ``airflow_provider_segmentation.pql`` over a store."""

    def __init__(self, store: ProfileStore) -> None:
        self.store = store
        store.prepare()

    def total_profiles(self, population: Population | None = None) -> int:
        return self.store.count if population is None else population.size(self.store.count)

    def check(self, pql_text: str) -> None:
        pql.compile(pql_text)

    def convert(self, value: str, source_format: str) -> str:
        if source_format == "pql/json":
            return pql.to_text(pql.from_json(value))
        return pql.to_json(pql.parse(value))

    def select(
        self,
        pql_text: str,
        *,
        memberships: Mapping[str, Set[str]],
        now: datetime | None = None,
        population: Population | None = None,
    ) -> list[str]:
        predicate = pql.compile(pql_text)
        if now is not None:
            self.store.move_to(now)
        context = Context({}, now or datetime.now(timezone.utc), lambda segment_id: False)
        selected = []
        for profile_id, view in self.store.views(population):
            context.profile = view
            context.in_segment = membership_lookup(memberships, profile_id)
            context.variables = {}
            if predicate(context):
                selected.append(profile_id)
        return selected

    def profile(self, profile_id: str) -> Mapping[str, Any]:
        return self.store.profile(profile_id)
