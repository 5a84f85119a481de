"""Gate on audience sizes: the latest size of each audience against its own recent history in AEP."""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import Context

from airflow_provider_segmentation.client import (
    AEPValidationError,
    check_limits,
    check_max_jobs,
    validate_ids,
    validate_names,
)
from airflow_provider_segmentation.compat import AirflowSkipException
from airflow_provider_segmentation.mixins import is_template
from airflow_provider_segmentation.operators.base import AEPBaseOperator
from airflow_provider_segmentation.operators.segment_jobs import resolve_ids

if TYPE_CHECKING:
    from airflow_provider_segmentation.size_history import SizeVerdict

VERDICTS_XCOM_KEY = "aep_size_verdicts"


class AEPCheckAudienceSizeOperator(AEPBaseOperator):
    """Fail (or skip, with ``soft_fail``) when an audience's latest size dropped or rose beyond the
    limits against the median of its last ``window`` evaluations in AEP (its SUCCEEDED segment jobs).

    A static band (``min_size``/``max_size``) does not see a broken ingestion: 90,000 profiles tonight
    for an audience of 1.2 million is inside any band set by hand. Returns one verdict per audience
    (``segment_id, latest, baseline, change, history, judged, ok, message``); they are also pushed as
    XCom ``aep_size_verdicts`` before the task fails.

    :param segment_ids: the audiences (segment definition ids) to check
    :param segment_names: exact definition names instead of ids
    :param latest_from: the result of an ``AEPRunSegmentJobOperator`` (``evaluate.output``): its
        ``segment_counts`` are the latest sizes (and, with neither ids nor names, the audiences to check);
        by default the latest size is the newest point in AEP's history
    :param window: how many earlier evaluations the median is taken over
    :param min_history: fewer earlier evaluations than this: not judged (passes, and says so)
    :param max_drop: the largest allowed drop below the median (0.5 = half)
    :param max_rise: the largest allowed rise above the median (1.0 = double)
    :param min_abs_change: a change of fewer profiles than this is never an anomaly (tiny audiences)
    :param soft_fail: skip the task instead of failing it
    :param max_jobs: how many of AEP's latest SUCCEEDED segment jobs to read (100 per request)
    """

    template_fields: Sequence[str] = ("segment_ids", "segment_names", "latest_from", "sandbox")

    def __init__(
        self,
        *,
        segment_ids: Sequence[str] | None = None,
        segment_names: Sequence[str] | None = None,
        latest_from: Any = None,
        window: int = 7,
        min_history: int = 3,
        max_drop: float = 0.5,
        max_rise: float = 1.0,
        min_abs_change: int = 0,
        soft_fail: bool = False,
        max_jobs: int = 200,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if segment_ids is not None and segment_names is not None:
            raise AEPValidationError("pass at most one of segment_ids and segment_names", field="segment_ids")
        if segment_ids is None and segment_names is None and latest_from is None:
            raise AEPValidationError(
                "pass segment_ids or segment_names (or latest_from, a segment job's result)",
                field="segment_ids",
            )
        if segment_ids is not None and not is_template(segment_ids):
            validate_ids(segment_ids, field_name="segment_ids")
        if segment_names is not None and not is_template(segment_names):
            validate_names(segment_names)
        check_limits(
            window=window,
            min_history=min_history,
            max_drop=max_drop,
            max_rise=max_rise,
            min_abs_change=min_abs_change,
        )
        check_max_jobs(max_jobs)
        self.segment_ids = segment_ids
        self.segment_names = segment_names
        self.latest_from = latest_from
        self.window = window
        self.min_history = min_history
        self.max_drop = max_drop
        self.max_rise = max_rise
        self.min_abs_change = min_abs_change
        self.soft_fail = soft_fail
        self.max_jobs = max_jobs

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from airflow_provider_segmentation.size_history import AEPSizeAnomalyError, read_size_history

        job_id, latest_sizes = _latest_sizes(self.latest_from)
        if self.segment_ids is None and self.segment_names is None:
            ids = validate_ids(list(latest_sizes), field_name="latest_from")
        else:
            ids = resolve_ids(self.hook.client, self.segment_ids, self.segment_names)
        names = dict(zip(ids, self.segment_names, strict=True)) if self.segment_names is not None else {}
        missing = [i for i in ids if latest_sizes and i not in latest_sizes]
        if missing:
            raise AEPValidationError(
                f"latest_from (job {job_id}) holds no size for {', '.join(missing)}: pass the result of the "
                "segment job that evaluated these audiences",
                field="latest_from",
            )
        history = read_size_history(self.hook.client, segment_ids=ids, max_jobs=self.max_jobs)
        verdicts = []
        for segment_id in ids:
            series = [p for p in history.get(segment_id, []) if p.job_id != job_id]
            latest = latest_sizes.get(segment_id)
            if latest is None and series:
                latest = series.pop().total
            verdicts.append(
                self._verdict(segment_id, latest, [p.total for p in series], names.get(segment_id))
            )
        for verdict in verdicts:
            self.log.info("%s", verdict.message)
        result = [v.to_dict() for v in verdicts]
        failed = [v.message for v in verdicts if not v.ok]
        if failed:
            context["ti"].xcom_push(key=VERDICTS_XCOM_KEY, value=result)
            message = "; ".join(failed)
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AEPSizeAnomalyError(message)
        return result

    def _verdict(
        self, segment_id: str, latest: int | None, history: list[int], name: str | None
    ) -> SizeVerdict:
        from airflow_provider_segmentation.size_history import SizeVerdict, judge_size

        if latest is None:
            who = f"audience {name!r} ({segment_id})" if name else f"audience {segment_id!r}"
            message = (
                f"{who}: not judged: no SUCCEEDED evaluation among AEP's last {self.max_jobs} segment jobs"
            )
            return SizeVerdict(segment_id, None, None, None, (), judged=False, ok=True, message=message)
        return judge_size(
            segment_id,
            latest,
            history,
            window=self.window,
            min_history=self.min_history,
            max_drop=self.max_drop,
            max_rise=self.max_rise,
            min_abs_change=self.min_abs_change,
            name=name,
        )


def _latest_sizes(result: Any) -> tuple[str | None, dict[str, int]]:
    """The job id and ``{segment_id: total}`` of a segment job operator's result (its XCom), as a
    mapping or as rendered text (JSON, or the Python literal Jinja renders a dict to); None: none."""
    if result is None:
        return None, {}
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError:
            try:
                result = ast.literal_eval(result)
            except (ValueError, SyntaxError):
                result = None
    counts = result.get("segment_counts") if isinstance(result, Mapping) else None
    if not isinstance(counts, Mapping) or not counts:
        raise AEPValidationError(
            "latest_from must be the result of an AEPRunSegmentJobOperator (latest_from=evaluate.output), "
            f"with its segment_counts; got {str(result)[:200]!r}",
            field="latest_from",
        )
    sizes: dict[str, int] = {}
    for segment_id, count in counts.items():
        total = count.get("total") if isinstance(count, Mapping) else None
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise AEPValidationError(
                f"latest_from's segment_counts[{segment_id!r}] has no total profile count: got {count!r}",
                field="latest_from",
            )
        sizes[str(segment_id)] = total
    job_id = result.get("job_id")
    return (str(job_id) if job_id else None), sizes
