"""Airflow-free client for the AEP Segmentation Service (no Airflow import anywhere below here).

This package's names below are its public face: code outside ``client/`` (the hook, the operators,
sensors and triggers, the audiences CLI, users' own scripts) imports from here and never from a module
inside (``tests/airflow/test_layers.py``). ``SegmentationClient`` / ``AsyncSegmentationClient`` with
their ``ClientConfig`` and ``RetrySettings``; ``SegmentationAPI`` (every operation, declared once in
``api/<group>.py``); the errors; the input checks; the job kinds' declarations (``JOB_TYPES``) and the
waits. A call itself is read in ``api/<group>.py`` (what is sent), ``operations.py`` (one declaration,
two faces), ``client.py``, ``flow.py`` and ``http.py``.

The names are loaded on first use, so that a DAG file importing an operator (which needs an error class
or an input check when it is parsed) or Airflow's provider discovery (the connection form's defaults)
does not import the whole client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_HOMES = {
    **dict.fromkeys(("AsyncSegmentationClient", "SegmentationAPI", "SegmentationClient"), "client"),
    **dict.fromkeys(("ClientConfig", "RetrySettings", "rules_settings"), "config"),
    **dict.fromkeys(("DEFAULT_IMS_HOST", "DEFAULT_PLATFORM_HOST", "DEFAULT_SCOPES"), "defaults"),
    **dict.fromkeys(
        (
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
        ),
        "errors",
    ),
    **dict.fromkeys(
        (
            "ID_PATTERN",
            "MAX_HISTORY_JOBS",
            "SANDBOX_NAME_PATTERN",
            "check_choice",
            "check_choice",
            "check_id",
            "check_limits",
            "check_max_jobs",
            "check_poll_interval",
            "positive_seconds",
            "validate_ids",
            "validate_names",
            "validate_sandbox",
        ),
        "checks",
    ),
    **dict.fromkeys(("MAX_PAGE_SIZE",), "api._common"),
    **dict.fromkeys(("EVALUATIONS", "definition_body"), "api.definitions"),
    **dict.fromkeys(("MEMBER_STATUSES", "export_request"), "api.exports"),
    **dict.fromkeys(("MAX_IDS_PER_BULK_GET",), "api.segment_jobs"),
    **dict.fromkeys(("validate_quartz_cron",), "cron"),
    **dict.fromkeys(("Call", "Operation", "Page", "Pages"), "operations"),
    **dict.fromkeys(("request_fingerprint",), "reconcile"),
    **dict.fromkeys(
        ("Fetch", "PollFlow", "Wait", "first_run_since", "floored_poll_interval", "poll_flow", "wait"),
        "waiting",
    ),
    **dict.fromkeys(("JOB_TYPES", "Job", "JobType", "Outcome", "job_type"), "jobs"),
}
__all__ = [
    "DEFAULT_IMS_HOST",
    "DEFAULT_PLATFORM_HOST",
    "DEFAULT_SCOPES",
    "EVALUATIONS",
    "ID_PATTERN",
    "JOB_TYPES",
    "MAX_HISTORY_JOBS",
    "MAX_IDS_PER_BULK_GET",
    "MAX_PAGE_SIZE",
    "MEMBER_STATUSES",
    "SANDBOX_NAME_PATTERN",
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
    "JobType",
    "Operation",
    "Outcome",
    "Page",
    "Pages",
    "PollFlow",
    "RetrySettings",
    "SegmentationAPI",
    "SegmentationClient",
    "Wait",
    "check_choice",
    "check_id",
    "check_limits",
    "check_max_jobs",
    "check_poll_interval",
    "definition_body",
    "export_request",
    "first_run_since",
    "floored_poll_interval",
    "job_type",
    "poll_flow",
    "positive_seconds",
    "request_fingerprint",
    "rules_settings",
    "validate_ids",
    "validate_names",
    "validate_quartz_cron",
    "validate_sandbox",
    "wait",
]

if TYPE_CHECKING:
    from airflow_provider_segmentation.client.api._common import (
        MAX_PAGE_SIZE,
    )
    from airflow_provider_segmentation.client.api.definitions import (
        EVALUATIONS,
        definition_body,
    )
    from airflow_provider_segmentation.client.api.exports import (
        MEMBER_STATUSES,
        export_request,
    )
    from airflow_provider_segmentation.client.api.segment_jobs import (
        MAX_IDS_PER_BULK_GET,
    )
    from airflow_provider_segmentation.client.checks import (
        ID_PATTERN,
        MAX_HISTORY_JOBS,
        SANDBOX_NAME_PATTERN,
        check_choice,
        check_id,
        check_limits,
        check_max_jobs,
        check_poll_interval,
        positive_seconds,
        validate_ids,
        validate_names,
        validate_sandbox,
    )
    from airflow_provider_segmentation.client.client import (
        AsyncSegmentationClient,
        SegmentationAPI,
        SegmentationClient,
    )
    from airflow_provider_segmentation.client.config import (
        ClientConfig,
        RetrySettings,
        rules_settings,
    )
    from airflow_provider_segmentation.client.cron import (
        validate_quartz_cron,
    )
    from airflow_provider_segmentation.client.defaults import (
        DEFAULT_IMS_HOST,
        DEFAULT_PLATFORM_HOST,
        DEFAULT_SCOPES,
    )
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
    from airflow_provider_segmentation.client.jobs import (
        JOB_TYPES,
        Job,
        JobType,
        Outcome,
        job_type,
    )
    from airflow_provider_segmentation.client.operations import (
        Call,
        Operation,
        Page,
        Pages,
    )
    from airflow_provider_segmentation.client.reconcile import (
        request_fingerprint,
    )
    from airflow_provider_segmentation.client.waiting import (
        Fetch,
        PollFlow,
        Wait,
        first_run_since,
        floored_poll_interval,
        poll_flow,
        wait,
    )


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
