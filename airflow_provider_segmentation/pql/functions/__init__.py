"""PQL's functions, compiled by family: one module per family, each a table ``COMPILERS`` of function
name -> ``runtime.Compiler`` (the node and its compiled parameters in, one closure out).

``logic`` (not, comparisons, null tests, if), ``membership`` (in, notIn, inSegment), ``strings`` (like,
text methods), ``arrays`` (array methods), ``maps`` (map methods, mapEntry, object), ``temporal`` (dates,
times, occurs) and ``loops`` (quantifiers, filters, per-item methods, aggregates, let). The forms that
compile their own operands (``and``/``or``, arithmetic, CHAIN) stay with the walker in ``evaluate``.
"""

from __future__ import annotations

from airflow_provider_segmentation.pql.functions import (
    arrays,
    logic,
    loops,
    maps,
    membership,
    strings,
    temporal,
)
from airflow_provider_segmentation.pql.runtime import Compiler


def _merged(*tables: dict[str, Compiler]) -> dict[str, Compiler]:
    """The families' tables as one; a name in two families is a mistake, caught on import."""
    merged: dict[str, Compiler] = {}
    for table in tables:
        shared = merged.keys() & table.keys()
        if shared:
            raise RuntimeError(f"PQL functions compiled by two families: {sorted(shared)}")
        merged.update(table)
    return merged


COMPILERS = _merged(
    logic.COMPILERS,
    membership.COMPILERS,
    strings.COMPILERS,
    arrays.COMPILERS,
    maps.COMPILERS,
    temporal.COMPILERS,
    loops.COMPILERS,
)
"""Every function the evaluator compiles from its compiled parameters, by name."""
