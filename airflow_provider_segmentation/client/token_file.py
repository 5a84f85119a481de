"""IMS access tokens shared by every process of this machine's user: one encrypted file per credential.

Airflow 3 runs each task, and each resume after a deferral, in a process of its own; without this layer
each would ask IMS for a token that another process already holds (Adobe asks clients to reuse tokens).

Layout: in a directory that only its owner can enter (mode 0700, owned by this user: anything else is
refused with one warning, and each process then keeps its own tokens), ``<name>.token`` and
``<name>.lock`` per credential. ``<name>`` is an HMAC keyed by the client secret over the rest of the
credential (IMS host, client id, org, scopes): it reveals nothing, and a different secret (a wrong one,
a rotated one) has a file of its own. The file holds the token, its absolute expiry and its lifetime,
encrypted and authenticated (AES-256-GCM) with a key derived (HKDF-SHA256) from the client secret and
the credential, so a reader without the secret learns nothing and a file that was altered, truncated,
copied from another credential or written by another format is a miss, overwritten by the next mint.

Concurrency: the caller runs "read; if missing or stale, mint; write" under ``flock`` on the lock file,
so processes that start together mint once; writes are atomic (a 0600 temp file, then ``os.replace``).

Limits: the client secret is the key, so whoever holds it (or can read this user's files and guess a
short secret offline) can read the token; Adobe's client secrets are long random strings. Without
``fcntl`` (Windows, which Airflow does not support) each process keeps its own tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import math
import os
import stat
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypeGuard

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from airflow_provider_segmentation.client.config import Secret

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("airflow_provider_segmentation.client")
ENV_VAR = "AEP_TOKEN_CACHE_DIR"
OFF = "off"
SavedToken = tuple[Secret, float, float]  # the token, when it expires (epoch seconds), its lifetime
# A mint with its retries usually ends well within this; a process that waits longer mints on its own.
LOCK_WAIT_SECONDS = 180.0
_FORMAT = b"aep-ims-token-1\n"  # also authenticated: a file of another format is a miss
_NONCE_BYTES = 12
_MAX_FILE_BYTES = 64 * 1024
_warned: set[str] = set()
_warned_guard = threading.Lock()


def _warn_once(topic: str, message: str, *args: object) -> None:
    with _warned_guard:
        if topic in _warned:
            return
        _warned.add(topic)
    log.warning(message, *args)


def cache_directory(setting: str | None) -> Path | None:
    """Where tokens are shared: ``setting`` (``ClientConfig.token_cache_dir``), else ``$AEP_TOKEN_CACHE_DIR``,
    else ``$XDG_CACHE_HOME`` (or ``~/.cache``) ``/airflow-provider-segmentation/ims-tokens``; None when
    either says ``off``, when the environment names a relative path, or without ``fcntl``."""
    chosen = (setting or os.environ.get(ENV_VAR) or "").strip()
    if chosen.lower() == OFF or fcntl is None:
        return None
    if chosen:
        directory = Path(chosen).expanduser()
        if not directory.is_absolute():  # each task process may run in another working directory
            _warn_once(chosen, "%s=%r is not an absolute path: IMS tokens are not shared", ENV_VAR, chosen)
            return None
        return directory
    base = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser()
    return base / "airflow-provider-segmentation" / "ims-tokens"


def directory_problem(directory: Path) -> str | None:
    """Why ``directory`` cannot hold tokens (created 0700 if missing), or None."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
    except OSError as exc:
        return f"{directory} cannot be created ({exc.strerror})"
    if not stat.S_ISDIR(info.st_mode):
        return f"{directory} is not a directory"
    if info.st_uid != os.getuid():
        return f"{directory} belongs to another user"
    if info.st_mode & 0o077:
        return (
            f"others than its owner can enter {directory} (mode {stat.S_IMODE(info.st_mode):o}): chmod 700 it"
        )
    return None


def usable_directory(setting: str | None) -> Path | None:
    """``cache_directory(setting)`` if only this user can enter it; otherwise None, with one warning."""
    directory = cache_directory(setting)
    if directory is None:
        return None
    problem = directory_problem(directory)
    if problem is not None:
        _warn_once(
            str(directory),
            "IMS tokens are not shared between processes: %s; each process mints its own (set %s to a "
            "directory only you can enter, or to 'off')",
            problem,
            ENV_VAR,
        )
        return None
    return directory


