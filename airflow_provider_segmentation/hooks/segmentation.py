"""``SegmentationHook``: the Airflow adapter of the Segmentation client.

It turns the ``adobe_experience_platform`` connection into a ``ClientConfig``, registers the client
secret and every minted access token with Airflow's secret masker, and holds the client: ``hook.client``
(every API operation, declared once in ``client/api``) and ``await hook.aclient()`` for triggers, the
same operations awaited; that path reads the connection with ``aget_connection`` and masks with
Airflow's async masker, so nothing blocks the triggerer's event loop. What the hook adds is Airflow's:
the connection test, and waits and stops by job kind (``client.JOB_TYPES``).

Operators, sensors and triggers take the hook from here and every other name from the client's public
face, ``airflow_provider_segmentation.client`` (``tests/airflow/test_layers.py``).
"""

from __future__ import annotations

import importlib
import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import cached_property
from types import TracebackType
from typing import Any

from airflow.exceptions import AirflowProviderDeprecationWarning

from airflow_provider_segmentation.client import (
    DEFAULT_IMS_HOST,
    DEFAULT_PLATFORM_HOST,
    DEFAULT_SCOPES,
    AEPAuthError,
    AEPConfigurationError,
    AEPConnectionError,
    AEPError,
    AEPPermissionError,
    AsyncSegmentationClient,
    Call,
    ClientConfig,
    Pages,
    RetrySettings,
    SegmentationAPI,
    SegmentationClient,
    check_poll_interval,
    floored_poll_interval,
    job_type,
    rules_settings,
    wait,
)
from airflow_provider_segmentation.compat import BaseHook, aget_connection, amask_secret, mask_secret
from airflow_provider_segmentation.hooks import connection_form
from airflow_provider_segmentation.kinds import JobKind
from airflow_provider_segmentation.models import Estimate, ExportJob, SegmentJob

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


class SegmentationHook(BaseHook):
    """Talk to the AEP Segmentation Service through the ``adobe_experience_platform`` connection.

    :param aep_conn_id: the Airflow connection id (default ``aep_default``)
    :param sandbox: a sandbox name overriding the connection's, e.g. ``dev``
    :param retry: retry budget per call (default: 6 attempts within 300 s)

    API calls go through the client it holds: ``hook.client.create_segment_job(ids)``, or
    ``await hook.aclient()`` in a trigger. (Calling an operation on the hook itself, as before 1.0, still
    works and warns: ``AirflowProviderDeprecationWarning``.)
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

    def check_on_demand(self, segment_ids: list[str]) -> list[Any]:
        """Would a segment job for ``segment_ids`` pass AEP's on-demand rules and the sandbox's allowance?
        ``AEPGuardrailError`` if not; the warnings otherwise (the client's create runs this itself)."""
        return self.client.check_on_demand(segment_ids)

    def read_job(self, kind: JobKind | str, job_id: str) -> Any:
        """Read a job of ``kind`` once (a segment or export job by its id, an estimate by its preview's)."""
        return self.client.execute(job_type(kind).read.build(job_id))

    def cancel_job(self, kind: JobKind | str, job_id: str) -> None:
        """Stop a job of ``kind`` this package started: cancel a segment or export job, delete a preview
        (AEP cannot cancel an estimate). The trigger's ``on_kill`` stops with the same declaration."""
        stop = job_type(kind).stop
        if stop is None:
            raise AEPConfigurationError(
                f"this package never starts a {JobKind(kind).label}, so it stops none"
            )
        self.client.execute(stop.build(job_id))

    def wait_for_job(
        self,
        kind: JobKind | str,
        job_id: str,
        *,
        poll_interval: float,
        timeout: float | None,
        on_status: Callable[[str, float], None] | None = None,
    ) -> Any:
        """Poll the job until it succeeds; ``AEPJobFailedError`` or ``AEPTimeoutError`` otherwise.

        ``poll_interval`` longer than ``timeout`` is refused; one below ``MIN_POLL_INTERVAL_SECONDS`` is
        raised to it (with a warning) unless the host is loopback. The last read happens at the deadline.
        Nothing is cancelled here: what a timeout means for the job is the caller's policy.
        """
        check_poll_interval(poll_interval, timeout, field_name="poll_interval")
        return wait(
            job_type(kind),
            lambda: self.read_job(kind, job_id),
            ident=job_id,
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
        job: SegmentJob = self.wait_for_job(
            JobKind.SEGMENT_JOB, job_id, poll_interval=poll_interval, timeout=timeout
        )
        return job

    def wait_for_export_job(
        self, job_id: str, *, poll_interval: float = 30, timeout: float | None = None
    ) -> ExportJob:
        """Poll until the export job succeeds (see ``wait_for_job``)."""
        job: ExportJob = self.wait_for_job(
            JobKind.EXPORT_JOB, job_id, poll_interval=poll_interval, timeout=timeout
        )
        return job

    def wait_for_estimate(
        self, preview_id: str, *, poll_interval: float = 5, timeout: float | None = None
    ) -> Estimate:
        """Poll until the preview's estimate is ready (see ``wait_for_job``)."""
        job: Estimate = self.wait_for_job(
            JobKind.ESTIMATE, preview_id, poll_interval=poll_interval, timeout=timeout
        )
        return job

    def validate_pql(self, text: str) -> str:
        """Ask AEP whether ``text`` is valid PQL; returns its pql/json, raises ``AEPValidationError`` with
        Adobe's message otherwise. (``airflow_provider_segmentation.pql.parse`` lints offline.)"""
        return self.client.convert_pql(text).expression.value

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

    # -- in earlier releases the hook was the client: its operations still answer here, with a warning --

    def __getattr__(self, name: str) -> Any:
        if name == "execute" or isinstance(getattr(SegmentationAPI, name, None), Call | Pages):
            warnings.warn(
                f"SegmentationHook.{name} is deprecated: call hook.client.{name} (or, in a trigger, "
                f"(await hook.aclient()).{name})",
                AirflowProviderDeprecationWarning,
                stacklevel=2,
            )
            return getattr(self.client, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


# In earlier releases this module re-exported the client's names; they still import from here, with a
# warning naming their home. The waiting internals that went into ``JOB_TYPES`` say what replaced them.
_MOVED_TO_MIXINS = ("check_task_sandbox", "is_template")
_REPLACED = {
    "JOB_READS": "JOB_TYPES[kind].read",
    "JOB_STOPS": "JOB_TYPES[kind].stop",
    "job_outcome": "JOB_TYPES[kind].outcome(job, ident=...)",
    "status_of": "JOB_TYPES[kind].status_text(job)",
}


def __getattr__(name: str) -> Any:
    import airflow_provider_segmentation.client as client_package

    if name in _REPLACED:
        raise AttributeError(
            f"{__name__}.{name} was removed: use {_REPLACED[name]} from airflow_provider_segmentation.client"
        )
    home = "airflow_provider_segmentation.mixins" if name in _MOVED_TO_MIXINS else client_package.__name__
    if home == client_package.__name__ and name not in client_package.__all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"importing {name} from {__name__} is deprecated: import it from {home}",
        AirflowProviderDeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(home), name)
