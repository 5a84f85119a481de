"""A local Adobe Experience Platform (Segmentation Service + IMS) for tests, demos and users' own CI."""
