"""One audience as its file declares it, and the key by which audience names are compared."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Audience:
    """One audience as its file declares it; ``source`` is ``file:line`` of its mapping."""

    name: str
    expression: str
    description: str = ""
    evaluation: str = "batch"
    schema: str = "_xdm.context.profile"  # the XDM class; account audiences: _xdm.context.account
    ttl_in_days: int | None = None
    schedule: bool = True
    labels: tuple[str, ...] = ()
    source: str = ""
    renamed_from: tuple[str, ...] = ()  # earlier names in the files, newest first


def name_key(name: str) -> str:
    """What two names of the folder are compared by: Unicode's canonical caseless match (NFD, case
    folding, NFC), so that names that look the same ("Café" with a combining accent, "CAFÉ", "café")
    clash in lint. Compatibility forms are not folded (NFKC would also make "x²" and "x2", or a
    fullwidth "G" (U+FF27) and "G", one name: they look different). Surrounding spaces are not stripped:
    lint refuses such names outright.

    Adobe documents that a definition's name is unique in a sandbox, but not whether that uniqueness
    ignores case or Unicode form; so names are matched with the sandbox's exactly (``matching``), and
    this stricter key only keeps two look-alike audiences out of one folder.
    """
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", name).casefold())
