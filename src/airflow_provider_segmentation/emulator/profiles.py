"""A deterministic synthetic profile store and the ``AudienceEngine`` that evaluates PQL over it.

Profiles carry realistic XDM fields (see the README's field table) and ExperienceEvents spread over the
90 days before the store's ``now``. The same ``count`` and ``seed`` always give the same profiles; event
times are relative to ``now`` so that "in the last 30 days" stays meaningful.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Set
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_segmentation import pql
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


def _address(rng: random.Random) -> dict[str, str]:
    country, code, state, city = rng.choice(PLACES)
    return {"country": country, "countryCode": code, "stateProvince": state, "city": city}


class ProfileStore:
    """``count`` profiles generated from ``seed``, with their events, held in memory."""

    def __init__(self, count: int = 10_000, seed: int = 42, now: datetime | None = None) -> None:
        self.count = count
        self.seed = seed
        self.now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
        rng = random.Random(seed)
        self.ids = [f"{seed:04d}-{index:07d}" for index in range(count)]
        self._profiles = [self._profile(rng, profile_id) for profile_id in self.ids]
        self._events = [self._events_for(rng) for _ in self.ids]
        self._index = {profile_id: i for i, profile_id in enumerate(self.ids)}

    def _profile(self, rng: random.Random, profile_id: str) -> dict[str, Any]:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}.{profile_id[-5:]}@example.com".lower()
        birth = datetime(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
        tier = rng.choice(TIERS)
        identity_map: dict[str, list[dict[str, Any]]] = {
            "ECID": [{"id": f"{rng.getrandbits(64):020d}", "primary": False}],
            "Email": [{"id": email, "primary": True}],
        }
        if rng.random() < 0.6:
            identity_map["CRMID"] = [{"id": f"CRM{rng.randrange(10**8):08d}", "primary": False}]
        home = _address(rng)
        return {
            "_id": profile_id,
            "person": {
                "name": {"firstName": first, "lastName": last},
                "birthDate": birth.date().isoformat(),
                "birthYear": birth.year,
                "gender": rng.choice(("female", "male", "not_specified")),
            },
            "homeAddress": home,
            "workAddress": home if rng.random() < 0.7 else _address(rng),
            "personalEmail": {"address": email},
            "loyalty": {"tier": tier, "points": rng.randrange(0, 20_000) * (TIERS.index(tier) + 1)},
            "identityMap": identity_map,
            "consents": {"marketing": {"email": {"val": "y" if rng.random() < 0.75 else "n"}}},
        }

    def _events_for(self, rng: random.Random) -> list[dict[str, Any]]:
        events = []
        for _ in range(rng.randrange(0, 12)):
            event_type = rng.choices(EVENT_TYPES, EVENT_WEIGHTS)[0]
            event: dict[str, Any] = {
                "eventType": event_type,
                "timestamp": self.now - timedelta(seconds=rng.randrange(0, 90 * 86400)),
            }
            if event_type.startswith("commerce."):
                sku, name, price = rng.choice(PRODUCTS)
                quantity = rng.randrange(1, 4)
                event["productListItems"] = [
                    {"SKU": sku, "name": name, "priceTotal": price * quantity, "quantity": quantity}
                ]
                if event_type == "commerce.purchases":
                    event["commerce"] = {
                        "order": {"priceTotal": price * quantity, "currencyCode": rng.choice(CURRENCIES)}
                    }
            events.append(event)
        events.sort(key=lambda e: e["timestamp"])
        return events

    def __len__(self) -> int:
        return self.count

    def profile(self, profile_id: str) -> dict[str, Any]:
        return self._profiles[self._index[profile_id]]

    def events(self, profile_id: str) -> list[dict[str, Any]]:
        return self._events[self._index[profile_id]]

    def views(self) -> list[tuple[str, dict[str, Any]]]:
        """(id, profile with its events under ``xEvent``) for every profile, for evaluation."""
        return [
            (pid, {**p, "xEvent": e})
            for pid, p, e in zip(self.ids, self._profiles, self._events, strict=True)
        ]


class PQLEngine:
    """The emulator's ``AudienceEngine``: PQL from ``airflow_provider_segmentation.pql`` over a store."""

    def __init__(self, store: ProfileStore) -> None:
        self.store = store
        self._views = store.views()

    @property
    def total_profiles(self) -> int:
        return len(self.store)

    def check(self, pql_text: str) -> None:
        pql.compile(pql_text)

    def convert(self, value: str, source_format: str) -> str:
        if source_format == "pql/json":
            return pql.to_text(pql.from_json(value))
        return pql.to_json(pql.parse(value))

    def select(self, pql_text: str, *, memberships: Mapping[str, Set[str]]) -> list[str]:
        predicate = pql.compile(pql_text)
        context = Context({}, datetime.now(timezone.utc), lambda segment_id: False)
        selected = []
        for profile_id, view in self._views:
            context.profile = view
            context.in_segment = membership_lookup(memberships, profile_id)
            context.variables = {}
            if predicate(context):
                selected.append(profile_id)
        return selected

    def profile(self, profile_id: str) -> Mapping[str, Any]:
        return self.store.profile(profile_id)
