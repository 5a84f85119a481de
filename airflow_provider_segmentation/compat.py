"""What differs between the Airflow 3 minors this provider supports (3.0 to 3.3), written once.

Each shim takes the newer API where the running Airflow has it, the older one before, and names the
Airflow release that brought the newer one. mypy reads the ``TYPE_CHECKING`` branch (the newest API);
the other branch runs only on older Airflow. Everything else the package takes from Airflow has one
import path in all of 3.0-3.3 and is imported directly: ``BaseOperator``, ``BaseSensorOperator``,
``PokeReturnValue``, ``Context``, ``Param``, ``dag``/``task``, ``BaseOperatorLink``, ``Connection``
(``airflow.sdk``), ``XCom`` (``airflow.sdk.execution_time.xcom``), ``BaseTrigger``/``BaseEventTrigger``/
``TriggerEvent`` (``airflow.triggers.base``) and ``RuntimeTaskInstance.get_task_states``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async

from airflow import __version__ as _airflow_version

if TYPE_CHECKING:
    from airflow.sdk import Connection

__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_V_3_2_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "HITL_AVAILABLE",
    "AirflowSkipException",
    "BaseHook",
    "aget_connection",
    "alias_event_extra",
    "amask_secret",
    "asset_state_store",
    "can_read_dags",
    "conf",
    "mask_secret",
    "plugin_user_dependency",
]

# The release's own numbers: 3.1.0rc1 and 3.2.0.dev0 count as 3.1.0 and 3.2.0.
AIRFLOW_VERSION: tuple[int, ...] = tuple(int(part) for part in re.findall(r"\d+", _airflow_version)[:3])
AIRFLOW_V_3_1_PLUS = AIRFLOW_VERSION >= (3, 1)
AIRFLOW_V_3_2_PLUS = AIRFLOW_VERSION >= (3, 2)
AIRFLOW_V_3_3_PLUS = AIRFLOW_VERSION >= (3, 3)

# BaseHook: in airflow.sdk since 3.1; 3.0 has it in airflow-core only.
if TYPE_CHECKING or AIRFLOW_V_3_1_PLUS:
    from airflow.sdk import BaseHook
else:
    from airflow.hooks.base import BaseHook

# AirflowSkipException: airflow.sdk.exceptions since 3.2; airflow.exceptions before.
if TYPE_CHECKING or AIRFLOW_V_3_2_PLUS:
    from airflow.sdk.exceptions import AirflowSkipException
else:
    from airflow.exceptions import AirflowSkipException

# Human-in-the-loop operators (providers-standard's operators.hitl): Airflow 3.1+. On 3.0 a recent
# standard provider ships the module, but its operators refuse to run.
HITL_AVAILABLE = (
    AIRFLOW_V_3_1_PLUS and importlib.util.find_spec("airflow.providers.standard.operators.hitl") is not None
)

# conf: the Task SDK's own configuration since 3.2 (airflow.sdk.conf); airflow-core's before.
if TYPE_CHECKING or AIRFLOW_V_3_2_PLUS:
    from airflow.sdk import conf
else:
    from airflow.configuration import conf

# Airflow's maskers: mask_secret in airflow.sdk.log and the process's masker in airflow.sdk._shared since
# 3.1; 3.0.x keeps both in airflow.sdk.execution_time.secrets_masker. amask_secret (an awaited send to
# the supervisor) came in 3.3; before, the synchronous one runs in asgiref's worker thread: the
# triggerer's comms accept a synchronous send from there, never from the event loop's own thread.
if TYPE_CHECKING or AIRFLOW_V_3_1_PLUS:
    from airflow.sdk._shared.secrets_masker import _secrets_masker
    from airflow.sdk.log import mask_secret as _airflow_mask_secret
else:
    from airflow.sdk.execution_time.secrets_masker import _secrets_masker
    from airflow.sdk.execution_time.secrets_masker import mask_secret as _airflow_mask_secret

if TYPE_CHECKING or AIRFLOW_V_3_3_PLUS:
    from airflow.sdk.log import amask_secret as _airflow_amask_secret
else:

    async def _airflow_amask_secret(secret: Any, name: str | None = None) -> None:
        await sync_to_async(_airflow_mask_secret)(secret, name)


def _supervisor_in_this_process() -> bool:
    """True under ``airflow dags test`` / ``dag.test()``: there the supervisor runs in the task's process.

    Its comms (``InProcessSupervisorComms``, 3.0-3.3) log every request with its body at DEBUG, and the
    masker does not look inside the message, so Airflow's ``mask_secret`` prints
    ``Sending request msg=MaskSecret(value='<the secret>')``. The supervisor there shares this process's
    masker, so telling it is needless. A real supervisor (a worker's or the triggerer's) logs a
    ``MaskSecret`` without its body ("(body omitted)", 3.0-3.3) and must be told: it masks what the task
    prints to stdout and stderr.
    """
    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    supervisor = sys.modules.get("airflow.sdk.execution_time.supervisor")
    comms = getattr(runner, "SUPERVISOR_COMMS", None)
    return comms is not None and isinstance(comms, getattr(supervisor, "InProcessSupervisorComms", ()))


def mask_secret(secret: str) -> None:
    """Hide ``secret`` (a client secret, a token) in every log of this task, its supervisor's included,
    without a log line that shows it (see ``_supervisor_in_this_process``)."""
    if _supervisor_in_this_process():
        _secrets_masker().add_mask(secret)
    else:
        _airflow_mask_secret(secret)


async def amask_secret(secret: str) -> None:
    """``mask_secret`` for async code (triggers): never blocks the event loop."""
    if _supervisor_in_this_process():
        _secrets_masker().add_mask(secret)
    else:
        await _airflow_amask_secret(secret)


def _masks_connections_asynchronously() -> bool:
    """``BaseHook.aget_connection`` came in 3.1, but until 3.3.2 (which added ``Connection.aextra_dejson``)
    it masked the connection's secrets with a synchronous supervisor call from the event loop."""
    from airflow.sdk import Connection

    return hasattr(Connection, "aextra_dejson")


