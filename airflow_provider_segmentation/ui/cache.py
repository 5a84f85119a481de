"""A small time-bounded cache for the page's reads: one fetch per key at a time, a bounded number of keys.

A page view must never cost AEP more than a few requests, a reload within the TTL none, and ten people
opening the page at once one fetch: the first caller fetches while the others wait for its answer.
A failed fetch is remembered for a shorter time, so a rate-limited AEP is not asked again at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Cached(Generic[T]):
    """A value (or the error its fetch raised) and when it was fetched (``time.monotonic()``)."""

    value: T | None
    error: Exception | None
    fetched_at: float


class TTLCache(Generic[T]):
    """``get(key, fetch)``: the cached value of ``key`` while younger than ``ttl`` seconds (an error:
    ``error_ttl``), else ``fetch()``'s, fetched once however many threads ask; at most ``max_keys``
    keys, the least recently used dropped first."""

    def __init__(
        self, *, ttl: float, error_ttl: float, max_keys: int, clock: Callable[[], float] = time.monotonic
    ):
        self.ttl, self.error_ttl, self.max_keys, self.clock = ttl, error_ttl, max_keys, clock
        self._entries: OrderedDict[Hashable, Cached[T]] = OrderedDict()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, fetch: Callable[[], T]) -> tuple[Cached[T], bool]:
        """The entry for ``key`` and whether it came from the cache; raises nothing (see ``error``)."""
        fresh = self._fresh(key)
        if fresh is not None:
            return fresh, True
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # one fetch per key: the others wait here, then find its answer
            fresh = self._fresh(key)
            if fresh is not None:
                return fresh, True
            try:
                entry: Cached[T] = Cached(fetch(), None, self.clock())
            except Exception as exc:  # remembered and shown on the page, not raised into the api-server
                entry = Cached(None, exc, self.clock())
            with self._lock:
                self._entries[key] = entry
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_keys:
                    dropped, _ = self._entries.popitem(last=False)
                    self._key_locks.pop(dropped, None)
            return entry, False

    def _fresh(self, key: Hashable) -> Cached[T] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            age = self.clock() - entry.fetched_at
            if age >= (self.error_ttl if entry.error is not None else self.ttl):
                return None
            self._entries.move_to_end(key)
            return entry
