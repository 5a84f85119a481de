"""Hiding the client secret and access tokens in text that came from a server, after it is decoded.

A server may echo a credential in any spelling: plain, JSON ``\\u`` escapes, HTML entities (named,
decimal, hex), percent-encoding in either case, form encoding, base64 of the credential or of a prefix
of it, or several of these stacked. ``Hider`` looks at every decoding of a text, finds a credential by
its first and last characters (8 of each, or the whole of a shorter one) or by the base64 of its first
bytes at any of the three alignments, and replaces what it found with ``***`` in the decoded text.

Limits: a piece of a credential shorter than 8 characters that is neither its start nor its end is not
recognised (nothing can tell it from ordinary text).

``remember`` keeps the credentials of this process (bounded) so that ``AEPError`` hides them in every
message it is given, whoever built the message: the last guard before a text reaches a log or a user.
"""

from __future__ import annotations

import base64
import html
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import unquote, unquote_plus

if TYPE_CHECKING:
    from airflow_provider_segmentation.client.config import Secret

MASK = "***"
NEEDLE = 8  # characters of a credential's start and end that identify it
_DECODING_ROUNDS = 3  # spellings stacked on each other (base64, then percent-encoded, then in JSON...)
_JSON_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|[\"\\/bfnrt])")
_JSON_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_=-]+")
_REMEMBERED = 64  # credentials of this process the error guard knows (a secret and tokens per credential)


def _json_unescaped(text: str) -> str:
    if "\\" not in text:
        return text
    out = _JSON_ESCAPE.sub(lambda m: chr(int(m[1][1:], 16)) if m[1][0] == "u" else _JSON_SIMPLE[m[1]], text)
    return out.encode("utf-16", "surrogatepass").decode("utf-16", "replace")  # join surrogate pairs


def _unquoted(text: str) -> str:
    return unquote(text) if "%" in text else text


def _form_unquoted(text: str) -> str:
    return unquote_plus(text) if "%" in text or "+" in text else text


def _entities(text: str) -> str:
    return html.unescape(text) if "&" in text else text


_DECODERS: tuple[Callable[[str], str], ...] = (_json_unescaped, _entities, _unquoted, _form_unquoted)


def decodings(text: str) -> list[str]:
    """``text`` and every spelling it decodes to, up to ``_DECODING_ROUNDS`` decodings stacked."""
    seen = {text: None}
    frontier = [text]
    for _ in range(_DECODING_ROUNDS):
        frontier = [d for t in frontier for d in (decode(t) for decode in _DECODERS) if d not in seen]
        seen.update(dict.fromkeys(frontier))
        if not frontier:
            break
    return list(seen)


def _base64_needles(raw: bytes) -> set[str]:
    """8 base64 characters that only the start of ``raw`` determines, at each of the 3 alignments."""
    needles = set()
    for shift, skip in ((0, 0), (1, 2), (2, 3)):
        encoded = base64.b64encode(b"\0" * shift + raw[:12]).decode()
        piece = encoded[skip : skip + NEEDLE]
        if len(piece) == NEEDLE and len(raw) >= 6:
            needles.update({piece, piece.replace("+", "-").replace("/", "_")})
    return needles


class Hider:
    """Finds and masks the given credentials in decoded text; its repr shows none of them."""

    def __init__(self, secrets: Iterable[Secret | None]) -> None:
        values = {s.reveal() for s in secrets if s is not None and s.reveal()}
        self._plain = tuple((v[:NEEDLE], v[-NEEDLE:], v) for v in values)
        self._base64 = frozenset(n for v in values for n in _base64_needles(v.encode()))

    def __repr__(self) -> str:
        return f"Hider(<{len(self._plain)} credentials>)"

    def __bool__(self) -> bool:
        return bool(self._plain)

    def finds(self, text: str) -> bool:
        """True when some decoding of ``text`` carries a credential."""
        return bool(self._plain) and any(self._spans(t) for t in decodings(text))

    def hide(self, text: str) -> str:
        """``text`` unchanged when no decoding of it carries a credential; else the decoding that did,
        with each credential (or its base64) replaced by ``***``, until no decoding carries one."""
        if not self._plain:
            return text
        for _ in range(2 * _DECODING_ROUNDS + 2):
            found = next(((t, spans) for t in decodings(text) if (spans := self._spans(t))), None)
            if found is None:
                return text
            text = _masked(*found)
        return MASK  # spellings stacked beyond what is undone here: nothing of it is shown

    def _spans(self, text: str) -> list[tuple[int, int]]:
        spans = []
        for start, end, whole in self._plain:
            for hit in _all(text, start):  # the credential from its start, as far as it goes
                spans.append((hit, hit + _common_prefix(text[hit:], whole)))
            for hit in _all(text, end):  # and from its end backwards
                stop = hit + len(end)
                spans.append((stop - _common_prefix(text[:stop][::-1], whole[::-1]), stop))
        for needle in self._base64:
            for hit in _all(text, needle):
                run = next(m for m in _BASE64_RUN.finditer(text) if m.start() <= hit < m.end())
                spans.append(run.span())
        return spans


def _all(text: str, needle: str) -> list[int]:
    hits, at = [], text.find(needle)
    while at >= 0:
        hits.append(at)
        at = text.find(needle, at + 1)
    return hits


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        text = text[:start] + MASK + text[end:]
    return text


_known: deque[Secret] = deque(maxlen=_REMEMBERED)
_known_hider: list[Hider] = [Hider(())]
_known_lock = threading.Lock()


def remember(secret: Secret) -> None:
    """Let every ``AEPError`` of this process hide ``secret`` (the client secret, a minted token)."""
    with _known_lock:
        if not secret or any(secret == known for known in _known):
            return
        _known.append(secret)
        _known_hider[0] = Hider(_known)


def hide_known(text: str) -> str:
    """``text`` with every credential this process remembers masked in any spelling."""
    return _known_hider[0].hide(text)