_ASYNC_CONNECTIONS = _masks_connections_asynchronously()


async def aget_connection(conn_id: str, hook: type[BaseHook] | BaseHook = BaseHook) -> Connection:
    """Read a connection from async code without blocking the event loop, on every Airflow 3.

    ``hook.aget_connection`` on Airflow 3.3.2+; before, the synchronous ``hook.get_connection`` in
    asgiref's worker thread (as Airflow's own ``providers.common.compat`` does). On 3.0 the result is
    airflow-core's ``Connection``, which has the same fields.
    """
    if _ASYNC_CONNECTIONS:
        return await hook.aget_connection(conn_id)
    connection: Connection = await sync_to_async(hook.get_connection)(conn_id)
    return connection


def alias_event_extra(extra: dict[str, Any]) -> dict[str, Any]:
    """An asset event's extra as Airflow can record it when emitted through an ``AssetAlias``.

    Airflow 3.0 hashes the extra's items (``frozenset(extra.items())``) while it records alias events,
    so a list in it fails the task's final state update; there list values travel comma-joined
    (``"a,b"``) and objects as JSON text. 3.1+ records any JSON as it is.
    """
    if AIRFLOW_V_3_1_PLUS:
        return extra
    return {
        key: ",".join(map(str, value))
        if isinstance(value, list | tuple)
        else json.dumps(value, sort_keys=True)
        if isinstance(value, dict)
        else value
        for key, value in extra.items()
    }


def asset_state_store(trigger: object) -> Any | None:
    """The state store of the assets an event trigger watches: the triggerer injects it as
    ``trigger.asset_state_store`` since Airflow 3.3; None before (and outside a triggerer)."""
    return getattr(trigger, "asset_state_store", None)


# -- the UI plugin (ui/): api-server internals rather than the SDK's public interface, imported when
# a request needs them (the same paths in 3.0-3.3).


def plugin_user_dependency() -> Any:
    """The api-server's own FastAPI dependency for the user of a request (``core_api.security.get_user``).

    Airflow does not protect a plugin's FastAPI app: each endpoint must depend on this. It reads the
    ``Authorization: Bearer`` header, else (3.1+) the ``_token`` cookie that the UI's login sets, which a
    same-origin page (the iframe of an external view) sends by itself; 401 without a valid token.
    """
    from airflow.api_fastapi.core_api.security import get_user

    return get_user


def can_read_dags(user: Any) -> bool:
    """True when the auth manager lets ``user`` read DAGs (what Airflow's Viewer role has)."""
    from airflow.api_fastapi.app import get_auth_manager

    return bool(get_auth_manager().is_authorized_dag(method="GET", user=user))
