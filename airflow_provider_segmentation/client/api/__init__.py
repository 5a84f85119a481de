"""The 35 operations of the Segmentation Service API (``segmentation.yaml``), one module per resource group.

To read what one call sends, open its group's module: ``definitions``, ``segment_jobs``, ``exports``,
``previews``, ``schedules``, ``audiences``, ``search``. ``SegmentationAPI``, which gathers the groups,
lives in ``client.client`` beside the clients that run it.
"""
