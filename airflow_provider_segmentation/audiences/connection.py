"""The AEP connection for the ``aep-audiences`` command, read without Airflow.

The same connection Airflow uses, from the environment:

1. ``AIRFLOW_CONN_<CONN_ID>`` (default ``AIRFLOW_CONN_AEP_DEFAULT``) as JSON
   (``{"conn_type": "adobe_experience_platform", "login": ..., "password": ..., "schema": "<sandbox>",
   "extra": {"ims_org_id": ..., "ims_host": ..., "platform_host": ..., "scopes": ...}}``) or as a URI
   (``adobe-experience-platform://<client id>:<secret>@/<sandbox>?ims_org_id=...``, values URL-encoded);
2. otherwise ``AEP_CLIENT_ID``, ``AEP_CLIENT_SECRET``, ``AEP_ORG_ID`` and, optionally, ``AEP_SANDBOX``,
   ``AEP_SCOPES``, ``AEP_IMS_HOST``, ``AEP_PLATFORM_HOST``.

Fields mean what the Airflow connection form says (``hooks/connection_form``); messages never repeat a
value, so a secret in a malformed variable does not reach a CI log.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from airflow_provider_segmentation.client import (
    DEFAULT_IMS_HOST,
    DEFAULT_PLATFORM_HOST,
    DEFAULT_SCOPES,
    AEPConfigurationError,
    ClientConfig,
)

CONN_TYPE = "adobe_experience_platform"
ENVIRONMENT = {
    "client_id": "AEP_CLIENT_ID",
    "client_secret": "AEP_CLIENT_SECRET",
    "org_id": "AEP_ORG_ID",
    "sandbox": "AEP_SANDBOX",
    "scopes": "AEP_SCOPES",
    "ims_host": "AEP_IMS_HOST",
    "platform_host": "AEP_PLATFORM_HOST",
}


def env_name(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def parse_connection(value: str, *, source: str) -> dict[str, Any]:
    """``{"login", "password", "schema", "extra": {...}}`` from an Airflow connection in JSON or URI form."""
    text = value.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise AEPConfigurationError(f"{source} is not valid JSON", field=source) from None
        if not isinstance(data, dict):
            raise AEPConfigurationError(f"{source} must be a JSON object", field=source)
        extra = data.get("extra") or {}
    else:
        try:
            parts = urlsplit(text)
            username, password = parts.username, parts.password
        except ValueError:
            raise AEPConfigurationError(
                f"{source} is neither JSON nor a connection URI", field=source
            ) from None
        if not parts.scheme:
            raise AEPConfigurationError(f"{source} is neither JSON nor a connection URI", field=source)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        extra = query.get("__extra__") or {k: v for k, v in query.items()}
        data = {
            "conn_type": parts.scheme.replace("-", "_"),
            "login": unquote(username) if username else None,
            "password": unquote(password) if password else None,
            "schema": unquote(parts.path[1:]) if parts.path else None,
        }
    if isinstance(extra, str):
        try:
            extra = json.loads(extra) if extra.strip() else {}
        except ValueError:
            raise AEPConfigurationError(f"the extra of {source} is not valid JSON", field=source) from None
    if not isinstance(extra, Mapping):
        raise AEPConfigurationError(f"the extra of {source} must be a JSON object", field=source)
    conn_type = data.get("conn_type")
    if conn_type not in (None, CONN_TYPE):
        raise AEPConfigurationError(
            f"{source} is a {conn_type!r} connection, not {CONN_TYPE!r}", field=source
        )
    prefix = f"extra__{CONN_TYPE}__"
    fields = {key.removeprefix(prefix): value for key, value in extra.items()}
    return {
        "login": data.get("login"),
        "password": data.get("password"),
        "schema": data.get("schema"),
        "extra": fields,
    }


def _text(value: Any) -> str | None:
    return str(value).strip() if value not in (None, "") and str(value).strip() else None


def config_from_environment(
    conn_id: str = "aep_default", *, sandbox: str | None = None, environ: Mapping[str, str] | None = None
) -> ClientConfig:
    """The client config of ``conn_id`` (or of the ``AEP_*`` variables); ``sandbox`` overrides its sandbox."""
    env = os.environ if environ is None else environ
    name = env_name(conn_id)
    if env.get(name, "").strip():
        conn = parse_connection(env[name], source=name)
        extra = conn["extra"]
        values = {
            "client_id": _text(conn["login"]),
            "client_secret": conn["password"] or "",
            "org_id": _text(extra.get("ims_org_id")),
            "sandbox": _text(conn["schema"]) or _text(extra.get("sandbox")),
            "scopes": _text(extra.get("scopes")),
            "ims_host": _text(extra.get("ims_host")),
            "platform_host": _text(extra.get("platform_host")),
        }
        where = name
    elif env.get(ENVIRONMENT["client_id"], "").strip():
        values = {key: _text(env.get(variable)) for key, variable in ENVIRONMENT.items()}
        values["client_secret"] = env.get(ENVIRONMENT["client_secret"], "")
        where = "the AEP_* environment variables"
    else:
        raise AEPConfigurationError(
            f"no AEP connection: set {name} (the Airflow connection as JSON or URI) or AEP_CLIENT_ID, "
            "AEP_CLIENT_SECRET and AEP_ORG_ID",
            field="connection",
        )
    chosen = sandbox or values["sandbox"]
    if not chosen:
        raise AEPConfigurationError(
            f"no sandbox: pass --sandbox, or set the sandbox in {where} (schema field / AEP_SANDBOX)",
            field="sandbox",
        )
    try:
        return ClientConfig(
            client_id=values["client_id"] or "",
            client_secret=values["client_secret"] or "",
            org_id=values["org_id"] or "",
            sandbox=chosen,
            scopes=values["scopes"] or DEFAULT_SCOPES,
            ims_host=values["ims_host"] or DEFAULT_IMS_HOST,
            platform_host=values["platform_host"] or DEFAULT_PLATFORM_HOST,
        )
    except AEPConfigurationError as exc:
        raise exc.with_message(f"{where}: {exc.message}") from None
