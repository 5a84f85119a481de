"""Client settings, validated before any HTTP call so that a bad connection fails with a clear fix."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlparse

from airflow_provider_segmentation.client.errors import AEPConfigurationError, AEPValidationError

DEFAULT_SCOPES = "openid,session,AdobeID,read_organizations,additional_info.projectedProductContext"
DEFAULT_IMS_HOST = "https://ims-na1.adobelogin.com"
DEFAULT_PLATFORM_HOST = "https://platform.adobe.io"
BASE_PATH = "/data/core/ups"

_SANDBOX_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def validate_sandbox(sandbox: str | None, *, field_name: str = "sandbox") -> str:
    """Return the sandbox name if AEP would accept it in ``x-sandbox-name``, else raise."""
    if sandbox is None or not str(sandbox).strip():
        raise AEPConfigurationError(
            f"{field_name} is empty: set it to the lowercase name of your AEP sandbox, e.g. 'prod'",
            field=field_name,
        )
    if not _SANDBOX_NAME.match(sandbox):
        hint = f"use '{sandbox.strip().lower()}'" if sandbox.strip().lower() != sandbox else "e.g. 'prod'"
        raise AEPConfigurationError(
            f"{field_name} {sandbox!r} is not a sandbox name: AEP expects the lowercase name "
            f"(letters, digits and dashes); {hint}",
            field=field_name,
        )
    return sandbox


@dataclass(frozen=True)
class RetrySettings:
    """How hard to try again on 429, 5xx and connection errors."""

    max_attempts: int = 6
    max_elapsed_seconds: float = 300.0
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise AEPValidationError("max_attempts must be at least 1", field="max_attempts")


@dataclass(frozen=True)
class ClientConfig:
    """Everything the client needs; the secret never appears in ``repr``."""

    client_id: str
    client_secret: str = field(repr=False)
    org_id: str
    sandbox: str
    scopes: str = DEFAULT_SCOPES
    ims_host: str = DEFAULT_IMS_HOST
    platform_host: str = DEFAULT_PLATFORM_HOST
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retry: RetrySettings = field(default_factory=RetrySettings)

    def __post_init__(self) -> None:
        required = {
            "client_id": (
                "client id",
                "the Client ID of your Developer Console OAuth Server-to-Server credential",
            ),
            "client_secret": ("client secret", "the Client Secret of that credential"),
            "org_id": ("IMS org id", "your Organization ID, e.g. 'ABC123@AdobeOrg'"),
        }
        for name, (label, fix) in required.items():
            if not str(getattr(self, name) or "").strip():
                raise AEPConfigurationError(f"{label} ({name}) is missing: set it to {fix}", field=name)
        validate_sandbox(self.sandbox)
        for name in ("ims_host", "platform_host"):
            parsed = urlparse(getattr(self, name))
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise AEPConfigurationError(
                    f"{name} {getattr(self, name)!r} is not a URL: use e.g. "
                    f"{DEFAULT_IMS_HOST if name == 'ims_host' else DEFAULT_PLATFORM_HOST}",
                    field=name,
                )
        if not self.scopes.strip():
            raise AEPConfigurationError(f"scopes is empty: use {DEFAULT_SCOPES!r}", field="scopes")

    @property
    def base_url(self) -> str:
        return self.platform_host.rstrip("/") + BASE_PATH

    @property
    def token_url(self) -> str:
        return self.ims_host.rstrip("/") + "/ims/token/v3"

    @property
    def normalized_scopes(self) -> str:
        return ",".join(s.strip() for s in self.scopes.replace(" ", ",").split(",") if s.strip())
