"""``SegmentationHook``: the Airflow adapter of the Segmentation client.

It turns the ``adobe_experience_platform`` connection into a ``ClientConfig``, registers the client
secret and every minted access token with Airflow's secret masker, and exposes every API operation
(declared once in ``client/api``) and the waits. ``async with hook:`` and ``await hook.aclient()`` give
triggers the same 35 operations awaited; that path reads the connection with ``aget_connection`` and
masks with Airflow's async masker, so nothing blocks the triggerer's event loop.

Operators, sensors and triggers import from here and from ``models`` only (the job event and the job
kinds live in ``models``): every error of the client and the waiting vocabulary are re-exported below,
and this ``__all__`` is the one list of them the Airflow faces use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import cached_property
from types import TracebackType
from typing import Any, TypeVar

from airflow_provider_segmentation.client.api.definitions import EVALUATIONS, definition_body
from airflow_provider_segmentation.client.api.exports import MEMBER_STATUSES, export_request
from airflow_provider_segmentation.client.api.segment_jobs import MAX_IDS_PER_BULK_GET
from airflow_provider_segmentation.client.client import (
    JOB_READS,
    JOB_STOPS,
    AsyncSegmentationClient,
    SegmentationAPI,
    SegmentationClient,
)
from airflow_provider_segmentation.client.config import (
    DEFAULT_IMS_HOST,
    DEFAULT_PLATFORM_HOST,
    DEFAULT_SCOPES,
    ClientConfig,
    RetrySettings,
    positive_seconds,
    rules_settings,
)
from airflow_provider_segmentation.client.cron import validate_quartz_cron
from airflow_provider_segmentation.client.errors import (
    AEPAudienceSizeError,
    AEPAuthError,
    AEPConfigurationError,
    AEPConflictError,
    AEPConnectionError,
    AEPError,
    AEPGuardrailError,
    AEPJobCancelledError,
    AEPJobFailedError,
    AEPNotFoundError,
    AEPPermissionError,
    AEPRateLimitError,
    AEPServerError,
    AEPTimeoutError,
    AEPValidationError,
)
from airflow_provider_segmentation.client.operations import Call, Operation, SyncFace, check_id, validate_ids
from airflow_provider_segmentation.client.reconcile import request_fingerprint
from airflow_provider_segmentation.client.waiting import (
    Fetch,
    Job,
    Outcome,
    PollFlow,
    Wait,
    check_poll_interval,
    first_run_since,
    floored_poll_interval,
    job_outcome,
    poll_flow,
    status_of,
    wait,
)
from airflow_provider_segmentation.compat import BaseHook, aget_connection, amask_secret, mask_secret
from airflow_provider_segmentation.hooks import connection_form
from airflow_provider_segmentation.mixins import check_task_sandbox, is_template
from airflow_provider_segmentation.models import Estimate, ExportJob, JobKind, SegmentJob

__all__ = [  # what the Airflow faces (operators, sensors, triggers) take from here
    "EVALUATIONS",
    "JOB_READS",
    "JOB_STOPS",
    "MAX_IDS_PER_BULK_GET",
    "MEMBER_STATUSES",
    "AEPAudienceSizeError",
    "AEPAuthError",
    "AEPConfigurationError",
    "AEPConflictError",
    "AEPConnectionError",
    "AEPError",
    "AEPGuardrailError",
    "AEPJobCancelledError",
    "AEPJobFailedError",
    "AEPNotFoundError",
    "AEPPermissionError",
    "AEPRateLimitError",
    "AEPServerError",
    "AEPTimeoutError",
    "AEPValidationError",
    "AsyncSegmentationClient",
    "Call",
    "ClientConfig",
    "Fetch",
    "Job",
    "Outcome",
    "PollFlow",
    "RetrySettings",
    "SegmentationAPI",
    "SegmentationHook",
    "Wait",
    "check_id",
    "check_poll_interval",
    "check_task_sandbox",
    "definition_body",
    "export_request",
    "first_run_since",
    "floored_poll_interval",
    "is_template",
    "job_outcome",
    "poll_flow",
    "positive_seconds",
    "request_fingerprint",
    "status_of",
    "validate_ids",
    "validate_quartz_cron",
]

T = TypeVar("T")
TOKEN_OPERATION = "imsToken"  # the client's name of the IMS token call (``SegmentationClient._token_flow``)


def config_from_connection(conn: Any, sandbox: str | None = None) -> ClientConfig:
    """Build a client config from an Airflow connection; a missing or bad field fails with the fix.

    Messages speak the connection form's labels and not the connection id, which the caller adds (the
    UI's Test button runs on a transient connection whose id means nothing to the user).
    """
    extra = _extras(conn)
    prefix = f"extra__{connection_form.CONN_TYPE}__"

    def field(name: str) -> str | None:
        value = extra.get(name, extra.get(prefix + name))
        return str(value).strip() if value not in (None, "") else None

    # The sandbox is the connection's schema field; extra 'sandbox' is read for older connections. A
    # task's sandbox overrides it. Whether the name is valid is the config's rule (ClientConfig).
    connection_sandbox = (conn.schema or "").strip() or field("sandbox")
    chosen_sandbox = sandbox if sandbox is not None else connection_sandbox
    if chosen_sandbox is None:
        raise AEPConfigurationError(
            "Sandbox name is empty: set it to the lowercase name of your AEP sandbox (e.g. 'prod'), or "
            "pass sandbox= to the task",
            field="sandbox",
        )
    return ClientConfig(
        client_id=conn.login or "",
        client_secret=conn.password or "",
        org_id=field("ims_org_id") or "",
        sandbox=chosen_sandbox,
        scopes=field("scopes") or DEFAULT_SCOPES,
        ims_host=field("ims_host") or DEFAULT_IMS_HOST,
        platform_host=field("platform_host") or DEFAULT_PLATFORM_HOST,
        **rules_settings(field),
    )


def _extras(conn: Any) -> Mapping[str, Any]:
    """The connection's extra as a dict, read without Airflow's masking path (safe in an event loop)."""
    raw = conn.extra
    if not raw:
        return {}
    if isinstance(raw, Mapping):
        return raw
    try:
        data = json.loads(raw)
    except ValueError:
        raise AEPConfigurationError("the connection's extra is not valid JSON", field="extra") from None
    return data if isinstance(data, dict) else {}


def _said(error: AEPError, operation: str) -> str:
    """What ``error`` says to a connection's user: its redacted message, with the HTTP status, and
    without the client's name of the operation (``listSchedules: ...``), which the Test form never shows."""
    text = error.message.removeprefix(f"{operation}: ")
    return f"{text} (HTTP {error.status})" if error.status and f"HTTP {error.status}" not in text else text


