"""Client settings, validated before any HTTP call so that a bad connection fails with a clear fix."""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import urlparse

from airflow_provider_segmentation.client.checks import positive_seconds as positive_seconds
from airflow_provider_segmentation.client.checks import validate_sandbox as validate_sandbox
from airflow_provider_segmentation.client.defaults import (
    DEFAULT_IMS_HOST,
    DEFAULT_PLATFORM_HOST,
    DEFAULT_SCOPES,
)
from airflow_provider_segmentation.client.errors import AEPConfigurationError, AEPValidationError
from airflow_provider_segmentation.rules import OnDemandAllowance

RulesMode = Literal["enforce", "warn", "off"]
RULES_MODES: tuple[RulesMode, ...] = ("enforce", "warn", "off")

BASE_PATH = "/data/core/ups"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST_NAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")  # a DNS name (or a compose service)


class Secret:
    """A credential string that stays out of ``repr``, ``str``, ``dataclasses.asdict`` copies and pickles.

    ``reveal()`` is the only way to read it; a pickled ``Secret`` arrives empty, so a config shipped
    between processes carries no secret (rebuild it from the connection there).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value.strip())

    def __eq__(self, other: object) -> bool:
        """Constant-time, on UTF-8 bytes (``compare_digest`` refuses a ``str`` that is not ASCII)."""
        return isinstance(other, Secret) and hmac.compare_digest(
            self._value.encode("utf-8", "surrogatepass"), other._value.encode("utf-8", "surrogatepass")
        )

    def __hash__(self) -> int:
        return hash(Secret)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Secret, ("",))

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


def has_control_characters(value: str) -> bool:
    return bool(_CONTROL.search(value))


def validate_header_value(value: str, *, field_name: str) -> str:
    """A value that goes into an HTTP header: printable ASCII, without surrounding spaces (no CR or LF,
    which would inject headers, and nothing that the HTTP libraries cannot encode)."""
    if not isinstance(value, str) or has_control_characters(value) or value != value.strip():
        raise AEPConfigurationError(
            f"{field_name} {value!r} has a control character (a newline?) or surrounding spaces: remove "
            "them; it is sent in an HTTP header",
            field=field_name,
        )
    if not value.isascii():
        odd = next(c for c in value if not c.isascii())
        raise AEPConfigurationError(
            f"{field_name} {value!r} has a non-ASCII character ({odd!r}), which an HTTP header cannot "
            "carry: copy the value again from the Developer Console (a look-alike letter may have slipped "
            "in)",
            field=field_name,
        )
    return value


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """True for localhost and addresses in 127.0.0.0/8 or ::1 (the emulator on this machine)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_host(value: str, *, field_name: str) -> str:
    """``scheme://host[:port]`` (a trailing ``/`` is allowed): https, or http to a loopback address; no
    user:password part, no path, query or fragment (the client appends the API paths itself, and a
    fragment would swallow them), no control characters."""
    example = DEFAULT_IMS_HOST if field_name == "ims_host" else DEFAULT_PLATFORM_HOST
    text = str(value or "")
    parsed = urlparse(text)
    if (
        has_control_characters(text)
        or parsed.scheme not in ("http", "https")
        or not parsed.hostname
        or not (_HOST_NAME.fullmatch(parsed.hostname) or _is_address(parsed.hostname))
    ):
        raise AEPConfigurationError(
            f"{field_name} {text!r} is not a URL: use e.g. {example}", field=field_name
        )
    beyond_host = text[len(f"{parsed.scheme}://{parsed.netloc}") :]
    if beyond_host not in ("", "/"):
        raise AEPConfigurationError(
            f"{field_name} {text!r} has more than a scheme and host ({beyond_host!r}): give only "
            f"scheme://host[:port], e.g. {example}; the client adds the API paths itself",
            field=field_name,
        )
    try:
        port = parsed.port
    except ValueError:  # not a number, or above 65535
        port = 0
    if port == 0:
        raise AEPConfigurationError(
            f"{field_name} {text!r} has a port that is not a number from 1 to 65535: use e.g. {example}",
            field=field_name,
        )
    if parsed.username is not None or parsed.password is not None:
        raise AEPConfigurationError(
            f"{field_name} must not contain a user name or password ('user:pass@'): credentials belong in "
            f"the connection's Client ID and Client secret; use e.g. {example}",
            field=field_name,
        )
    if parsed.scheme == "http" and not is_loopback(parsed.hostname):
        raise AEPConfigurationError(
            f"{field_name} {text!r} uses plain http to {parsed.hostname}, which would send the client secret "
            f"and access tokens in cleartext: use https (e.g. {example}); plain http is allowed only to a "
            "loopback address such as the emulator on 127.0.0.1",
            field=field_name,
        )
    return text