def clear_directory(directory: Path) -> None:
    """Remove every token file in ``directory`` (tests: after the emulator forgot its tokens)."""
    for path in directory.glob("*.token") if directory.is_dir() else ():
        path.unlink(missing_ok=True)


class TokenFile:
    """One credential's token file; reading or writing it never raises (a problem is a miss)."""

    def __init__(self, directory: Path, secret: Secret, credential: tuple[str, ...]) -> None:
        self.directory = directory
        self._secret = secret
        self._credential = "\n".join(credential).encode("utf-8", "surrogatepass")
        digest = hmac.new(self._secret_bytes(), b"name\n" + self._credential, hashlib.sha256)
        self.name = digest.hexdigest()[:40]

    def __repr__(self) -> str:
        return f"TokenFile(directory={str(self.directory)!r}, name={self.name!r})"

    @property
    def path(self) -> Path:
        return self.directory / f"{self.name}.token"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold this credential's lock (at most ``LOCK_WAIT_SECONDS`` of waiting)."""
        fd = self._open_lock()
        try:
            for delay in self._lock_waits(fd):
                time.sleep(delay)
            yield
        finally:
            if fd is not None:
                os.close(fd)  # releases the lock

    @contextlib.asynccontextmanager
    async def alocked(self) -> AsyncIterator[None]:
        """``locked`` for the event loop: the lock is polled, never waited for in a blocking call."""
        fd = self._open_lock()
        try:
            for delay in self._lock_waits(fd):
                await asyncio.sleep(delay)
            yield
        finally:
            if fd is not None:
                os.close(fd)

    def load(self) -> SavedToken | None:
        """The saved token, or None: no file, not this user's regular 0600 file, or not readable with
        this secret (another secret, altered, truncated, garbage). Its expiry is for the caller to judge."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
                return None
            blob = file.read(_MAX_FILE_BYTES)
        nonce, sealed = blob[:_NONCE_BYTES], blob[_NONCE_BYTES:]
        try:
            fields = json.loads(AESGCM(self._key()).decrypt(nonce, sealed, _FORMAT + self._credential))
        except (InvalidTag, ValueError):
            return None
        return _saved_token(fields)

    def save(self, value: Secret, expires_at: float, lifetime: float) -> None:
        """Replace the file atomically with ``value``, encrypted; a failure is logged, never raised."""
        plain = json.dumps({"access_token": value.reveal(), "expires_at": expires_at, "lifetime": lifetime})
        nonce = os.urandom(_NONCE_BYTES)
        blob = nonce + AESGCM(self._key()).encrypt(nonce, plain.encode(), _FORMAT + self._credential)
        temporary = None
        try:
            fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{self.name}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as file:
                file.write(blob)
            os.replace(temporary, self.path)
        except OSError as exc:
            _warn_once(f"save {self.directory}", "Could not save an IMS token in %s: %s", self.directory, exc)
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)

    def _secret_bytes(self) -> bytes:
        return self._secret.reveal().encode("utf-8", "surrogatepass")

    def _key(self) -> bytes:
        info = b"airflow-provider-segmentation ims token file\n" + self._credential
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(self._secret_bytes())

    def _open_lock(self) -> int | None:
        try:
            return os.open(
                self.directory / f"{self.name}.lock",
                os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
            )
        except OSError as exc:
            _warn_once(
                f"lock {self.directory}", "Could not lock %s (%s): minting without it", self.directory, exc
            )
            return None

    @staticmethod
    def _lock_waits(fd: int | None) -> Iterator[float]:
        """The pauses between attempts to take the lock on ``fd``; ends when it is taken, or given up."""
        if fd is None or fcntl is None:
            return
        deadline, delay = time.monotonic() + LOCK_WAIT_SECONDS, 0.005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            if time.monotonic() > deadline:
                _warn_once(
                    "lock wait", "Waited %.0f s for another process's IMS token: minting", LOCK_WAIT_SECONDS
                )
                return
            yield delay
            delay = min(delay * 2, 0.1)


def _saved_token(fields: Any) -> SavedToken | None:
    """The token of a decrypted file's fields, or None if they are not a token, an expiry and a lifetime."""
    if not isinstance(fields, dict):
        return None
    value, expires_at, lifetime = fields.get("access_token"), fields.get("expires_at"), fields.get("lifetime")
    if not (isinstance(value, str) and value and _positive(expires_at) and _positive(lifetime)):
        return None
    return Secret(value), float(expires_at), float(lifetime)


def _positive(value: Any) -> TypeGuard[float]:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    )
