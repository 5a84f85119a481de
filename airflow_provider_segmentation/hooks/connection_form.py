"""The ``adobe_experience_platform`` connection form, declared once in both formats Airflow reads.

The sandbox name lives in the connection's standard ``schema`` field (relabelled "Sandbox name"), not
in the extra: Airflow masks every value of a connection's extra in all logs, so a sandbox named
``prod`` was both hidden from logs and reported by Airflow as "too short to mask" in every task.

Airflow 3.2+ reads ``conn-fields`` and ``ui-field-behaviour`` from provider info; Airflow 3.0-3.1 calls
the hook's ``get_connection_form_widgets()`` / ``get_ui_field_behaviour()``, built from the same dicts.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_segmentation.client import DEFAULT_IMS_HOST, DEFAULT_PLATFORM_HOST, DEFAULT_SCOPES

CONN_TYPE = "adobe_experience_platform"

CONN_FIELDS: dict[str, dict[str, Any]] = {
    "ims_org_id": {
        "label": "Organization ID",
        "description": "Organization ID of the Developer Console project, e.g. 1234ABCD5678@AdobeOrg",
        "schema": {"type": ["string", "null"]},
    },
    "scopes": {
        "label": "Scopes",
        "description": "Comma-separated scopes of the OAuth Server-to-Server credential",
        "schema": {"type": ["string", "null"], "default": DEFAULT_SCOPES},
    },
    "ims_host": {
        "label": "IMS host",
        "description": "Adobe IMS token host",
        "schema": {"type": ["string", "null"], "default": DEFAULT_IMS_HOST},
    },
    "platform_host": {
        "label": "Platform host",
        "description": "Adobe Experience Platform API gateway",
        "schema": {"type": ["string", "null"], "default": DEFAULT_PLATFORM_HOST},
    },
    # AEP's on-demand evaluation allowance (client.config.rules_settings reads and checks these)
    "aep_rules": {
        "label": "AEP rules",
        "description": "enforce (refuse what AEP's rules refuse, before sending), warn (log, send) or off",
        "schema": {"type": ["string", "null"], "default": "enforce"},
    },
    "sandbox_type": {
        "label": "Sandbox type",
        "description": "production (50 on-demand runs a contract year) or development (100)",
        "schema": {"type": ["string", "null"], "default": "production"},
    },
    "on_demand_daily_runs": {
        "label": "On-demand runs per day",
        "description": "On-demand segment jobs allowed per sandbox per UTC day (AEP: 2)",
        "schema": {"type": ["string", "null"], "default": "2"},
    },
    "on_demand_yearly_runs": {
        "label": "On-demand runs per year",
        "description": "Per contract year; empty: the sandbox type's (50 or 100). Raise it for bought runs",
        "schema": {"type": ["string", "null"]},
    },
    "contract_start": {
        "label": "Contract anniversary",
        "description": "MM-DD on which the yearly allowance resets (default 01-01)",
        "schema": {"type": ["string", "null"], "default": "01-01"},
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["host", "port", "extra"],
    "relabeling": {"login": "Client ID", "password": "Client secret", "schema": "Sandbox name"},
    "placeholders": {
        "login": "Client ID of the OAuth Server-to-Server credential",
        "password": "Client secret of that credential",
        "schema": "prod (lowercase sandbox name; tasks may override it)",
        "ims_org_id": "1234ABCD5678@AdobeOrg",
        "scopes": DEFAULT_SCOPES,
        "ims_host": DEFAULT_IMS_HOST,
        "platform_host": DEFAULT_PLATFORM_HOST,
    },
}


def legacy_field_behaviour() -> dict[str, Any]:
    """``get_ui_field_behaviour()`` format (Airflow 3.0-3.1): snake_case keys."""
    return {
        "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden-fields"]),
        "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
        "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
    }


def legacy_form_widgets() -> dict[str, Any]:
    """``get_connection_form_widgets()`` format (Airflow 3.0-3.1): wtforms string fields."""
    try:
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import StringField
    except ImportError:
        # Only the Airflow 3.0/3.1 form path has the flask stack (the FAB provider). Without it there is
        # no custom widget to build: Airflow 3.2+ builds the form from provider info (CONN_FIELDS).
        return {}

    return {
        name: StringField(
            lazy_gettext(spec["label"]),
            widget=BS3TextFieldWidget(),
            description=spec["description"],
            default=spec["schema"].get("default"),
        )
        for name, spec in CONN_FIELDS.items()
    }
