"""Dates and times: ``date(...)``, ``now``, ``today``/``yesterday``/``tomorrow``, ``relativePeriod``,
``currentMonth`` and co., ``getMonth`` and co., and the ``occurs`` forms; the calendar maths is ``dates``."""

from __future__ import annotations

from airflow_provider_segmentation.pql.ast import (
    CURRENT_FUNCTIONS,
    DATE_METHODS,
    OCCURS_FORMS,
    FnApply,
    value_of,
)
from airflow_provider_segmentation.pql.dates import DAY_OFFSETS, date_of, day_start, moment, occurs, period
from airflow_provider_segmentation.pql.runtime import Compiled, Compiler, guarded


def _compile_date(node: FnApply, params: list[Compiled]) -> Compiled:
    return guarded(lambda ctx: date_of([p(ctx) for p in params]))


def _compile_now(node: FnApply, params: list[Compiled]) -> Compiled:
    return lambda ctx: ctx.now


def _compile_day(node: FnApply, params: list[Compiled]) -> Compiled:
    word = node.fn
    return lambda ctx: day_start(word, ctx.now)


def _compile_relative_period(node: FnApply, params: list[Compiled]) -> Compiled:
    which, unit = value_of(node.params[0]), value_of(node.params[1])
    return guarded(lambda ctx: period(which, unit, ctx.now))


def _compile_current(node: FnApply, params: list[Compiled]) -> Compiled:
    part = CURRENT_FUNCTIONS[node.fn]
    return lambda ctx: getattr(ctx.now, part)


def _compile_date_method(node: FnApply, params: list[Compiled]) -> Compiled:
    (value,) = params
    part = DATE_METHODS[node.fn]
    return guarded(lambda ctx: getattr(moment(value(ctx)), part, None))


def _compile_occurs(node: FnApply, params: list[Compiled]) -> Compiled:
    form = node.fn
    subject, *anchors = params
    occurs_at = guarded(lambda ctx: occurs(form, subject(ctx), [a(ctx) for a in anchors]))
    return lambda ctx: bool(occurs_at(ctx))


COMPILERS: dict[str, Compiler] = {
    "date": _compile_date,
    "now": _compile_now,
    **dict.fromkeys(DAY_OFFSETS, _compile_day),
    "relativePeriod": _compile_relative_period,
    **dict.fromkeys(CURRENT_FUNCTIONS, _compile_current),
    **dict.fromkeys(DATE_METHODS, _compile_date_method),
    **dict.fromkeys(OCCURS_FORMS, _compile_occurs),
}
