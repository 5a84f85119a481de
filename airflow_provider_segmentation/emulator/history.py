"""How the emulator's profile store changes from one emulator day to the next: growth, churn and broken
ingestion days, so that size histories are a real series with a real anomaly.

The store holds ``profiles`` profiles on ``start_day`` (the emulator's first day unless set). On day N
after it, ``floor(profiles * growth_per_day * N)`` new profiles have joined and ``floor(profiles *
churn_per_day * N)`` of the starting ones have left (linear in the starting population, not compound;
the leavers in a fixed seeded order, joiners never leave), so the day's population is

    joined(N) = min(profiles + floor(profiles * growth_per_day * N), MAX_PROFILES)
    size(N)   = joined(N) - min(profiles, floor(profiles * churn_per_day * N))

and before ``start_day`` it is ``profiles``. On a day an ``ingestion_drop`` covers, evaluations see only
``round(size * (1 - fraction))`` of them (evenly spread), as after a broken ingestion. All of it is a
function of (seed, settings, emulator day): the same day gives the same profiles after a restart.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

MAX_PROFILES = 1_000_000  # growth stops here: the emulator's ceiling for --profiles too
MAX_RATE = 1.0  # per day, as a share of the starting population


@dataclass(frozen=True)
class IngestionDrop:
    """On ``day`` (or on every day from ``from_day``) evaluations see ``1 - fraction`` of the profiles."""

    fraction: float
    day: date | None = None
    from_day: date | None = None

    def covers(self, when: date) -> bool:
        return (
            when == self.day if self.day is not None else self.from_day is not None and when >= self.from_day
        )

    def describe(self) -> dict[str, Any]:
        key, value = ("day", self.day) if self.day is not None else ("from_day", self.from_day)
        return {key: str(value), "fraction": self.fraction}


@dataclass(frozen=True)
class HistorySettings:
    """``PATCH /_emulator/settings {"history": {...}}``; a reset puts back the start-up values."""

    growth_per_day: float = 0.0
    churn_per_day: float = 0.0
    start_day: date | None = None  # None: the emulator clock's UTC day at start-up (and after a reset)
    ingestion_drop: tuple[IngestionDrop, ...] = ()

    def describe(self) -> dict[str, Any]:
        return {
            "growth_per_day": self.growth_per_day,
            "churn_per_day": self.churn_per_day,
            "start_day": str(self.start_day) if self.start_day else None,
            "ingestion_drop": [drop.describe() for drop in self.ingestion_drop],
        }


@dataclass(frozen=True)
class Population:
    """Which profiles an evaluation on one emulator day sees (hashable: evaluations are memoised on it)."""

    day_number: int = 0  # days since the start day (negative before it)
    growth_per_day: float = 0.0
    churn_per_day: float = 0.0
    drop_fraction: float = 0.0

    def joined(self, starting: int) -> int:
        """Profiles that have joined by this day, the starting ones included (store indexes below it)."""
        if self.day_number <= 0:
            return starting
        return max(
            starting, min(starting + int(starting * self.growth_per_day * self.day_number), MAX_PROFILES)
        )

    def left(self, starting: int) -> int:
        """Starting profiles that have left by this day."""
        if self.day_number <= 0:
            return 0
        return min(starting, int(starting * self.churn_per_day * self.day_number))

    def kept(self, present: int) -> int:
        """How many of ``present`` profiles an evaluation sees (fewer on an ingestion drop day)."""
        return round(present * (1 - self.drop_fraction))

    def size(self, starting: int) -> int:
        return self.kept(self.joined(starting) - self.left(starting))


def population(settings: HistorySettings, start_day: date, at: float) -> Population:
    """The population of the emulator day that contains epoch second ``at``."""
    try:
        day = datetime.fromtimestamp(at, tz=timezone.utc).date()
    except (OverflowError, ValueError, OSError):  # a clock stepped past year 9999
        day = date.max
    drops = [drop.fraction for drop in settings.ingestion_drop if drop.covers(day)]
    return Population(
        day_number=(day - (settings.start_day or start_day)).days,
        growth_per_day=settings.growth_per_day,
        churn_per_day=settings.churn_per_day,
        drop_fraction=max(drops, default=0.0),
    )


# -- settings ------------------------------------------------------------------------------------------


def changed_history(current: HistorySettings, changes: Any) -> HistorySettings:
    """``current`` with ``changes`` (an object of history settings) applied; a ``ValueError`` names a
    bad one."""
    if not isinstance(changes, dict):
        raise ValueError("history takes an object of history settings")
    fields = {f.name for f in dataclasses.fields(HistorySettings)}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise ValueError(f"unknown history settings {unknown}; known: {sorted(fields)}")
    values: dict[str, Any] = {}
    for key in ("growth_per_day", "churn_per_day"):
        if key in changes:
            values[key] = _rate(f"history.{key}", changes[key])
    if "start_day" in changes:
        values["start_day"] = None if changes["start_day"] is None else _day("history.start_day", changes)
    if "ingestion_drop" in changes:
        values["ingestion_drop"] = ingestion_drops(changes["ingestion_drop"])
    return dataclasses.replace(current, **values)


def _rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_RATE:
        raise ValueError(
            f"{name} is a share of the starting profiles per day, 0 to 1 (e.g. 0.005), not {value!r}"
        )
    return float(value)


def _day(name: str, spec: dict[str, Any]) -> date:
    value = spec[name.rpartition(".")[2]]
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} is a UTC day YYYY-MM-DD, not {value!r}") from None


def ingestion_drops(spec: Any) -> tuple[IngestionDrop, ...]:
    """``null``, one ``{"day"|"from_day": "YYYY-MM-DD", "fraction": 0..1}`` or a list of them."""
    if spec is None:
        return ()
    entries = spec if isinstance(spec, list) else [spec]
    drops = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) not in ({"day", "fraction"}, {"from_day", "fraction"}):
            raise ValueError(
                'history.ingestion_drop takes {"day": "YYYY-MM-DD", "fraction": 0.9}, '
                f'{{"from_day": "YYYY-MM-DD", "fraction": 0.9}}, a list of them or null, not {entry!r}'
            )
        fraction = _rate("history.ingestion_drop.fraction", entry["fraction"])
        if "day" in entry:
            drops.append(IngestionDrop(fraction, day=_day("ingestion_drop.day", entry)))
        else:
            drops.append(IngestionDrop(fraction, from_day=_day("ingestion_drop.from_day", entry)))
    return tuple(drops)
