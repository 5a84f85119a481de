"""Apache Airflow provider for the Adobe Experience Platform Segmentation Service."""

from __future__ import annotations

__version__ = "0.1.0"
