"""Airflow-free client for the AEP Segmentation Service (no Airflow import anywhere below here)."""

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
