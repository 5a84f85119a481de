"""What each spawned process of ``test_token_file`` runs: a client of its own that asks for a token."""

from __future__ import annotations

import hashlib
from typing import Any

from airflow_provider_segmentation.client import ClientConfig, SegmentationClient


def token_digest(fields: dict[str, Any], ready: Any, go: Any, results: Any) -> None:
    """Say ``ready``, wait for ``go`` (so that every process asks at once), then put the SHA-256 of the
    token this process got (never the token) on ``results``."""
    client = SegmentationClient(ClientConfig(**fields))
    ready.put(True)
    go.wait(30)
    results.put(hashlib.sha256(client.access_token().encode()).hexdigest())
