"""`medtune policy check` and `medtune policy lint`: the typer sub-app `policy_app`.

Parsing and printing only: loading, compiling and deciding live in policy.py / engine.py, example checks in
lint.py. Errors are MedtuneError subclasses; the top-level CLI prints them without a traceback (exit 2 for
bad input, 3 for `--fail-on`).
"""

from __future__ import annotations

import enum
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from medtune.errors import GateFailure, MedtuneError

policy_app = typer.Typer(
    help="Safety policy: check model inputs/outputs against a policy (PASS / WARN / BLOCK), lint a policy.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class FailOn(enum.StrEnum):
    block = "block"
    warn = "warn"
    never = "never"


PolicyOpt = Annotated[
    Path, typer.Option("--policy", "-p", help="Policy YAML (e.g. configs/policy.yml).", show_default=False)
]


def _console() -> Any:
    from rich.console import Console

    # in CI logs and pipes rich would assume 80 columns and truncate rule ids: give tables room
    return Console() if sys.stdout.isatty() else Console(width=120)


@policy_app.command("check")
def check_cmd(
    input_path: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT.jsonl",
            help='Records {"id", "output", optional "input", "context", "task", "model_tags", "expected"}.',
            show_default=False,
        ),
    ],
    policy: PolicyOpt,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write one decision per record (JSONL).", show_default=False),
    ] = None,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 3 if any decision reaches this level (for CI).")
    ] = FailOn.never,
    task: Annotated[
        str | None, typer.Option("--task", help="Task of every record (a record's own 'task' wins).")
    ] = None,
    model_tag: Annotated[
        list[str] | None, typer.Option("--model-tag", help="Model tag for scoped rules; repeatable.")
    ] = None,
    skip_rule: Annotated[
        list[str] | None, typer.Option("--skip-rule", help="Leave this rule out; repeatable.")
    ] = None,
    workers: Annotated[
        int,
        typer.Option("--workers", "-j", min=0, help="Processes checking in parallel (0: one per core)."),
    ] = 1,
) -> None:
    """Check every record of INPUT.jsonl; print a summary and, for labelled records, a confusion matrix."""
    from medtune.artifacts import atomic_write_text
    from medtune.safety.engine import PolicyEngine
    from medtune.safety.parallel import CheckRequest, check_many, default_workers, run_request
    from medtune.safety.records import read_records

    engine = PolicyEngine.from_file(policy, exclude_rules=skip_rule or ())  # validates before any work
    records = read_records(input_path)
    default_tags = tuple(model_tag or [])
    requests = [
        CheckRequest(
            record.output,
            input=record.input,
            context=record.context,
            task=record.task or task,
            model_tags=tuple(record.model_tags or default_tags),
        )
        for record in records
    ]
    if workers == 1:
        decisions = [run_request(engine, r) for r in requests]
    else:
        decisions = check_many(policy, requests, workers or default_workers(), skip_rule or ())
    lines: list[str] = []
    for record, decision in zip(records, decisions, strict=True):
        row: dict[str, Any] = {"id": record.id, **decision.to_json()}
        if record.expected is not None:
            row["expected"] = record.expected
        lines.append(json.dumps(row, ensure_ascii=False))
    if out is not None:
        atomic_write_text(out, "".join(line + "\n" for line in lines))
    _print_summary(engine, records, decisions, out)
    if fail_on is not FailOn.never:
        levels = {"block": ("BLOCK",), "warn": ("WARN", "BLOCK")}[fail_on.value]
        hits = [r.id for r, d in zip(records, decisions, strict=True) if d.decision in levels]
        if hits:
            shown = ", ".join(map(str, hits[:10])) + (" ..." if len(hits) > 10 else "")
            raise GateFailure(
                f"policy gate: {len(hits)} of {len(records)} records reached {fail_on.value.upper()} "
                f"(--fail-on {fail_on.value}): {shown}"
            )


def _print_summary(engine: Any, records: list[Any], decisions: list[Any], out: Path | None) -> None:
    from rich.table import Table

    from medtune.safety.decision import LEVELS, policy_rates

    console = _console()
    rates = policy_rates(decisions)
    n = rates["n"]
    table = Table(title=f"policy {engine.version} ({engine.sha256[:12]}): {n} records")
    table.add_column("decision")
    table.add_column("records", justify="right")
    table.add_column("share", justify="right")
    for level in LEVELS:
        count = sum(1 for d in decisions if d.decision == level)
        table.add_row(level, str(count), f"{rates[level.lower() + '_rate']:.1%}")
    console.print(table)
    if rates["by_rule"]:
        rules = Table(title="rules that fired")
        for column in ("rule", "action", "records", "share"):
            rules.add_column(
                column, justify="left" if column in ("rule", "action") else "right", no_wrap=True
            )
        for rule_id, entry in rates["by_rule"].items():
            rules.add_row(rule_id, entry["action"], str(entry["fired"]), f"{entry['rate']:.1%}")
        console.print(rules)
    labelled = [(r, d) for r, d in zip(records, decisions, strict=True) if r.expected is not None]
    if labelled:
        console.print(confusion_table(labelled))
        wrong = [r.id for r, d in labelled if r.expected != d.decision]
        agree = 1 - len(wrong) / len(labelled)
        console.print(f"agreement with expected: {agree:.1%} ({len(labelled) - len(wrong)}/{len(labelled)})")
        if wrong:
            console.print(
                "disagreements: " + ", ".join(map(str, wrong[:20])) + (" ..." if len(wrong) > 20 else "")
            )
    if out is not None:
        console.print(f"decisions: {out}")


def confusion_table(labelled: list[tuple[Any, Any]]) -> Any:
    from rich.table import Table

    from medtune.safety.decision import LEVELS

    counts = Counter((r.expected, d.decision) for r, d in labelled)
    table = Table(title="expected (rows) vs decided (columns)")
    table.add_column("expected")
    for level in LEVELS:
        table.add_column(level, justify="right")
    for expected in LEVELS:
        table.add_row(expected, *(str(counts[(expected, got)]) for got in LEVELS))
    return table


@policy_app.command("lint")
def lint_cmd(
    policy: Annotated[Path, typer.Argument(metavar="FILE", help="Policy YAML.", show_default=False)],
) -> None:
    """Validate a policy, compile every rule, and run each rule's examples (exit 2 on any problem)."""
    from rich.table import Table

    from medtune.safety.lint import lint_policy

    report = lint_policy(policy)
    table = Table(title=f"{policy}: version {report.version}, {len(report.rules)} rules")
    for column in ("rule", "stage", "action", "detector", "scope", "examples"):
        table.add_column(column, no_wrap=column in ("rule", "examples"))
    for rule in report.rules:
        table.add_row(rule.id, rule.stage, rule.action, rule.detector, rule.scope, rule.examples)
    console = _console()
    console.print(table)
    for note in report.notes:
        console.print(f"note: {note}")
    console.print(f"policy OK: sha256 {report.sha256}")


def main() -> None:
    """Run the policy commands on their own (`python -m medtune.safety.cli`) with medtune's error handling."""
    try:
        policy_app()
    except MedtuneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
