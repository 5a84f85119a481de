"""Apache Airflow provider for the Adobe Experience Platform Segmentation Service."""

from __future__ import annotations

# The one place the version is written: the wheel's metadata (hatch), the provider info, the
# User-Agent and the OpenLineage facet all read it.
__version__ = "0.1.0"
