"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-segmentation",
        "name": "Adobe Experience Platform Segmentation",
        "description": "Segment definitions, segment jobs, exports, schedules, previews and estimates "
        "of the Adobe Experience Platform Segmentation Service.",
        "versions": ["0.1.0"],
    }
