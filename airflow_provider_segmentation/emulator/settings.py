"""Start-up settings of the emulator (some change at run time through ``PATCH /_emulator/settings``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from airflow_provider_segmentation.emulator.history import HistorySettings

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


@dataclass(frozen=True)
class RuleSettings:
    """Which of AEP's documented rules the emulator enforces (all by default), changed at run time with
    ``PATCH /_emulator/settings {"rules": {...}}`` and put back to these start-up values by a reset.

    Tests of other behaviour switch one rule off so that they are not slowed; tests of a rule keep it on.
    Adobe documents no status, code or body for any of these refusals (``aep-evaluation-rules.md``,
    "Error response when a guardrail is hit"): the default 400 and the body are the emulator's assumption.
    """

    # on-demand segment jobs (POST /segment/jobs with explicit ids) [S-FAE]
    enforce_on_demand_ids: bool = True  # at most 20 ids
    enforce_on_demand_quota: bool = True  # 2 runs per UTC day, 50/100 per contract year
    daily_on_demand_runs: int = 2
    yearly_on_demand_runs: int | None = None  # None: the sandbox type's (50 production, 100 development)
    production_sandboxes: tuple[str, ...] = ("prod",)  # every other sandbox is a development one
    contract_start: str = "01-01"  # MM-DD, the contract anniversary the yearly allowance resets on
    # ids that are not batch, people-based audiences of origin Segmentation Service: refuse the request
    # (the API's reading, INFER), drop them from the job (what the UI does), or let them through
    on_demand_origin_checks: Literal["refuse", "drop", "off"] = "refuse"
    # definitions: an ineligible streaming/edge declaration is stored as evaluated (batch), silently
    resolve_evaluation_method: bool = True
    schedule_once_a_day: bool = True  # a schedule's cron fires at most once a day [S-SCHED]
    account_audience_limit: bool = True  # at most 50 account audiences per sandbox (hard) [S-GR]
    rule_refusal_status: int = 400
    rule_refusal_error_code: str | None = None  # None: the rule's id, e.g. "on-demand.daily-runs"

    def sandbox_type(self, sandbox: str) -> Literal["production", "development"]:
        return "production" if sandbox in self.production_sandboxes else "development"


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
    rules: RuleSettings = field(default_factory=RuleSettings)
    # How the profile store changes from day to day (``history``): none by default, so that counts stay
    # put when tests step the clock; ``PATCH /_emulator/settings {"history": {...}}`` changes it.
    history: HistorySettings = field(default_factory=HistorySettings)
