"""Sensors for jobs something else started: a segment job, an export job, a schedule's daily run.

Each works in ``poke`` or ``reschedule`` mode, or ``deferrable=True`` (the ``AEPJobTrigger``). A job
that AEP reports FAILED or CANCELLED fails the sensor at once instead of poking until the timeout.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue

from airflow_provider_segmentation.client import AEPValidationError, check_poll_interval, positive_seconds
from airflow_provider_segmentation.compat import conf
from airflow_provider_segmentation.kinds import JobKind
from airflow_provider_segmentation.mixins import AEPJobMixin, check_task_sandbox
from airflow_provider_segmentation.operators.schedules import nightly_schedule

# The waits and the job kinds' declarations (``client.JOB_TYPES``) are imported in ``execute``/``poke``:
# a DAG file's import of a sensor stays light (tests/airflow/test_parse_time_imports.py).


def sensor_seconds(value: timedelta | float, *, field_name: str) -> float:
    """A sensor's interval or timeout (seconds or a timedelta): finite and above zero, else a typed error.

    Airflow's own check lets ``inf`` and ``nan`` through, and then fails in its own code (OverflowError).
    """
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    return positive_seconds(seconds, field_name=field_name)


class _AEPSensor(AEPJobMixin, BaseSensorOperator):
    owns_job = False  # the job was started elsewhere: a sensor never cancels it

    def __init__(
        self,
        *,
        aep_conn_id: str = "aep_default",
        sandbox: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: timedelta | float = 60,
        timeout: timedelta | float | None = None,
        max_wait: timedelta | float | None = None,
        **kwargs: Any,
    ) -> None:
        # every poke (or trigger poll) is a GET to AEP: zero would spin
        poke_interval = sensor_seconds(poke_interval, field_name="poke_interval")
        # None leaves Airflow's default ([sensors] default_timeout; no max_wait): Airflow 3.0 refuses None
        given = {"timeout": timeout, "max_wait": max_wait}
        limits: dict[str, Any] = {
            name: sensor_seconds(v, field_name=name) for name, v in given.items() if v is not None
        }
        if "timeout" in limits:
            check_poll_interval(poke_interval, limits["timeout"], field_name="poke_interval")
        super().__init__(poke_interval=poke_interval, **limits, **kwargs)
        self.aep_conn_id = aep_conn_id
        self.sandbox = check_task_sandbox(sandbox)
        self.deferrable = deferrable

    @abstractmethod
    def watched_id(self, context: Context) -> str:
        """The id the trigger watches: a job id, or a schedule id."""

    @abstractmethod
    def poke(self, context: Context) -> bool | PokeReturnValue: ...

    def window_start(self, context: Context) -> float | None:
        """Epoch seconds from which a schedule's run counts; None for a sensor that watches one job."""
        return None

    def execute(self, context: Context) -> Any:
        from airflow_provider_segmentation.client import floored_poll_interval

        # every poke is a GET to AEP: at most one per MIN_POLL_INTERVAL_SECONDS on a real AEP host
        self.poke_interval = floored_poll_interval(
            float(self.poke_interval),
            platform_host=self.hook.config.platform_host,
            field_name="poke_interval",
        )
        if not self.deferrable:
            return super().execute(context)
        done = self.poke(context)
        if isinstance(done, PokeReturnValue) and done.is_done:
            return done.xcom_value
        self.defer_to_trigger(
            self.watched_id(context),
            poll_interval=float(self.poke_interval),
            timeout=float(self.timeout),
            window_start=self.window_start(context),
        )

    def resume(self, context: Context, job_id: str) -> Any:
        """The sensor's XCom value for the job that succeeded (read once more after a deferral)."""
        from airflow_provider_segmentation.client import job_type

        job = self.hook.read_job(self.job_kind, job_id)
        self.report_finished(job_id, job)
        return job_type(self.job_kind).summary(job)


