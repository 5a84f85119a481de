"""The 35 operations of the Segmentation Service API (``segmentation.yaml``), one module per resource group.

``SegmentationAPI`` gathers the groups; a runner (``SyncFace`` or ``AsyncFace`` from ``operations``)
that inherits it has every operation as a method. To read what one call sends, open its group's
module: ``definitions``, ``segment_jobs``, ``exports``, ``previews``, ``schedules``, ``audiences``,
``search``. ``SegmentationAPI.<name>.build(...)`` returns the ``Operation`` itself.
"""

from airflow_provider_segmentation.client.api.audiences import Audiences
from airflow_provider_segmentation.client.api.definitions import SegmentDefinitions
from airflow_provider_segmentation.client.api.exports import ExportJobs
from airflow_provider_segmentation.client.api.previews import Previews
from airflow_provider_segmentation.client.api.schedules import Schedules
from airflow_provider_segmentation.client.api.search import Search
from airflow_provider_segmentation.client.api.segment_jobs import SegmentJobs


class SegmentationAPI(SegmentDefinitions, SegmentJobs, ExportJobs, Previews, Schedules, Audiences, Search):
    """Every operation of the Segmentation Service, declared once in its group's module."""
