"""What a compiled PQL expression runs with: the ``Context`` of one evaluation, the step budget of its
loops (``MAX_STEPS``), and PQL's null for data a function cannot take (``guarded``).

Shared by the walker (``evaluate``) and the function families (``functions``), so that neither imports
the other's internals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_segmentation.pql.ast import FnApply, PQLError, PQLTooComplexError

MAX_STEPS = 1_000_000
# What a function applied to unsuitable data raises; it then gives null. Never RecursionError/MemoryError.
DATA_ERRORS = (TypeError, ValueError, ArithmeticError, LookupError, AttributeError)


@dataclass
class Context:
    profile: Mapping[str, Any]
    now: datetime
    in_segment: Callable[[str], bool] = lambda _segment_id: False
    variables: dict[str, Any] = field(default_factory=dict)
    steps: int = 0  # loop steps taken by the current evaluation; see MAX_STEPS


Compiled = Callable[[Context], Any]
Compiler = Callable[[FnApply, list[Compiled]], Compiled]
"""Compiles one function call from its node and its parameters, already compiled."""


def step(ctx: Context) -> None:
    """Count one loop step of the current evaluation; ``PQLTooComplexError`` past ``MAX_STEPS``."""
    ctx.steps += 1
    if ctx.steps > MAX_STEPS:
        raise PQLTooComplexError(
            problem=f"evaluating the expression for one profile takes more than {MAX_STEPS} loop steps "
            "(the limit); nested quantifiers or filters over long arrays multiply",
            limit=MAX_STEPS,
        )


def guarded(function: Compiled) -> Compiled:
    """``function``, with PQL's null instead of the errors unsuitable data raises."""

    def null_on_bad_data(ctx: Context) -> Any:
        try:
            return function(ctx)
        except PQLError:  # MAX_STEPS from a loop inside: not a data problem
            raise
        except DATA_ERRORS:
            return None

    return null_on_bad_data


def as_list(value: Any) -> list[Any]:
    """An array as a list, a single value as a list of it, null as the empty list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple | set) else [value]


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