class SegmentationHook(BaseHook, SyncFace, SegmentationAPI):
    """Talk to the AEP Segmentation Service through the ``adobe_experience_platform`` connection.

    :param aep_conn_id: the Airflow connection id (default ``aep_default``)
    :param sandbox: a sandbox name overriding the connection's, e.g. ``dev``
    :param retry: retry budget per call (default: 6 attempts within 300 s)
    """

    conn_name_attr = "aep_conn_id"
    default_conn_name = "aep_default"
    conn_type = connection_form.CONN_TYPE
    hook_name = "Adobe Experience Platform"

    def __init__(
        self,
        aep_conn_id: str = default_conn_name,
        sandbox: str | None = None,
        retry: RetrySettings | None = None,
    ) -> None:
        super().__init__()
        self.aep_conn_id = aep_conn_id
        self.sandbox = sandbox  # a task's override; the config validates it (validate_sandbox)
        self.retry = retry
        self._async_client: AsyncSegmentationClient | None = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return connection_form.legacy_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        return connection_form.legacy_form_widgets()

    # -- sync ----------------------------------------------------------------------------------------

    @cached_property
    def config(self) -> ClientConfig:
        config = self._config_of(self.get_connection(self.aep_conn_id))
        mask_secret(config.secret.reveal())
        return config

    def _config_of(self, conn: Any) -> ClientConfig:
        """The client config of this hook's connection, sandbox override and retry budget."""
        try:
            config = config_from_connection(conn, self.sandbox)
        except AEPConfigurationError as exc:
            from_task = (
                exc.field == "sandbox" and self.sandbox is not None
            )  # the override, not the connection
            source = "the task's sandbox argument" if from_task else f"connection {self.aep_conn_id!r}"
            raise exc.with_message(f"{source}: {exc.message}") from None
        return replace(config, retry=self.retry) if self.retry is not None else config

    @cached_property
    def client(self) -> SegmentationClient:
        return SegmentationClient(self.config, on_token=mask_secret)

    def get_conn(self) -> SegmentationClient:
        return self.client

    def execute(self, operation: Operation[T]) -> T:
        """Run one operation; a new segment job is checked against AEP's on-demand rules first."""
        return self.client.execute(operation)

    def check_on_demand(self, segment_ids: list[str]) -> list[Any]:
        """Would a segment job for ``segment_ids`` pass AEP's on-demand rules and the sandbox's allowance?
        ``AEPGuardrailError`` if not; the warnings otherwise (the create path runs this itself)."""
        return self.client.check_on_demand(segment_ids)

    def wait_for_job(
        self,
        fetch: Callable[[], Job],
        *,
        kind: JobKind,
        ident: str,
        poll_interval: float,
        timeout: float | None,
        on_status: Callable[[str, float], None] | None = None,
    ) -> Job:
        """Poll ``fetch`` until the job succeeds; ``AEPJobFailedError`` or ``AEPTimeoutError`` otherwise.

        ``poll_interval`` longer than ``timeout`` is refused; one below ``MIN_POLL_INTERVAL_SECONDS`` is
        raised to it (with a warning) unless the host is loopback. The last read happens at the deadline.
        Nothing is cancelled here: what a timeout means for the job is the caller's policy.
        """
        check_poll_interval(poll_interval, timeout, field_name="poll_interval")
        return wait(
            fetch,
            kind=kind.label,
            ident=ident,
            poll_interval=floored_poll_interval(
                poll_interval, platform_host=self.config.platform_host, field_name="poll_interval"
            ),
            timeout=timeout,
            on_status=on_status,
        )

    def wait_for_segment_job(
        self, job_id: str, *, poll_interval: float = 30, timeout: float | None = None
    ) -> SegmentJob:
        """Poll until the segment job succeeds (see ``wait_for_job``)."""
        return self.wait_for_job(
            lambda: self.get_segment_job(job_id),
            kind=JobKind.SEGMENT_JOB,
            ident=job_id,
            poll_interval=poll_interval,
            timeout=timeout,
        )

    def wait_for_export_job(
        self, job_id: str, *, poll_interval: float = 30, timeout: float | None = None
    ) -> ExportJob:
        """Poll until the export job succeeds (see ``wait_for_job``)."""
        return self.wait_for_job(
            lambda: self.get_export_job(job_id),
            kind=JobKind.EXPORT_JOB,
            ident=job_id,
            poll_interval=poll_interval,
            timeout=timeout,
        )

    def wait_for_estimate(
        self, preview_id: str, *, poll_interval: float = 5, timeout: float | None = None
    ) -> Estimate:
        """Poll until the preview's estimate is ready (see ``wait_for_job``)."""
        return self.wait_for_job(
            lambda: self.get_estimate(preview_id),
            kind=JobKind.ESTIMATE,
            ident=preview_id,
            poll_interval=poll_interval,
            timeout=timeout,
        )

    def read_job(self, kind: JobKind, job_id: str) -> Any:
        """Read a job of ``kind`` once (``JOB_READS``: the trigger reads with the same table)."""
        return self.execute(JOB_READS[kind].build(job_id))

    def cancel_job(self, kind: JobKind, job_id: str) -> None:
        """Stop a job of ``kind`` this package started (``JOB_STOPS``: cancel a segment or export job,
        delete a preview); the trigger's ``on_kill`` stops with the same table."""
        self.execute(JOB_STOPS[kind].build(job_id))

    def validate_pql(self, text: str) -> str:
        """Ask AEP whether ``text`` is valid PQL; returns its pql/json, raises ``AEPValidationError`` with
        Adobe's message otherwise. (``airflow_provider_segmentation.pql.parse`` lints offline.)"""
        return self.convert_pql(text).expression.value

    def test_connection(self) -> tuple[bool, str]:
        """Mint a token and make one cheap read; say in plain words what went wrong.

        A message speaks the connection form's labels and quotes only an error's redacted ``message``
        (``AEPError`` hides every credential in any spelling), without the client's operation names.
        """
        try:
            config = config_from_connection(self.get_connection(self.aep_conn_id), self.sandbox)
        except AEPError as exc:
            return False, f"The connection is incomplete: {exc.message}"
        # A connection test should answer in seconds: two attempts, no long backoff.
        client = SegmentationClient(
            replace(
                config, retry=RetrySettings(max_attempts=2, max_elapsed_seconds=5, base_delay_seconds=0.5)
            ),
            on_token=mask_secret,
        )
        listing = SegmentationAPI.list_schedules.build(limit=1)
        try:
            client.access_token()
        except AEPAuthError as exc:
            return False, _said(exc, TOKEN_OPERATION)
        except AEPConnectionError:
            return False, f"Could not reach the IMS host {config.ims_host}: check IMS host and the network"
        except AEPError as exc:
            return False, f"Could not get an access token from IMS host {config.ims_host}: " + _said(
                exc, TOKEN_OPERATION
            )
        try:
            client.execute(listing)
        except AEPConnectionError:
            return False, f"Could not reach the Platform host {config.platform_host}: check Platform host"
        except AEPAuthError as exc:
            return False, f"The gateway refused the token: {_said(exc, listing.name)}"
        except AEPPermissionError as exc:
            said = _said(exc, listing.name)
            if exc.error_code in ("403025", "403003", "403000"):
                return False, (
                    f"The credential is not entitled to Organization ID {config.org_id}: check the "
                    f"Organization ID, and add the AEP API to the Developer Console project of this org "
                    f"({said})"
                )
            if "sandbox" in exc.message.lower():
                return False, (
                    f"Sandbox name {config.sandbox!r} is unknown or not accessible to this credential: {said}"
                )
            return False, (
                f"The credential lacks a permission in sandbox {config.sandbox!r}: add a product profile "
                f"with Segmentation access ({said})"
            )
        except AEPError as exc:
            return False, f"AEP answered an error: {_said(exc, listing.name)}"
        return True, f"Connected to AEP org {config.org_id}, sandbox {config.sandbox!r}"

    # -- async (triggers) ----------------------------------------------------------------------------

    async def __aenter__(self) -> SegmentationHook:
        await self.aclient()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None

    async def _aconfig(self) -> ClientConfig:
        if "config" not in self.__dict__:  # shares the cached_property's slot
            built = self._config_of(await aget_connection(self.aep_conn_id, type(self)))
            await amask_secret(built.secret.reveal())
            self.__dict__["config"] = built
        config: ClientConfig = self.__dict__["config"]
        return config

    async def aclient(self) -> AsyncSegmentationClient:
        """The async client of this hook (every operation, awaited); ``async with hook:`` closes it."""
        if self._async_client is None:
            self._async_client = AsyncSegmentationClient(await self._aconfig(), on_token=amask_secret)
        return self._async_client
