"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_segmentation import __version__

PACKAGE = "airflow_provider_segmentation"
INTEGRATION = "Adobe Experience Platform Segmentation"


def get_provider_info() -> dict[str, Any]:
    # Imported here so that reading provider info stays cheap for Airflow's discovery.
    from airflow_provider_segmentation.hooks.connection_form import CONN_FIELDS, CONN_TYPE, UI_FIELD_BEHAVIOUR

    return {
        "package-name": "airflow-provider-segmentation",
        "name": "Adobe Experience Platform Segmentation",
        "description": "Segment definitions, segment jobs, exports, schedules, previews and estimates of the "
        "Adobe Experience Platform Segmentation Service, with a local emulator.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://experienceleague.adobe.com/en/docs/experience-platform/segmentation/api/overview",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [f"{PACKAGE}.hooks.segmentation"],
            }
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    f"{PACKAGE}.operators.segment_definitions",
                    f"{PACKAGE}.operators.segment_jobs",
                    f"{PACKAGE}.operators.export_jobs",
                    f"{PACKAGE}.operators.schedules",
                    f"{PACKAGE}.operators.previews",
                    f"{PACKAGE}.operators.pql",
                    f"{PACKAGE}.operators.audiences",
                    f"{PACKAGE}.operators.size_check",
                ],
            }
        ],
        "sensors": [{"integration-name": INTEGRATION, "python-modules": [f"{PACKAGE}.sensors.segmentation"]}],
        "triggers": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [f"{PACKAGE}.triggers.segmentation", f"{PACKAGE}.triggers.events"],
            }
        ],
        "asset-uris": [
            {
                "schemes": ["aep"],
                "handler": f"{PACKAGE}.assets.sanitize_uri",
                "factory": f"{PACKAGE}.assets.create_asset",
                "to_openlineage_converter": f"{PACKAGE}.assets.convert_asset_to_openlineage",
            }
        ],
        "extra-links": [
            f"{PACKAGE}.links.AEPSegmentJobLink",
            f"{PACKAGE}.links.AEPSegmentDefinitionLink",
            f"{PACKAGE}.links.AEPExportJobLink",
        ],
        # the "AEP audiences" page (Airflow loads it with [core] lazy_discover_providers = False)
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": f"{PACKAGE}.hooks.segmentation.SegmentationHook",
                "hook-name": "Adobe Experience Platform",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            }
        ],
    }