def validate_token_cache_dir(value: Any) -> None:
    """None, "off", or an absolute path (each task process may run in another working directory)."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "off"):
        return
    if not isinstance(value, str) or not os.path.isabs(os.path.expanduser(value.strip())):
        raise AEPConfigurationError(
            f"token_cache_dir {value!r} is not an absolute path: give one (e.g. '~/.cache/aep-tokens'), "
            "'off' to keep tokens in each process, or None for the default",
            field="token_cache_dir",
        )


@dataclass(frozen=True)
class RetrySettings:
    """How hard to try again on 429, 5xx and connection errors."""

    max_attempts: int = 6
    max_elapsed_seconds: float = 300.0
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 60.0

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_attempts, bool)
            or not isinstance(self.max_attempts, int)
            or self.max_attempts < 1
        ):
            raise AEPValidationError(
                f"max_attempts must be a whole number of at least 1, got {self.max_attempts!r}",
                field="max_attempts",
            )
        positive_seconds(self.max_elapsed_seconds, field_name="max_elapsed_seconds")
        positive_seconds(self.base_delay_seconds, field_name="base_delay_seconds", allow_zero=True)
        positive_seconds(self.max_delay_seconds, field_name="max_delay_seconds", allow_zero=True)


@dataclass(frozen=True)
class ClientConfig:
    """Everything the client needs; the secret (a ``Secret``) never appears in reprs, copies or pickles."""

    client_id: str
    client_secret: Secret | str = field(repr=False)
    org_id: str
    sandbox: str
    scopes: str = DEFAULT_SCOPES
    ims_host: str = DEFAULT_IMS_HOST
    platform_host: str = DEFAULT_PLATFORM_HOST
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    call_timeout: float = 120.0  # the whole of one HTTP exchange, however slowly the answer trickles in
    max_response_bytes: int = 32 * 1024 * 1024  # a bigger answer is refused while it streams in
    retry: RetrySettings = field(default_factory=RetrySettings)
    # AEP's documented rules on the create path (on-demand segment jobs): "enforce" refuses before the
    # request is sent, "warn" logs and sends, "off" sends without checking (orgs whose AEP differs)
    aep_rules: RulesMode = "enforce"
    on_demand: OnDemandAllowance = field(default_factory=OnDemandAllowance)
    # Where tokens are shared with this user's other processes (client/token_file.py): an absolute path,
    # or "off"; None: $AEP_TOKEN_CACHE_DIR, else ~/.cache/airflow-provider-segmentation/ims-tokens
    token_cache_dir: str | None = None

    def __post_init__(self) -> None:
        if self.aep_rules not in RULES_MODES:
            raise AEPConfigurationError(
                f"aep_rules {self.aep_rules!r} is not one of {', '.join(RULES_MODES)}", field="aep_rules"
            )
        if not isinstance(self.client_secret, Secret):
            object.__setattr__(self, "client_secret", Secret(str(self.client_secret or "")))
        # Labels as Adobe's Developer Console (and the Airflow connection form) show them.
        required = {
            "client_id": (
                "Client ID",
                "copy it from your Developer Console OAuth Server-to-Server credential",
            ),
            "client_secret": ("Client secret", "copy it from that credential ('Retrieve client secret')"),
            "org_id": ("Organization ID", "copy it from the credential, e.g. 'ABC123@AdobeOrg'"),
        }
        for name, (label, fix) in required.items():
            value = getattr(self, name)
            if not value or not str(value).strip():
                raise AEPConfigurationError(f"{label} is missing: {fix}", field=name)
            if name != "client_secret":
                validate_header_value(str(value), field_name=name)
        validate_sandbox(self.sandbox)
        validate_host(self.ims_host, field_name="ims_host")
        validate_host(self.platform_host, field_name="platform_host")
        if not self.scopes.strip():
            raise AEPConfigurationError(f"scopes is empty: use {DEFAULT_SCOPES!r}", field="scopes")
        validate_header_value(self.scopes, field_name="scopes")
        for name in ("connect_timeout", "read_timeout", "call_timeout"):
            positive_seconds(getattr(self, name), field_name=name)
        validate_token_cache_dir(self.token_cache_dir)
        cap = self.max_response_bytes
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise AEPValidationError(
                f"max_response_bytes must be a whole number of bytes above zero, got {cap!r}",
                field="max_response_bytes",
            )

    @property
    def secret(self) -> Secret:
        assert isinstance(self.client_secret, Secret)  # __post_init__ wraps a str
        return self.client_secret

    @property
    def base_url(self) -> str:
        return self.platform_host.rstrip("/") + BASE_PATH

    @property
    def token_url(self) -> str:
        return self.ims_host.rstrip("/") + "/ims/token/v3"

    @property
    def normalized_scopes(self) -> str:
        return ",".join(s.strip() for s in self.scopes.replace(" ", ",").split(",") if s.strip())


def _whole_number(name: str, text: str) -> int:
    if not text.isdigit():
        raise AEPConfigurationError(
            f'{name} {text!r} is not a whole number of runs (0 or more): e.g. "2"', field=name
        )
    return int(text)


def rules_settings(extra: Callable[[str], str | None]) -> dict[str, Any]:
    """``aep_rules`` and ``on_demand`` for a ``ClientConfig``, from a connection's extras (``extra(name)``
    gives a stripped value or None); a bad value is an ``AEPConfigurationError`` naming the extra.

    Extras: ``aep_rules`` (enforce | warn | off), ``on_demand_daily_runs`` (default 2),
    ``on_demand_yearly_runs`` (default by sandbox type: 50 production, 100 development),
    ``sandbox_type`` (production | development; default production, the stricter one: this package
    cannot read a sandbox's type without the Sandbox API's permissions), ``contract_start`` (MM-DD, the
    contract anniversary the yearly allowance resets on; default 01-01).
    """
    mode = (extra("aep_rules") or "enforce").lower()
    if mode not in RULES_MODES:
        raise AEPConfigurationError(
            f"aep_rules {mode!r} is not one of {', '.join(RULES_MODES)}", field="aep_rules"
        )
    sandbox_type = (extra("sandbox_type") or "production").lower()
    if sandbox_type not in ("production", "development"):
        raise AEPConfigurationError(
            f"sandbox_type {sandbox_type!r} is not 'production' or 'development'", field="sandbox_type"
        )
    daily, yearly = extra("on_demand_daily_runs"), extra("on_demand_yearly_runs")
    daily_runs = 2 if daily is None else _whole_number("on_demand_daily_runs", daily)
    yearly_runs = None if yearly is None else _whole_number("on_demand_yearly_runs", yearly)
    start = extra("contract_start") or "01-01"
    month_day = re.fullmatch(r"(\d{1,2})-(\d{1,2})", start)
    try:
        if month_day is None:
            raise ValueError("not MM-DD")
        allowance = OnDemandAllowance(
            sandbox_type=cast(Literal["production", "development"], sandbox_type),
            daily=daily_runs,
            yearly=yearly_runs,
            contract_start_month=int(month_day.group(1)),
            contract_start_day=int(month_day.group(2)),
        )
    except ValueError as exc:
        raise AEPConfigurationError(
            f"contract_start {start!r} is not a month and day (MM-DD, e.g. 03-15): {exc}",
            field="contract_start",
        ) from None
    return {"aep_rules": mode, "on_demand": allowance}
