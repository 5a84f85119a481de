"""The emulator's clock: the time every job, schedule and token is measured against.

By default it is the real clock (``time.time``), so demos see jobs advance by themselves. Tests step it
instead of sleeping: ``POST /_emulator/clock {"frozen": true}`` stops it, ``{"advance_seconds": 5}``
moves it forward (frozen or not), ``{"frozen": false}`` lets it run again from where it stands, never
backwards. ``POST /_emulator/reset`` puts it back on its source. The source itself is injectable
(``EmulatorSettings.clock``), for tests that build the app in-process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

MAX_STEP_SECONDS = 10 * 366 * 86400.0  # ten years: enough for any schedule, small enough to stay a date


class EmulatorClock:
    """Real time plus an offset, or a frozen instant; thread-safe."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen_at: float | None = None

    def now(self) -> float:
        with self._lock:
            return self._frozen_at if self._frozen_at is not None else self._source() + self._offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (0 to ten years) and return the new time."""
        if not 0 <= seconds <= MAX_STEP_SECONDS:
            raise ValueError(f"advance_seconds must be between 0 and {MAX_STEP_SECONDS:.0f}")
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds
        return self.now()

    def freeze(self, frozen: bool) -> None:
        """Stop the clock where it stands, or let it run again from there (it never goes backwards)."""
        with self._lock:
            if frozen and self._frozen_at is None:
                self._frozen_at = self._source() + self._offset
            elif not frozen and self._frozen_at is not None:
                self._offset = self._frozen_at - self._source()
                self._frozen_at = None

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
            self._frozen_at = None

    def describe(self) -> dict[str, Any]:
        with self._lock:
            frozen = self._frozen_at is not None
            offset = self._offset if not frozen else None
        return {"now": self.now(), "frozen": frozen, "offset_seconds": offset}
