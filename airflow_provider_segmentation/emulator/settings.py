"""Start-up settings of the emulator (some change at run time through ``PATCH /_emulator/settings``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_CLIENT_ID = "aep-emulator-client"
DEFAULT_CLIENT_SECRET = "aep-emulator-secret"
DEFAULT_ORG_ID = "EMULATOR0000000000000000@AdobeOrg"
PROFILE_DATASET_ID = "65a1b2c3d4e5f60718293a4b"
PROFILE_UNION_SCHEMA = "https://ns.adobe.com/xdm/context/profile__union"

RUNTIME_SETTINGS = (
    "job_step_seconds",
    "token_lifetime_seconds",
    "max_processing_segment_jobs",
    "fail_segment_jobs",
    "fail_export_jobs",
    "capture_bodies",
    "max_job_bulk_get_ids",
    "max_request_body_bytes",
)


@dataclass
class EmulatorSettings:
    host: str = "127.0.0.1"
    port: int = 8765
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = field(default=DEFAULT_CLIENT_SECRET, repr=False)
    org_id: str = DEFAULT_ORG_ID
    sandboxes: tuple[str, ...] = ("prod", "dev")
    token_lifetime_seconds: int = 86399
    job_step_seconds: float = 2.0
    max_processing_segment_jobs: int = 10
    profiles: int = 10_000
    seed: int = 42
    fail_segment_jobs: bool = False
    fail_export_jobs: bool = False
    # Most ids ``POST /segment/jobs/bulk-get`` answers (AEP's limit); lower it to test a client's batching.
    max_job_bulk_get_ids: int = 1500
    # Bodies over this many bytes are answered 413 before any route reads them (``body_limit``). Adobe
    # documents no limit: this is the emulator's guard, far above the largest documented bodies.
    max_request_body_bytes: int = 10 * 1024 * 1024
    # Keep raw request and response bodies (and the request's headers, token redacted) in the admin
    # request log, for contract tests; off by default because bodies can be large.
    capture_bodies: bool = False
    # The source of the emulator's time (see ``clock.EmulatorClock``); real time unless a test injects one.
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)
