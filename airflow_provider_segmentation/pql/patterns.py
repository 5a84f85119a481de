"""Text patterns in PQL: ``like`` in linear time; checked regular expressions for ``matches``/``regexGroup``.

``like``
    ``%`` is any run of characters and ``_`` any one character. The pattern is split at its ``%``s into
    fixed-length pieces; the first must match at the start, the last at the end, and each one between
    at its leftmost place after the one before (leftmost is always safe for such patterns). Nothing is
    retried, so the time is at most ``len(text) * len(pattern)`` character steps, and usually linear:
    20 wildcards against a 10,000-character text that does not match take well under a millisecond
    (it used to be exponential in the number of ``%``: 10 wildcards took 10 s).

Regular expressions
    They run on Python's backtracking engine ``re`` (the standard library has no linear-time engine), so
    each pattern is analysed once, when it is compiled (at parse time for a literal pattern, where the
    error carries its line and column; at evaluation time for a pattern that comes from profile data, in
    which case ``matches`` is false and ``regexGroup`` null instead of an error).

    Bounded:

    * invalid patterns are a ``PQLError`` (``PQLSyntaxError`` with line and column for a literal);
    * exponential backtracking is refused (``PQLUnsupportedError`` naming the construct): a group
      repeated more than once whose body can match texts of different lengths or holds an alternation
      whose branches may start with the same character: ``(a+)+``, ``(a*)*``, ``(a|aa)+``,
      ``(\\w+\\s?)+``, ``(.*a){3}``;
    * polynomial backtracking of high degree is refused: four or more unbounded quantifiers in a row
      that can take the same characters (``.*a.*a.*a.*b``, ``\\d+\\d*\\d+\\d+``); lower degrees
      limit the length of the text a pattern is run on (``MAX_SUBJECT``): degree 1 (one such
      quantifier: ``\\d+x``) 5,000 characters, degree 2 (``\\d+\\d+x``, ``\\w+\\s*\\w+$``) 500,
      degree 3 (``a.*a.*a.*b``) 100; patterns without a variable quantifier run on any length. A longer
      text is not evaluated: ``matches`` is false and ``regexGroup`` null. Measured worst cases at those
      lengths (Python 3.11, one core) are about 0.07 s, 0.12 s and 0.03 s per call;
    * ``matches`` searches, so a leading or trailing ``.*`` adds nothing and is dropped before the
      analysis (``.*foo.*bar.*`` is analysed as ``foo.*bar``);
    * groups nested more than ``MAX_GROUP_NESTING`` deep and patterns longer than ``MAX_PATTERN``
      characters are refused (Python's own regex parser is recursive).

    Not bounded: ambiguity the analysis cannot see. It follows quantifiers over single characters
    (``.``, ``\\w``, ``[a-z]``, literals) through the characters between them; it does not look into
    backreferences, lookarounds, or alternations outside repeated groups, which stay polynomial (no
    nested repetition survives the checks) but with a degree it does not measure, and the measured
    times above are for Python 3.11 on one core.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from airflow_provider_segmentation.pql.ast import PQLError, PQLUnsupportedError

try:  # Python 3.11+
    from re import _parser as _sre  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre  # type: ignore[no-redef,unused-ignore]

MAX_PATTERN = 10_000
MAX_GROUP_NESTING = 100
MAX_DEGREE = 3
MAX_SUBJECT = {0: None, 1: 5_000, 2: 500, 3: 100}
_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}
_ATOMS = {"LITERAL", "NOT_LITERAL", "ANY", "IN"}
_BASE_SAMPLE = "aZz09_ \t\n.-@/:+é€\x00\uffff"
_CATEGORIES = {
    "CATEGORY_DIGIT": re.compile(r"\d"),
    "CATEGORY_NOT_DIGIT": re.compile(r"\D"),
    "CATEGORY_SPACE": re.compile(r"\s"),
    "CATEGORY_NOT_SPACE": re.compile(r"\S"),
    "CATEGORY_WORD": re.compile(r"\w"),
    "CATEGORY_NOT_WORD": re.compile(r"\W"),
}


# -- like ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Piece:
    text: str
    regex: re.Pattern[str] | None  # None: no "_" in the piece, plain substring search

    def at(self, subject: str, position: int) -> bool:
        if self.regex is None:
            return subject.startswith(self.text, position)
        return self.regex.match(subject, position) is not None

    def find(self, subject: str, position: int) -> int:
        if self.regex is None:
            return subject.find(self.text, position)
        match = self.regex.search(subject, position)
        return -1 if match is None else match.start()


def _piece(text: str) -> _Piece:
    if "_" not in text:
        return _Piece(text, None)
    source = "".join("." if char == "_" else re.escape(char) for char in text)
    return _Piece(text, re.compile(source, re.DOTALL))


@lru_cache(maxsize=512)
def _like_pieces(pattern: str) -> tuple[_Piece, ...]:
    return tuple(_piece(text) for text in pattern.split("%"))


def like(subject: str, pattern: str) -> bool:
    """PQL ``like``: does all of ``subject`` match ``pattern`` (``%`` any run, ``_`` any one character)?"""
    pieces = _like_pieces(pattern)
    first, last = pieces[0], pieces[-1]
    if len(pieces) == 1:
        return len(subject) == len(first.text) and first.at(subject, 0)
    if len(subject) < len(first.text) + len(last.text) or not first.at(subject, 0):
        return False
    position = len(first.text)
    for piece in pieces[1:-1]:
        if not piece.text:
            continue
        found = piece.find(subject, position)
        if found < 0:
            return False
        position = found + len(piece.text)
    end = len(subject) - len(last.text)
    return end >= position and last.at(subject, end)


# -- regular expressions --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Checked:
    """A pattern that passed the checks: its compiled form and the longest text it may run on."""

    regex: re.Pattern[str]
    max_subject: int | None

    def runs_on(self, subject: str) -> bool:
        return self.max_subject is None or len(subject) <= self.max_subject


def _strip_search_padding(pattern: str) -> str:
    """``matches`` searches: a leading or trailing greedy/lazy ``.*`` does not change the answer."""
    for head in (".*?", ".*"):
        if pattern.startswith(head) and pattern[len(head) : len(head) + 1] not in ("*", "+", "?", "{"):
            pattern = pattern[len(head) :]
            break
    for tail in (".*?", ".*"):
        if pattern.endswith(tail):
            stem = pattern[: -len(tail)]
            backslashes = len(stem) - len(stem.rstrip("\\"))
            if backslashes % 2 == 0:
                pattern = stem
            break
    return pattern


def _group_nesting(pattern: str) -> int:
    """How deep ``(`` groups nest, skipping escapes and character classes."""
    depth = deepest = index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            index += 1
            if pattern[index : index + 1] == "^":
                index += 1
            if pattern[index : index + 1] == "]":
                index += 1
            while index < len(pattern) and pattern[index] != "]":
                index += 2 if pattern[index] == "\\" else 1
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth = max(0, depth - 1)
        index += 1
    return deepest


def _name(op: Any) -> str:
    return str(op)


class _Analysis:
    def __init__(self, pattern: str, sample: str, ignore_case: bool) -> None:
        self.pattern = pattern
        self.sample = sample
        self.ignore_case = ignore_case
        self.degree = 0

    # character sets over a sample alphabet (the pattern's own characters and a few representatives)
    def chars(self, op: Any, av: Any) -> frozenset[str]:
        name = _name(op)
        if name == "LITERAL":
            char = chr(av)
            return frozenset({char, char.lower(), char.upper()} if self.ignore_case else {char})
        if name == "NOT_LITERAL":
            return frozenset(self.sample) - {chr(av)}
        if name == "IN":
            return frozenset(c for c in self.sample if self.in_class(av, c))
        return frozenset(self.sample)  # ANY and anything unknown: every character

    def in_class(self, items: Any, char: str) -> bool:
        negate, hit = False, False
        for op, av in items:
            name = _name(op)
            if name == "NEGATE":
                negate = True
            elif name == "LITERAL":
                hit |= char == chr(av) or (self.ignore_case and char.lower() == chr(av).lower())
            elif name in ("RANGE", "RANGE_UNI_IGNORE"):
                low, high = av
                hit |= low <= ord(char) <= high or (
                    self.ignore_case and any(low <= ord(c) <= high for c in (char.lower(), char.upper()))
                )
            elif name == "CATEGORY" and _name(av) in _CATEGORIES:
                hit |= _CATEGORIES[_name(av)].match(char) is not None
            else:
                hit = True  # unknown class item: assume it may match
        return hit != negate

    def single(self, item: tuple[Any, Any]) -> frozenset[str] | None:
        """The characters of a one-character atom, or None when ``item`` is not one."""
        op, av = item
        if _name(op) in _ATOMS:
            return self.chars(op, av)
        if _name(op) == "SUBPATTERN" and len(av[-1].data) == 1:
            return self.single(av[-1].data[0])
        return None

    # exponential constructs
    def check_repeat(self, lo: int, hi: int, body: Any) -> None:
        if hi <= 1 or (len(body.data) == 1 and self.single(body.data[0]) is not None):
            return
        low, high = body.getwidth()
        if low != high:
            raise PQLUnsupportedError(
                f"the regular expression {self.pattern!r} repeats a group that can match texts of different "
                "lengths (like (a+)+ or (a|aa)*), which backtracks exponentially; "
                "rewrite it without a quantifier inside the repeated group"
            )
        for branches in self.branches(body):
            firsts: list[frozenset[str]] = []
            for branch in branches:
                head = self.single(branch[0]) if branch else None
                if head is None or any(head & other for other in firsts):
                    raise PQLUnsupportedError(
                        f"the regular expression {self.pattern!r} repeats an alternation whose branches can "
                        "start with the same character (like (a|ab)+), which backtracks exponentially"
                    )
                firsts.append(head)

    def branches(self, sub: Any) -> list[list[Any]]:
        found: list[list[Any]] = []
        for op, av in sub.data:
            if _name(op) == "BRANCH":
                found.append([list(branch.data) for branch in av[1]])
            elif _name(op) == "SUBPATTERN":
                found.extend(self.branches(av[-1]))
        return found

    def walk(self, sub: Any) -> None:
        """Check every repeat, and measure the chains of overlapping quantifiers in every sequence."""
        self.sequence(self.flatten(sub.data))
        for op, av in sub.data:
            name = _name(op)
            if name in _REPEATS:
                self.check_repeat(av[0], av[1], av[2])
                self.walk(av[2])
            elif name == "SUBPATTERN":
                self.walk(av[-1])
            elif name == "BRANCH":
                for branch in av[1]:
                    self.walk(branch)
            elif name in ("ASSERT", "ASSERT_NOT"):
                self.walk(av[1])
            elif name == "ATOMIC_GROUP":
                self.walk(av)
            elif name == "GROUPREF_EXISTS":
                for part in av[1:]:
                    if part is not None:
                        self.walk(part)

    def flatten(self, items: Any) -> list[tuple[Any, Any]]:
        flat: list[tuple[Any, Any]] = []
        for op, av in items:
            if _name(op) == "SUBPATTERN":
                flat.extend(self.flatten(av[-1].data))
            else:
                flat.append((op, av))
        return flat

    def sequence(self, items: list[tuple[Any, Any]]) -> None:
        chain, bridge = 0, frozenset[str]()
        for op, av in items:
            name = _name(op)
            if name == "AT":
                continue
            repeat = name in _REPEATS and len(av[2].data) == 1 and self.single(av[2].data[0]) is not None
            chars = self.single(av[2].data[0]) if repeat else self.single((op, av))
            if chars is None:
                chain, bridge = 0, frozenset()
            elif repeat and av[1] > 1 and av[0] != av[1]:  # a variable quantifier
                overlapping = bool(bridge & chars)
                if av[0] == 0:  # optional: a path may also skip it
                    chain, bridge = (chain + 1 if overlapping else max(chain, 1)), bridge | chars
                else:
                    chain, bridge = (chain + 1 if overlapping else 1), chars
                self.degree = max(self.degree, chain)
            elif repeat and av[0] == 0:  # x? stays optional: nothing to carry
                continue
            else:  # a fixed character: the chain goes on only through characters both sides can take
                bridge = bridge & chars
                if not bridge:
                    chain = 0


def _sample(pattern: str) -> str:
    """A few representatives and the pattern's own characters (at most 256 of them)."""
    return "".join(list(dict.fromkeys(_BASE_SAMPLE + pattern))[: len(_BASE_SAMPLE) + 256])


@lru_cache(maxsize=512)
def _analyse(pattern: str, search: bool) -> Checked | tuple[bool, str]:
    """A checked pattern, or (unsupported?, message)."""
    source = _strip_search_padding(pattern) if search else pattern
    if len(source) > MAX_PATTERN:
        return True, f"regular expressions longer than {MAX_PATTERN} characters are not supported"
    if _group_nesting(source) > MAX_GROUP_NESTING:
        return True, f"regular expressions nesting groups deeper than {MAX_GROUP_NESTING} are not supported"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            regex = re.compile(source)
            tree = _sre.parse(source)
    except (re.error, OverflowError, RecursionError) as exc:  # RecursionError: belt and braces
        return False, f"invalid regular expression {pattern!r}: {exc}"
    analysis = _Analysis(pattern, _sample(source), bool(regex.flags & re.IGNORECASE))
    try:
        analysis.walk(tree)
    except PQLUnsupportedError as exc:
        return True, str(exc)
    if analysis.degree > MAX_DEGREE:
        return True, (
            f"the regular expression {pattern!r} has {analysis.degree} quantifiers in a row that can take "
            "the same characters (like .*a.*a.*a.*b), which backtracks in polynomial time of high degree"
        )
    return Checked(regex, MAX_SUBJECT[analysis.degree])


def check(pattern: str, *, search: bool) -> Checked:
    """``pattern`` compiled, or ``PQLError`` (invalid) / ``PQLUnsupportedError`` (would backtrack badly).

    :param search: for ``matches`` (a search whose match text is not used), not ``regexGroup``
    """
    result = _analyse(pattern, search)
    if isinstance(result, Checked):
        return result
    unsupported, message = result
    raise (PQLUnsupportedError if unsupported else PQLError)(message)


def search(pattern: Any, subject: Any) -> bool:
    """PQL ``matches`` at evaluation time: false for a non-text, an invalid or refused pattern, a too long
    text."""
    if not isinstance(pattern, str) or not isinstance(subject, str):
        return False
    try:
        checked = check(pattern, search=True)
    except PQLError:
        return False
    return checked.runs_on(subject) and checked.regex.search(subject) is not None


def group(pattern: Any, subject: Any, number: Any = 0) -> str | None:
    """PQL ``regexGroup`` at evaluation time: null when anything is missing, invalid or out of range."""
    if not isinstance(pattern, str) or not isinstance(subject, str):
        return None
    if isinstance(number, bool) or not isinstance(number, int):
        return None
    try:
        checked = check(pattern, search=False)
    except PQLError:
        return None
    if not 0 <= number <= checked.regex.groups or not checked.runs_on(subject):
        return None
    match = checked.regex.search(subject)
    return None if match is None else match.group(number)
