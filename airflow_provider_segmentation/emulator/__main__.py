"""``python -m airflow_provider_segmentation.emulator`` (console script ``aep-emulator``).

``--help`` is the emulator's guide (the package docstring) followed by AEP's rules it enforces.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import uvicorn

from airflow_provider_segmentation.emulator.app import create_app
from airflow_provider_segmentation.emulator.gateway import exposure_warning
from airflow_provider_segmentation.emulator.history import changed_history
from airflow_provider_segmentation.emulator.server import choose_port, connection_json
from airflow_provider_segmentation.emulator.settings import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_ORG_ID,
    PROFILE_DATASET_ID,
    EmulatorSettings,
)

RULES_HELP = """\
AEP's rules, enforced by default (switch each with PATCH /_emulator/settings {"rules": {...}}):
  at most 20 ids per on-demand segment job               enforce_on_demand_ids
  2 on-demand runs per sandbox per UTC day (emulator     enforce_on_demand_quota, daily_on_demand_runs,
    clock), 50 (production) / 100 (development) a         yearly_on_demand_runs, production_sandboxes
    contract year; scheduled and run-all jobs not counted  (default ["prod"]), contract_start ("01-01")
  job ids must be batch, people-based, Segmentation      on_demand_origin_checks (refuse|drop|off)
    Service audiences
  ineligible streaming/edge definitions stored as batch  resolve_evaluation_method
  a schedule fires at most once a day                    schedule_once_a_day
  at most 50 account audiences per sandbox               account_audience_limit
Not enforced: one Active-on-Edge merge policy per sandbox (the emulator has no merge policies).
Refusals answer rule_refusal_status (default 400) with error_code rule_refusal_error_code (default the
rule id): Adobe documents no status or body for them, so both defaults are assumptions.
"""


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The guide's layout kept as written, and every option's default shown."""


def parse_args(argv: list[str] | None = None) -> EmulatorSettings:
    import airflow_provider_segmentation.emulator as package

    guide = (package.__doc__ or "").split("\n", 2)[2]  # the guide, after its one-line summary
    parser = argparse.ArgumentParser(
        prog="aep-emulator",
        usage="aep-emulator [options]\n       "
        "aep-emulator demo [--dags-folder DIR]  (default: ./example_dags)",
        description="A local Adobe Experience Platform Segmentation Service and IMS, for tests, demos and "
        "CI.\n\ncommands:\n  (none)  serve the emulator\n  demo    run the example audience pipeline DAG "
        "end to end on a fresh emulator (make demo)",
        epilog=guide + "\n" + RULES_HELP,
        formatter_class=HelpFormatter,
    )
    defaults = EmulatorSettings()
    parser.add_argument("--host", default=defaults.host, help="address to listen on")
    parser.add_argument("--port", type=int, default=defaults.port, help="port (0: any free port)")
    parser.add_argument(
        "--profiles", type=int, default=defaults.profiles, help="synthetic profiles (1 to 1,000,000)"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the synthetic profile store")
    parser.add_argument(
        "--job-step-seconds",
        type=float,
        default=defaults.job_step_seconds,
        help="time a job spends in each non-terminal status",
    )
    parser.add_argument(
        "--token-lifetime", type=int, default=defaults.token_lifetime_seconds, help="IMS token lifetime (s)"
    )
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID, help="the credential IMS accepts")
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET, help="its secret (public default)")
    parser.add_argument("--org-id", default=DEFAULT_ORG_ID, help="the IMS org")
    parser.add_argument(
        "--sandbox",
        action="append",
        dest="sandboxes",
        default=argparse.SUPPRESS,
        help=f"a sandbox name, repeatable (default: {' '.join(defaults.sandboxes)})",
    )
    parser.add_argument(
        "--growth-per-day",
        type=float,
        default=defaults.history.growth_per_day,
        help="history.growth_per_day: new profiles a day, as a share of the starting ones",
    )
    parser.add_argument(
        "--churn-per-day",
        type=float,
        default=defaults.history.churn_per_day,
        help="history.churn_per_day: starting profiles that leave a day, same unit",
    )
    parser.add_argument(
        "--ingestion-drop",
        default=None,
        help='history.ingestion_drop as JSON, e.g. \'{"day": "2026-12-10", "fraction": 0.9}\'',
    )
    args = parser.parse_args(argv)
    if not 1 <= args.profiles <= 1_000_000:
        parser.error("--profiles must be between 1 and 1,000,000")
    try:
        history = changed_history(
            defaults.history,
            {
                "growth_per_day": args.growth_per_day,
                "churn_per_day": args.churn_per_day,
                "ingestion_drop": json.loads(args.ingestion_drop) if args.ingestion_drop else None,
            },
        )
    except ValueError as exc:  # json.JSONDecodeError is one
        parser.error(f"--growth-per-day, --churn-per-day or --ingestion-drop: {exc}")
    return EmulatorSettings(
        host=args.host,
        port=args.port,
        client_id=args.client_id,
        client_secret=args.client_secret,
        org_id=args.org_id,
        sandboxes=tuple(getattr(args, "sandboxes", defaults.sandboxes)),
        token_lifetime_seconds=args.token_lifetime,
        job_step_seconds=args.job_step_seconds,
        profiles=args.profiles,
        seed=args.seed,
        history=history,
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["demo"]:
        return run_demo(args[1:])
    settings = parse_args(args)
    choose_port(settings)
    app = create_app(settings)
    url = f"http://{settings.host}:{settings.port}"
    print(
        f"AEP emulator on {url} (sandboxes: {', '.join(settings.sandboxes)}; "
        f"{settings.profiles} profiles, seed {settings.seed})"
    )
    print(f"Profile export dataset: {PROFILE_DATASET_ID}")
    print(f"export AEP_EXPORT_DATASET_ID={PROFILE_DATASET_ID}")
    print(
        f"export AIRFLOW_CONN_AEP_DEFAULT='{connection_json(settings, url, settings.sandboxes[0])}'",
        flush=True,
    )
    warning = exposure_warning(settings)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level="warning", access_log=False, date_header=False
    )
    return 0


def run_demo(argv: list[str]) -> int:
    """``aep-emulator demo [--dags-folder DIR]``: the example pipeline, end to end, on a fresh emulator."""
    from airflow_provider_segmentation.emulator.demo import main as demo

    parser = argparse.ArgumentParser(
        prog="aep-emulator demo", description=run_demo.__doc__, formatter_class=HelpFormatter
    )
    parser.add_argument(
        "--dags-folder", type=Path, default=Path("example_dags"), help="the example DAGs folder"
    )
    return demo(parser.parse_args(argv).dags_folder)


if __name__ == "__main__":
    sys.exit(main())
