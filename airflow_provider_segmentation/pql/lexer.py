"""PQL tokens: the lexer and string-literal unescaping.

A backslash before a character that is not one of JSON's escapes (``\\w``, ``\\d``, ``\\.``) stays in the
string with its backslash: Adobe's docs write ``emailAddress.regexGroup("@(\\w+)", 1)`` as well as
``"@(\\\\w+)"``, and both are the pattern ``@(\\w+)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from airflow_provider_segmentation.pql.ast import PQLSyntaxError

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      |(?P<string>"(?:[^"\\]|\\.)*")
      |(?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      |(?P<param>\$\d+)
      |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      |(?P<op>=>|!=|<=|>=|=|<|>|\+|-|\*|/|%|!|\(|\)|\[|\]|\{|\}|,|\.|:|\^)""",
    re.VERBOSE,
)
_ESCAPES = {"b": "\b", "f": "\f", '"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "/": "/"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise PQLSyntaxError(f"unexpected character {text[pos]!r}", text, pos)
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("eof", "", len(text)))
    return tokens


def unescape(raw: str, text: str, pos: int) -> str:
    out = []
    index = 1
    while index < len(raw) - 1:
        char = raw[index]
        if char == "\\":
            nxt = raw[index + 1]
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", raw[index + 2 : index + 6]):
                out.append(chr(int(raw[index + 2 : index + 6], 16)))
                index += 6
                continue
            out.append(_ESCAPES.get(nxt, "\\" + nxt))  # \w, \d...: regular expressions keep theirs
            index += 2
        else:
            out.append(char)
            index += 1
    value = "".join(out)
    try:  # join UTF-16 surrogate pairs written as two \u escapes
        return value.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        return value
