"""What a PQL tree tells about how AEP can evaluate it: its events (``xEvent``) with their time windows,
its ``inSegment`` references, its "ignore year" date parts and its Audience Manager references.

How PQL reveals the data it reads (INFER, Adobe publishes no function-by-function list): ExperienceEvents
are the profile's ``xEvent`` (``CHAIN(xEvent, ...)``, ``xEvent[...]``, ``exists E from xEvent ...``), every
other field is a profile attribute. Whether data arrives through a batch or a streaming *source* is not
in the PQL (AEP evaluates batch-ingested data nightly whatever the query); "batch" conditions in PQL are
events whose window is 24 hours or more, or that have none.

An event's window comes from the ``occurs`` conditions inside it: ``and`` keeps the narrowest, ``or`` the
widest, ``not`` none. Relative to now: ``< N unit before now`` (strict), ``<= N``/``= N unit before now``,
``today`` and ``this day`` (since 00:00: under 24 h), ``yesterday`` (48 h), ``this``/``last unit``; a
window anchored on a date (``between date(...) and date(...)``) is absolute, and ``> N before now`` or
``before now`` is unbounded. The walk uses its own stack, so chains of any length are fine.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from airflow_provider_segmentation.pql.ast import (
    ITEM_METHODS,
    OCCURS_FORMS,
    PLURALS,
    FieldLookup,
    FnApply,
    Literal,
    Node,
    ParameterReference,
)
from airflow_provider_segmentation.pql.checks import flatten_chain

HOURS = {
    "millisecond": 1 / 3_600_000,
    "second": 1 / 3600,
    "minute": 1 / 60,
    "hour": 1.0,
    "day": 24.0,
    "week": 168.0,
    "month": 28 * 24.0,  # the shortest month: any month is longer than a day
    "year": 365 * 24.0,
    "decade": 3650 * 24.0,
    "century": 36500 * 24.0,
    "millennium": 365000 * 24.0,
}
IGNORE_YEAR_FUNCTIONS = frozenset({"getMonth", "getDayOfMonth", "currentMonth", "currentDayOfMonth"})
AAM_NAMESPACES = frozenset({"aam", "aamsegments", "aamtraits"})
# fn -> (index of the collection, index of the per-item condition) for the functions that iterate one
ITERATORS = {
    **dict.fromkeys(ITEM_METHODS, (0, 2)),
    **dict.fromkeys(("exists", "forall", "select"), (1, 2)),
    "aggregateOver": (2, 3),
}


@dataclass(frozen=True)
class Window:
    """How far back an event may lie: ``hours`` (``inf``: unbounded), ``strict`` (``<``: less than), and
    ``relative`` (to now; False for a window between dates). ``text`` says it as PQL does."""

    hours: float
    strict: bool
    relative: bool
    text: str

    @property
    def under_a_day(self) -> bool:
        return self.relative and (self.hours < 24 or (self.hours == 24 and self.strict))

    @property
    def _narrowness(self) -> tuple[float, bool, bool]:
        return (self.hours, not self.strict, not self.relative)


@dataclass(frozen=True)
class EventUse:
    """One event condition: a CHAIN (one window per step) or one condition over ``xEvent``."""

    windows: tuple[Window | None, ...]
    negated: bool
    chained: bool


@dataclass
class PqlFacts:
    events: list[EventUse] = field(default_factory=list)
    in_segment_ids: list[str] = field(default_factory=list)
    ignore_year: list[str] = field(default_factory=list)  # the functions found
    aam: list[str] = field(default_factory=list)  # the namespaces found

    @property
    def event_steps(self) -> list[Window | None]:
        return [window for event in self.events for window in event.windows]


def _is_events(node: Node) -> bool:
    return (
        isinstance(node, FieldLookup)
        and node.field_name == "xEvent"
        and isinstance(node.object, ParameterReference)
    )


def _word(node: Node) -> object:
    return node.value if isinstance(node, Literal) else None


def _anchor_lookback(anchor: Node) -> Window | None:
    """The window from ``anchor`` to now, when the anchor is relative (None: absolute)."""
    if not isinstance(anchor, FnApply):
        return None
    if anchor.fn == "today":
        return Window(24.0, True, True, "today")
    if anchor.fn == "now":
        return Window(0.0, False, True, "now")
    if anchor.fn == "yesterday":
        return Window(48.0, False, True, "yesterday")
    if anchor.fn == "tomorrow":
        return Window(math.inf, False, True, "tomorrow")
    if anchor.fn == "relativePeriod":
        period, unit = _word(anchor.params[0]), _word(anchor.params[1])
        hours = HOURS.get(str(unit), math.inf)
        text = f"{period} {unit}"
        if period == "this":
            return Window(hours, True, True, text)
        if period == "last":
            return Window(2 * hours, False, True, text)
        return Window(math.inf, False, True, text)
    return None


_ABSOLUTE = Window(math.inf, False, False, "between fixed dates")


def _occurs_window(node: FnApply) -> Window:
    params = node.params
    if node.fn == "occurs":
        comparator, amount, unit, direction = (_word(p) for p in params[1:5])
        units = unit if amount == 1 else PLURALS.get(str(unit), f"{unit}s")
        text = f"{comparator} {amount} {units} {direction} {getattr(params[5], 'fn', 'a date')}"
        anchor = _anchor_lookback(params[5])
        if anchor is None:
            return Window(math.inf, False, False, text)
        if direction != "before" or comparator not in ("<", "<=", "="):
            return Window(math.inf, False, True, text)
        hours = float(amount) * HOURS.get(str(unit), math.inf) if isinstance(amount, int) else math.inf
        return Window(hours + anchor.hours, comparator == "<" and anchor.hours == 0, True, text)
    if node.fn in ("occursOn", "occursAfter"):
        return _anchor_lookback(params[1]) or _ABSOLUTE
    if node.fn == "occursBefore":
        return Window(math.inf, False, _anchor_lookback(params[1]) is not None, "before a time")
    return _ABSOLUTE  # occursBetween


def window_of(node: Node) -> Window | None:
    """The time window a condition puts on its event (None: it puts none)."""
    if not isinstance(node, FnApply):
        return None
    if node.fn in OCCURS_FORMS:
        return _occurs_window(node)
    if node.fn in ("and", "or") and len(node.params) >= 2:
        head, rights = flatten_chain(node)
        windows = [window_of(head), *(window_of(operand) for _, operand in rights)]
        if node.fn == "and":
            bounded = [w for w in windows if w is not None]
            return min(bounded, key=lambda w: w._narrowness) if bounded else None
        if any(w is None for w in windows):
            return None
        return max((w for w in windows if w is not None), key=lambda w: w._narrowness)
    return None


def _step_window(step: FnApply) -> Window | None:
    clauses = [p.params[0] if isinstance(p, FnApply) and p.fn == "chainWhere" else p for p in step.params[2:]]
    windows = [w for w in map(window_of, clauses) if w is not None]
    return min(windows, key=lambda w: w._narrowness) if windows else None


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, FnApply):
        yield from node.params
    elif isinstance(node, FieldLookup):
        yield node.object


def analyse(tree: Node) -> PqlFacts:
    """Walk ``tree`` once (with a stack of its own) and collect its facts."""
    facts = PqlFacts()
    stack: list[tuple[Node, bool]] = [(tree, False)]
    while stack:
        node, negated = stack.pop()
        if _is_events(node):  # xEvent used without a condition of its own: xEvent.count() > 3
            facts.events.append(EventUse((None,), negated, chained=False))
            continue
        if not isinstance(node, FnApply):
            stack.extend((child, negated) for child in _children(node))
            continue
        fn, params = node.fn, node.params
        skip: int | None = None
        if fn == "chain" and _is_events(params[0]):
            steps = [s for s in params[2:] if isinstance(s, FnApply)]
            facts.events.append(EventUse(tuple(map(_step_window, steps)), negated, chained=True))
            skip = 0
        elif fn in ITERATORS and len(params) > ITERATORS[fn][0] and _is_events(params[ITERATORS[fn][0]]):
            source, condition = ITERATORS[fn]
            window = window_of(params[condition]) if len(params) > condition else None
            facts.events.append(EventUse((window,), negated, chained=False))
            skip = source
        elif fn == "inSegment" and params:
            facts.in_segment_ids.append(str(_word(params[0])))
        elif fn in IGNORE_YEAR_FUNCTIONS:
            facts.ignore_year.append(fn)
        elif fn == "get" and len(params) == 2 and isinstance(params[0], FieldLookup):
            namespace = _word(params[1])
            if params[0].field_name == "segmentMembership" and str(namespace).lower() in AAM_NAMESPACES:
                facts.aam.append(str(namespace))
        flips = fn == "not"
        stack.extend((child, negated != flips) for index, child in enumerate(params) if index != skip)
    return facts