class _AEPJobIdSensor(_AEPSensor):
    """Wait until the job ``job_id`` succeeds; returns its summary."""

    template_fields: Sequence[str] = ("job_id", "sandbox")

    def __init__(self, *, job_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id

    def watched_id(self, context: Context) -> str:
        return str(self.job_id)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        from airflow_provider_segmentation.client import Outcome, job_type

        watched, job_kind = self.watched_id(context), job_type(self.job_kind)
        job = self.hook.read_job(self.job_kind, watched)
        if job_kind.outcome(job, ident=watched) is Outcome.SUCCEEDED:
            return PokeReturnValue(True, job_kind.summary(job))
        self.log.info("%s %s is %s", self.job_kind.label.capitalize(), watched, job_kind.status_text(job))
        return False


class AEPSegmentJobSensor(_AEPJobIdSensor):
    """Wait until a segment job succeeds; returns its summary (counts per segment)."""

    job_kind = JobKind.SEGMENT_JOB


class AEPExportJobSensor(_AEPJobIdSensor):
    """Wait until an export job succeeds; returns its id, batches and exported profile count."""

    job_kind = JobKind.EXPORT_JOB


class AEPScheduledSegmentJobSensor(_AEPSensor):
    """Wait until the run of schedule ``schedule_id`` that belongs to this DAG run has succeeded.

    That run is the schedule's first segment job (``properties.scheduleId == schedule_id``) created at
    or after the start of this DAG run's window. The window is the DAG run's data interval when it has a
    length (``CronDataIntervalTimetable``, ``timedelta`` schedules). When the interval has no length, or
    there is none, the window starts ``lookback`` (default one day) before the run's time (its
    ``data_interval_end``, else ``run_after``, else its logical date): Airflow 3's default timetable for a
    cron string (``CronTriggerTimetable``) gives every run, scheduled or manual, a zero-length interval.

    For a DAG at 02:00 UTC watching a 01:00 UTC schedule, with the default ``lookback``:

    * daily: the 02:00 run looks from 02:00 the day before, so it finds that night's 01:00 run at once;
    * on unpause (``catchup=False``, the latest 02:00 runs at once): that night's run if the schedule
      already existed then; if the DAG has just created the schedule, none of its runs can be in the
      window yet, so the sensor waits for the schedule's next run (the coming 01:00);
    * on a manual run: the schedule's first run of the last ``lookback`` (so last night's run when it
      is less than a day old), or the next run if there is none yet.

    Without ``schedule_id`` it watches the sandbox's nightly batch evaluation (its active
    ``batch_segmentation`` schedule, found with one listing): export after it instead of spending an
    on-demand run.
    """

    template_fields: Sequence[str] = ("schedule_id", "sandbox")
    job_kind = JobKind.SCHEDULED_SEGMENT_JOB

    def __init__(
        self, *, schedule_id: str | None = None, lookback: timedelta = timedelta(days=1), **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(lookback, timedelta) or lookback < timedelta(0):
            raise AEPValidationError(
                f"lookback must be a non-negative timedelta, got {lookback!r}", field="lookback"
            )
        self.schedule_id = schedule_id
        self.lookback = lookback

    def watched_id(self, context: Context) -> str:
        if not self.schedule_id:
            self.schedule_id = nightly_schedule(self.hook).id
            self.log.info("Watching the sandbox's nightly batch evaluation, schedule %s", self.schedule_id)
        return str(self.schedule_id)

    def window_start(self, context: Context) -> float:
        start: datetime | None = context.get("data_interval_start")
        end: datetime | None = context.get("data_interval_end")
        if start is not None and end is not None and end > start:
            return start.timestamp()
        dag_run = context.get("dag_run")
        run_time = end or getattr(dag_run, "run_after", None) or context.get("logical_date")
        return ((run_time or datetime.now(timezone.utc)) - self.lookback).timestamp()

    def poke(self, context: Context) -> bool | PokeReturnValue:
        from airflow_provider_segmentation.client import Outcome, first_run_since, job_type

        schedule_id, runs_of = self.watched_id(context), job_type(self.job_kind)
        assert runs_of.runs is not None
        run = first_run_since(
            self.hook.client.paginate(runs_of.runs(schedule_id)), self.window_start(context)
        )
        if run is None:
            self.log.info("Schedule %s has no run in this window yet", schedule_id)
            return False
        if runs_of.outcome(run, ident=str(run.id)) is Outcome.SUCCEEDED:
            return PokeReturnValue(True, runs_of.summary(run))
        self.log.info("Scheduled run %s of schedule %s is %s", run.id, schedule_id, runs_of.status_text(run))
        return False
