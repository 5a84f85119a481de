"""PQL figures: parse rate, evaluation time of a 5-clause definition over N synthetic profiles, and of
a 20,000-term ``or`` (one field against literals, which the engine reads as one set lookup).

Run: .venv/bin/python tests/benchmarks/bench_pql.py [--profiles 100000]
"""

from __future__ import annotations

import argparse
import resource
import time

from airflow_provider_segmentation import pql
from airflow_provider_segmentation.emulator.profiles import PQLEngine, ProfileStore

CORPUS = [
    'homeAddress.countryCode = "US"',
    'homeAddress.countryCode = "US" and loyalty.tier in ["gold", "platinum"]',
    'person.name.firstName.startsWith("J", false) or not (loyalty.points > 1000)',
    'exists X from xEvent where (X.eventType = "commerce.purchases" '
    "and X.timestamp occurs <= 30 days before now)",
    'personalEmail.address.endsWith("@example.com") and consents.marketing.email.val = "y"',
    "person.birthYear >= 1980 and person.birthYear < 1990 and loyalty.points % 2 = 0",
    'inSegment("e3be6d7f-1727-4d10-9cd5-7c4bd04c6e41") and identityMap.get("Email").count() > 0',
    'workAddress.city like "%os%" and homeAddress.stateProvince != workAddress.stateProvince',
]
FIVE_CLAUSES = (
    'homeAddress.countryCode = "US" and loyalty.tier in ["gold", "platinum"] and loyalty.points > 2000 '
    'and consents.marketing.email.val = "y" '
    'and exists X from xEvent where (X.eventType = "commerce.purchases" '
    "and X.timestamp occurs <= 30 days before now)"
)

WIDE_TERMS, WIDE_PROFILES = 20_000, 2_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=100_000)
    args = parser.parse_args()

    rounds = 3000
    started = time.perf_counter()
    for _ in range(rounds):
        for text in CORPUS:
            pql.parse(text)
    parse_rate = rounds * len(CORPUS) / (time.perf_counter() - started)

    started = time.perf_counter()
    engine = PQLEngine(ProfileStore(args.profiles, seed=42))
    build_seconds = time.perf_counter() - started
    started = time.perf_counter()
    selected = engine.select(FIVE_CLAUSES, memberships={})
    eval_seconds = time.perf_counter() - started
    wide = " or ".join(f"loyalty.points = {i}" for i in range(WIDE_TERMS))
    small = PQLEngine(ProfileStore(WIDE_PROFILES, seed=42))
    started = time.perf_counter()
    wide_selected = small.select(wide, memberships={})
    wide_seconds = time.perf_counter() - started
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"parse:    {parse_rate:,.0f} expressions/s ({len(CORPUS)} typical expressions x {rounds})")
    print(f"store:    {args.profiles:,} profiles generated in {build_seconds:.2f} s")
    print(
        f"evaluate: 5-clause definition with an event condition over {args.profiles:,} profiles in "
        f"{eval_seconds:.2f} s ({len(selected):,} selected)"
    )
    print(
        f"wide or:  {WIDE_TERMS:,} terms `loyalty.points = i` over {WIDE_PROFILES:,} profiles in "
        f"{wide_seconds:.2f} s, parse and compile included ({len(wide_selected):,} selected)"
    )
    print(f"peak RSS: {rss_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
