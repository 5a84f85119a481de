"""Adobe IMS access tokens: minting (OAuth Server-to-Server) and a process-wide cache.

The cache is keyed by the whole credential: IMS host, client id, a keyed digest of the client secret,
org and scopes. The client id is public (it is the ``x-api-key`` of every call), so a key without the
secret would hand a cached token to anyone who knows it; the digest is an HMAC with a per-process
random key, so the key never holds the secret nor anything that could be brute-forced offline.
The cache is shared by every client in the process, sync or async, so that 1,000 triggers in one
triggerer make one IMS call per token lifetime. A token is refreshed ``lead`` seconds before it
expires, and can be invalidated when the gateway rejects it. A token that IMS says lives under
``MIN_CACHED_LIFETIME_SECONDS`` is not cached: it serves the request that asked for it, with a warning.

``PROCESS_TOKEN_CACHE`` also shares its tokens with the other processes of this machine's user
(``token_file``: one encrypted file per credential), so that the task processes of Airflow 3 make one
IMS call per credential per token lifetime between them; a ``TokenCache()`` made elsewhere does not.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from airflow_provider_segmentation.client.config import ClientConfig, Secret
from airflow_provider_segmentation.client.errors import AEPAuthError, AEPServerError, parse_error_body
from airflow_provider_segmentation.client.http import HttpRequest, HttpResponse
from airflow_provider_segmentation.client.token_file import (
    SavedToken,
    TokenFile,
    cache_directory,
    clear_directory,
    usable_directory,
)
from airflow_provider_segmentation.client.wire import UnreadableBody, quote_value, read_json, seconds_value

log = logging.getLogger("airflow_provider_segmentation.client")
TokenKey = tuple[str, str, str, str, str]
REFRESH_LEAD_SECONDS = 300.0
MIN_CACHED_LIFETIME_SECONDS = 60.0
_PROCESS_KEY = os.urandom(32)
_HEADER_TOKEN = re.compile(r"[\x21-\x7e]+")  # visible ASCII: what an Authorization header can carry


@dataclass(frozen=True)
class AccessToken:
    value: Secret
    expires_at: float
    lifetime: float

    def __repr__(self) -> str:
        return f"AccessToken(expires_at={self.expires_at:.0f}, value=<redacted>)"


def credential(config: ClientConfig) -> tuple[str, str, str, str]:
    """The credential without its secret: what a token file is for (the secret keys its name and content)."""
    return (config.ims_host.rstrip("/"), config.client_id, config.org_id, config.normalized_scopes)


def token_key(config: ClientConfig) -> TokenKey:
    secret_digest = hmac.new(_PROCESS_KEY, config.secret.reveal().encode(), hashlib.sha256).hexdigest()
    ims_host, client_id, org_id, scopes = credential(config)
    return (ims_host, client_id, secret_digest, org_id, scopes)


def build_token_request(config: ClientConfig, user_agent: str) -> HttpRequest:
    """The IMS ``client_credentials`` call; credentials go in the form body, never in the URL."""
    form = {
        "grant_type": "client_credentials",
        "client_id": config.client_id,
        "client_secret": config.secret.reveal(),
        "scope": config.normalized_scopes,
    }
    return HttpRequest(
        "POST",
        config.token_url,
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": user_agent},
        body=urlencode(form).encode(),
    )


def parse_token_response(response: HttpResponse, *, now: float) -> AccessToken:
    """Read IMS's answer (which the call flow has scrubbed of the client secret); a refusal becomes an
    ``AEPAuthError`` that names the fix.

    Refused as an ``AEPServerError``: a token that an ``Authorization`` header cannot carry (empty, or
    not visible ASCII), and a lifetime that is not a positive number of seconds (a boolean ``true`` is
    not one, although Python would read it as 1).
    """
    if response.status != 200:
        code, message = parse_error_body(response.body)
        message = message or "no details"
        if response.status in (400, 401, 403):
            raise AEPAuthError(
                f"Adobe IMS rejected the credential ({message}): check the Client ID, Client secret and "
                "scopes of your OAuth Server-to-Server credential",
                status=response.status,
                error_code=code,
            )
        raise AEPServerError(
            f"IMS answered HTTP {response.status}: {message}", status=response.status, error_code=code
        )
    try:
        value, expires_in = _token_fields(response)
    except UnreadableBody as exc:
        raise AEPServerError(f"IMS answered 200 with a body this package cannot read: {exc.reason}") from None
    if value is None:
        raise AEPServerError("IMS answered 200 without an access_token and expires_in", status=200)
    if not value:
        raise AEPServerError(
            "IMS sent an unusable access_token (empty, or not visible ASCII), which an Authorization "
            "header cannot carry; try again later, or ask Adobe support if it persists",
            status=200,
        )
    lifetime = _seconds(expires_in)
    if lifetime is None:
        raise AEPServerError(
            f"IMS answered 200 with expires_in={quote_value(expires_in)}, which is not a positive number "
            "of seconds; the token cannot be cached",
            status=200,
        )
    return AccessToken(value, now + lifetime, lifetime)


def _token_fields(response: HttpResponse) -> tuple[Secret | None, Any]:
    """(token, expires_in) of IMS's answer; the token is held as a ``Secret`` from the moment it is read
    (empty when an ``Authorization`` header cannot carry it), so that no frame an error reporter captures
    holds it in plain text; (None, None) without both fields."""
    data = read_json(response.body)
    if not isinstance(data, dict) or "access_token" not in data or "expires_in" not in data:
        return None, None
    usable = isinstance(data["access_token"], str) and _HEADER_TOKEN.fullmatch(data["access_token"])
    return Secret(data.pop("access_token") if usable else ""), data["expires_in"]


def _seconds(value: Any) -> float | None:
    """A positive, finite number of seconds (a boolean ``true`` is not one, though Python reads it as 1)."""
    if isinstance(value, str):
        seconds = seconds_value(value.strip())
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) if abs(value) < 1e300 else math.inf
    else:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds > 0 else None


class TokenCache:
    """Thread-safe token store; concurrent coroutines needing the same key share one mint.

    ``machine_wide``: share tokens with this user's other processes through ``token_file``.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        lead_seconds: float = REFRESH_LEAD_SECONDS,
        *,
        machine_wide: bool = False,
    ) -> None:
        self.clock = clock
        self.lead_seconds = lead_seconds
        self.machine_wide = machine_wide
        self._tokens: dict[TokenKey, AccessToken] = {}
        self._guard = threading.Lock()
        self._key_locks: dict[TokenKey, threading.Lock] = {}
        self._async_locks: dict[tuple[int, TokenKey], asyncio.Lock] = {}
        self._directories: set[Path] = set()

    def __repr__(self) -> str:
        return f"TokenCache(machine_wide={self.machine_wide}, credentials={len(self._tokens)})"

    def fresh(self, token: AccessToken) -> bool:
        """Whether ``token`` is not within its refresh lead time (on this cache's clock)."""
        # Short-lived tokens (tests, the emulator) refresh at 90 % of their life, not 5 minutes early.
        lead = min(self.lead_seconds, token.lifetime * 0.1)
        return token.expires_at - self.clock() > lead

    def valid(self, key: TokenKey) -> AccessToken | None:
        """The cached token if it is not within its refresh lead time."""
        token = self._tokens.get(key)
        return token if token is not None and self.fresh(token) else None

    def token_file(self, config: ClientConfig) -> TokenFile | None:
        """Where this credential's token is shared with this user's other processes, if it is."""
        directory = usable_directory(config.token_cache_dir) if self.machine_wide else None
        if directory is None:
            return None
        with self._guard:
            self._directories.add(directory)
        return TokenFile(directory, config.secret, credential(config))

    def adoptable(self, saved: SavedToken | None, stale: Secret | None) -> AccessToken | None:
        """A token another process saved, unless it is the one the gateway rejected or near its expiry."""
        if saved is None:
            return None
        token = AccessToken(*saved)
        return token if token.value != stale and self.fresh(token) else None

    def store(self, key: TokenKey, token: AccessToken) -> None:
        """Keep ``token`` for later requests, unless it lives under ``MIN_CACHED_LIFETIME_SECONDS``: it
        could expire on the way (or, at 0.001 s, before the next request anyway), so it serves only the
        request that minted it, and every request mints its own until IMS issues longer-lived tokens."""
        if not cacheable(token):
            log.warning(
                "IMS issued an access token that lives %.3g s (expires_in), under %.0f s: it is used for "
                "one request and not cached, so each request mints its own",
                token.lifetime,
                MIN_CACHED_LIFETIME_SECONDS,
            )
            return
        with self._guard:
            self._tokens[key] = token

    def invalidate(self, key: TokenKey, value: Secret) -> None:
        """Forget ``value`` if it is still the cached token (another caller may have refreshed it)."""
        with self._guard:
            current = self._tokens.get(key)
            if current is not None and current.value == value:
                del self._tokens[key]

    def sync_lock(self, key: TokenKey) -> threading.Lock:
        with self._guard:
            return self._key_locks.setdefault(key, threading.Lock())

    def async_lock(self, key: TokenKey) -> asyncio.Lock:
        loop_id = id(asyncio.get_running_loop())
        with self._guard:
            return self._async_locks.setdefault((loop_id, key), asyncio.Lock())

    def clear(self) -> None:
        """Forget every token: this process's, and the shared files of the directories this cache used or
        the environment names (tests, after the emulator forgot its tokens)."""
        default = cache_directory(None) if self.machine_wide else None
        with self._guard:
            self._tokens.clear()
            directories = self._directories | ({default} if default is not None else set())
        for directory in directories:
            clear_directory(directory)


def cacheable(token: AccessToken) -> bool:
    return token.lifetime >= MIN_CACHED_LIFETIME_SECONDS


PROCESS_TOKEN_CACHE = TokenCache(machine_wide=True)
