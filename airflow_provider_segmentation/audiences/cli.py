"""``aep-audiences``: lint, plan and apply a folder of audience files from CI, without Airflow.

    aep-audiences lint DIR [--format text|github|json]
    aep-audiences plan DIR --sandbox S [--project P] [--prune] [--adopt] [--out plan.json] [--json]
    aep-audiences apply DIR --sandbox S [--project P] [--prune] [--adopt] [--json]
    aep-audiences apply --plan plan.json [--sandbox S]
    aep-audiences schema

Exit codes, so that ``set -e`` and CI steps work:

- ``lint``: 0 no problems, 1 problems (also a ``streaming``/``edge`` audience that AEP would evaluate as
  batch: AEP would accept it and downgrade it silently);
- ``plan``: 0 no changes, 2 changes to make (``terraform plan -detailed-exitcode``), 1 error (also a plan
  that would take the sandbox past a hard guardrail, e.g. 50 account audiences; soft ones only warn);
- ``apply``: 0 when everything asked was applied (or nothing was to do), 1 on any failure (problems in the
  files, a conflict, a stale plan, a change AEP refused: what was made stays made, and the same apply
  resumes), and 1 when AEP stored an audience with another evaluation than the file declares (a silent
  downgrade: the changes are made, but the sandbox does not do what the files say, and every later plan
  shows the drift; fix the file and apply again). Up to 0.1.0 ``apply`` exited 2 when it made changes;
  a CI script that tested for 2 now sees 0.

Usage errors exit 1 as well (argparse's 2 would read as "changes"). The connection is read from the
environment (see ``audiences.connection``); ``--conn-id`` names it (default ``aep_default``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from airflow_provider_segmentation.audiences import SCHEMA_PATH, lint
from airflow_provider_segmentation.audiences.applying import ApplyResult, apply
from airflow_provider_segmentation.audiences.connection import config_from_environment
from airflow_provider_segmentation.audiences.errors import AudienceLintError
from airflow_provider_segmentation.audiences.planning import check_project, plan
from airflow_provider_segmentation.audiences.plans import Plan
from airflow_provider_segmentation.client import AEPError, SegmentationClient

OK, ERROR, CHANGES = 0, 1, 2
EXIT_CODES = """exit codes:
  lint   0 no problems, 1 problems in the files (also streaming/edge declared for a batch-only expression)
  plan   0 no changes, 2 changes to make, 1 error (also a hard sandbox guardrail; soft ones warn)
  apply  0 applied everything asked (or nothing to do), 1 any failure (what was made stays; apply again),
         also when AEP downgraded an audience's evaluation (made, but not as the files declare)"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse exits 2, which here means "changes"
        self.print_usage(sys.stderr)
        self.exit(ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="aep-audiences",
        description="Audiences as code for the Adobe Experience Platform: lint, plan and apply a folder "
        "of YAML audience files.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    linting = _command(commands, "lint", "check the files offline (YAML, keys, names, PQL)")
    linting.add_argument("folder", help="the folder of audience files")
    linting.add_argument("--format", choices=("text", "github", "json"), default="text")
    for name, text in (
        ("plan", "compare the files with a sandbox; nothing is written"),
        ("apply", "make the sandbox match the files (or apply a saved plan)"),
    ):
        command = _command(commands, name, text)
        command.add_argument(
            "folder", nargs="?" if name == "apply" else None, help="the folder of audience files"
        )
        command.add_argument("--sandbox", help="the sandbox to plan against, e.g. dev or prod")
        command.add_argument("--project", default="default", help="ownership scope (default: default)")
        command.add_argument("--prune", action="store_true", help="delete managed definitions without a file")
        command.add_argument(
            "--adopt", action="store_true", help="manage unmanaged definitions of the same name"
        )
        command.add_argument("--conn-id", default="aep_default", help="connection id (AIRFLOW_CONN_<ID>)")
        command.add_argument("--json", action="store_true", help="print JSON instead of text")
    commands.choices["plan"].add_argument("--out", help="also write the plan (JSON) to this file")
    commands.choices["apply"].add_argument("--plan", dest="plan_file", help="apply this saved plan (JSON)")
    commands.choices["apply"].add_argument("--max-rounds", type=int, default=5, help=argparse.SUPPRESS)
    commands.add_parser("schema", help="print the JSON Schema of an audience file")
    return parser


def _command(commands: Any, name: str, text: str) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` ends with the exit codes."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=text, epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (1)
        return exc.code if isinstance(exc.code, int) else ERROR
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s: %(message)s")
    logging.getLogger("airflow_provider_segmentation.audiences").setLevel(logging.INFO)
    try:
        if args.command == "lint":
            return _lint(args)
        if args.command == "schema":
            print(SCHEMA_PATH.read_text(encoding="utf-8"), end="")
            return OK
        return _plan(args) if args.command == "plan" else _apply(args)
    except AudienceLintError as exc:
        for issue in exc.issues:
            print(str(issue), file=sys.stderr)
        print(f"{len(exc.issues)} problem(s) in the audience files", file=sys.stderr)
        return ERROR
    except AEPError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ERROR
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ERROR


def _lint(args: argparse.Namespace) -> int:
    issues = lint(args.folder)
    if args.format == "json":
        print(json.dumps([i.to_dict() for i in issues], indent=2))
    else:
        for issue in issues:
            print(issue.github() if args.format == "github" else str(issue))
        print(f"{len(issues)} problem(s)" if issues else f"{args.folder}: no problems", file=sys.stderr)
    return ERROR if issues else OK


def _client(args: argparse.Namespace, sandbox: str | None) -> SegmentationClient:
    return SegmentationClient(config_from_environment(args.conn_id, sandbox=sandbox))


def _require_sandbox(args: argparse.Namespace) -> str:
    if not args.sandbox:
        raise ValueError(f"{args.command} needs --sandbox (e.g. --sandbox dev): the sandbox is never guessed")
    return str(args.sandbox)


def _plan(args: argparse.Namespace) -> int:
    sandbox = _require_sandbox(args)
    check_project(args.project)
    made = plan(
        args.folder, _client(args, sandbox), sandbox, project=args.project, prune=args.prune, adopt=args.adopt
    )
    _show(args, made.to_dict(), made.render())
    if args.out:
        Path(args.out).write_text(json.dumps(made.to_dict(), indent=2) + "\n", encoding="utf-8")
        print(
            f"Saved the plan to {args.out}; apply it with: aep-audiences apply --plan {args.out}",
            file=sys.stderr,
        )
    if made.conflicts:
        return ERROR
    return CHANGES if made.has_changes else OK


def _apply(args: argparse.Namespace) -> int:
    if args.plan_file:
        saved = Plan.from_dict(json.loads(Path(args.plan_file).read_text(encoding="utf-8")))
        if args.sandbox and args.sandbox != saved.sandbox:
            raise ValueError(f"the plan is for sandbox '{saved.sandbox}', not '{args.sandbox}'")
        chosen = saved
        client = _client(args, saved.sandbox)
    else:
        if not args.folder:
            raise ValueError("apply needs the folder of audience files, or --plan with a saved plan")
        sandbox = _require_sandbox(args)
        check_project(args.project)
        client = _client(args, sandbox)
        chosen = plan(args.folder, client, sandbox, project=args.project, prune=args.prune, adopt=args.adopt)
        if not args.json:
            print(chosen.render())
            print()
    if not chosen.has_changes and not chosen.conflicts:
        _show(args, ApplyResult(chosen).to_dict(), "Nothing to apply.")
        return OK
    result = apply(chosen, client, max_rounds=args.max_rounds)  # raises unless every change is made
    _show(args, result.to_dict(), result.render())
    return ERROR if result.downgrades else OK


def _show(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
