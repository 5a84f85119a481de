"""Airflow-free client for the AEP Segmentation Service (no Airflow import anywhere below here).

The entry points for code outside Airflow: ``SegmentationClient`` / ``AsyncSegmentationClient``, their
``ClientConfig`` and ``RetrySettings``, and the errors. A call itself is read in ``api/<group>.py``
(what is sent), ``operations.py`` (one declaration, two faces), ``client.py``, ``flow.py`` and ``http.py``.
The names below are loaded on first use, so that importing a light module of this package (the
connection form's defaults in ``client.config``, read by Airflow's provider discovery in every
process) does not import the whole client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_HOMES = {
    "AsyncSegmentationClient": "client",
    "SegmentationClient": "client",
    "ClientConfig": "config",
    "RetrySettings": "config",
    **dict.fromkeys(
        (
            "AEPAudienceSizeError",
            "AEPAuthError",
            "AEPConfigurationError",
            "AEPConflictError",
            "AEPConnectionError",
            "AEPError",
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
}
__all__ = [
    "AEPAudienceSizeError",
    "AEPAuthError",
    "AEPConfigurationError",
    "AEPConflictError",
    "AEPConnectionError",
    "AEPError",
    "AEPJobCancelledError",
    "AEPJobFailedError",
    "AEPNotFoundError",
    "AEPPermissionError",
    "AEPRateLimitError",
    "AEPServerError",
    "AEPTimeoutError",
    "AEPValidationError",
    "AsyncSegmentationClient",
    "ClientConfig",
    "RetrySettings",
    "SegmentationClient",
]

if TYPE_CHECKING:
    from airflow_provider_segmentation.client.client import AsyncSegmentationClient, SegmentationClient
    from airflow_provider_segmentation.client.config import ClientConfig, RetrySettings
    from airflow_provider_segmentation.client.errors import (
        AEPAudienceSizeError,
        AEPAuthError,
        AEPConfigurationError,
        AEPConflictError,
        AEPConnectionError,
        AEPError,
        AEPJobCancelledError,
        AEPJobFailedError,
        AEPNotFoundError,
        AEPPermissionError,
        AEPRateLimitError,
        AEPServerError,
        AEPTimeoutError,
        AEPValidationError,
    )


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
