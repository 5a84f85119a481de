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
    "conf",
    "mask_secret",
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

# mask_secret: airflow.sdk.log since 3.1; 3.0.x keeps it in airflow.sdk.execution_time.secrets_masker.
if TYPE_CHECKING or AIRFLOW_V_3_1_PLUS:
    from airflow.sdk.log import mask_secret
else:
    from airflow.sdk.execution_time.secrets_masker import mask_secret

# amask_secret: since 3.3 (it tells the supervisor with an awaited send). Before, the synchronous
# masker runs in asgiref's worker thread: the triggerer's comms accept a synchronous send from there,
# never from the event loop's own thread.
if TYPE_CHECKING or AIRFLOW_V_3_3_PLUS:
    from airflow.sdk.log import amask_secret
else:

    async def amask_secret(secret: Any, name: str | None = None) -> None:
        await sync_to_async(mask_secret)(secret, name)


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
