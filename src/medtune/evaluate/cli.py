"""`medtune eval` and `medtune report`: typer command functions (wired into medtune.cli).

Three forms of `medtune eval`:

    medtune eval RUN_DIR                                    # a training run: base vs tuned, as its eval stage
    medtune eval CONFIG.yaml [--baseline M] [--candidate M] # an eval config: tasks, gates, models
    medtune eval --model DIR_OR_ID [--adapter DIR] --task NAME [--data FILE] [--limit N] --out DIR
    medtune eval --baseline M --candidate M --task NAME ... # side by side, paired deltas with bootstrap CIs

A model M is a directory or hub id, a PEFT adapter directory, a run directory, or
http://host:port/v1#name. Failed gates exit with code 3 after every output is written.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

from medtune.errors import ConfigError


def _console() -> Any:
    from rich.console import Console

    return Console()


def eval_command(
    config_or_run_dir: Annotated[
        Path | None,
        typer.Argument(help="A training run directory, or an eval config YAML.", show_default=False),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Model directory or hub id (hf); served model name (openai)."),
    ] = None,
    adapter: Annotated[Path | None, typer.Option("--adapter", help="PEFT adapter directory.")] = None,
    task: Annotated[
        list[str] | None,
        typer.Option("--task", help="Built-in task name or task YAML; repeatable or comma-separated."),
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Local data file/folder in the task's layout.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N items.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output folder.")] = None,
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="Baseline model (dir, hub id, adapter, run dir or URL).")
    ] = None,
    candidate: Annotated[
        str | None,
        typer.Option("--candidate", help="Candidate model (dir, hub id, adapter, run dir or URL)."),
    ] = None,
    backend: Annotated[str, typer.Option("--backend", help="hf or openai.")] = "hf",
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1."),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Rows per forward pass.")] = 16,
    num_fewshot: Annotated[
        int | None, typer.Option("--num-fewshot", min=0, help="Few-shot examples.")
    ] = None,
    gate: Annotated[
        list[str] | None,
        typer.Option("--gate", help="Extra gate, e.g. 'pubmedqa/acc delta >= 0.03'; repeatable."),
    ] = None,
    bootstrap_samples: Annotated[
        int | None, typer.Option("--bootstrap-samples", min=0, help="Bootstrap resamples (0: no CIs).")
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option("--policy", help="Policy YAML that checks every generated output (decision rates)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Evaluate a model (or baseline vs candidate) on tasks; write results.json, samples.jsonl, a CSV summary
    and an HTML report; exit 3 when a gate fails."""
    from medtune.evaluate import api
    from medtune.evaluate.gates import raise_on_failure

    if config_or_run_dir is not None and config_or_run_dir.is_dir():
        _eval_run_dir(
            config_or_run_dir, quiet, extra_args=[model, adapter, task, data, baseline, candidate, policy]
        )
        return
    if config_or_run_dir is not None:
        if not config_or_run_dir.is_file():
            raise ConfigError(
                f"{config_or_run_dir}: expected a run directory or an eval config file, found neither"
            )
        file = api.load_eval_file(config_or_run_dir)
    else:
        file = api.EvalFile()
    eval_cfg = file.eval.model_copy(deep=True)
    if task:
        names = [n.strip() for item in task for n in item.split(",") if n.strip()]
        if data is not None and len(names) > 1:
            raise ConfigError("--data: expected one --task to apply it to, found several")
        eval_cfg.tasks = [api.EvalTaskRef(name=n, data=data) for n in names]
    elif data is not None:
        raise ConfigError("--data needs --task NAME (the task whose layout the file has)")
    if not eval_cfg.tasks:
        raise ConfigError(
            "nothing to evaluate: expected --task NAME or eval.tasks in the config",
            hint="built-in tasks: " + ", ".join(_builtin_names()),
        )
    if limit is not None:
        eval_cfg.limit = limit
    if num_fewshot is not None:
        eval_cfg.num_fewshot = num_fewshot
    if bootstrap_samples is not None:
        eval_cfg.bootstrap_samples = bootstrap_samples
    if policy is not None:
        eval_cfg.policy = policy
    if gate:
        from medtune.evaluate.settings import GateSpec

        try:
            eval_cfg.gates = [*eval_cfg.gates, *(GateSpec.model_validate(g) for g in gate)]
        except Exception as exc:
            raise ConfigError(f"--gate: expected {exc}".replace("Value error, ", "")) from None
    single, base_spec, cand_spec = file.model, file.baseline, file.candidate
    if model is not None or adapter is not None or backend == "openai":
        single = _cli_model(model, adapter, backend, base_url, batch_size)
    if baseline is not None:
        base_spec = _cli_ref(baseline, batch_size)
    if candidate is not None:
        cand_spec = _cli_ref(candidate, batch_size)
    if single is not None and (baseline is not None or candidate is not None):
        raise ConfigError("name either --model or --baseline/--candidate, not both")
    if baseline is not None or candidate is not None:
        single = None
    sides = api.sides_for(single, base_spec, cand_spec)
    out_dir = out or file.out or Path("runs") / "eval" / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    api.check_out_dir(out_dir)
    tasks = api.build_tasks(eval_cfg)
    extra = {
        "models": {
            s.name: spec.model_dump(mode="json")
            for s, spec in zip(sides, [single] if single else [base_spec, cand_spec], strict=True)
            if spec
        }
    }
    evaluation = api.run_to_folder(tasks, sides, eval_cfg, out_dir, quiet=quiet, extra_config=extra)
    print_results(evaluation.results)
    _console().print(f"results: [bold]{out_dir}[/bold]", soft_wrap=True)
    if evaluation.results.get("gates"):
        raise_on_failure(evaluation.results["gates"], str(out_dir / "results.json"))


def _builtin_names() -> list[str]:
    from medtune.evaluate.tasks.loader import builtin_tasks

    return builtin_tasks()


def _cli_model(
    model: str | None, adapter: Path | None, backend: str, base_url: str | None, batch_size: int
) -> Any:
    from medtune.evaluate.api import ModelSpec, parse_model_ref

    if backend not in ("hf", "openai"):
        raise ConfigError(f"--backend: expected hf or openai, found {backend!r}")
    if backend == "openai":
        if not base_url:
            raise ConfigError("--backend openai needs --base-url (e.g. http://127.0.0.1:8000/v1)")
        return ModelSpec(backend="openai", base_url=base_url, model=model, batch_size=batch_size)
    if model is None:
        raise ConfigError("--adapter needs --model (the base model)")
    spec = parse_model_ref(model, adapter)
    return spec.model_copy(update={"batch_size": batch_size})


def _cli_ref(text: str, batch_size: int) -> Any:
    from medtune.evaluate.api import parse_model_ref

    spec = parse_model_ref(text)
    return spec.model_copy(update={"batch_size": batch_size}) if spec.backend == "hf" else spec


def _eval_run_dir(run_dir: Path, quiet: bool, extra_args: list[Any]) -> None:
    """`medtune eval RUN_DIR`: the run's own eval stage (base vs tuned on its held-back records)."""
    if any(a for a in extra_args):
        raise ConfigError(
            f"{run_dir}: a run directory is evaluated with its own config; drop --model/--task/...",
            hint=f"to compare its adapter with the base: medtune eval --baseline BASE --candidate {run_dir}",
        )
    from medtune.evaluate.gates import raise_on_failure
    from medtune.evaluate.quick import evaluate_run, headline
    from medtune.pipeline import load_run_config

    cfg = load_run_config(run_dir)
    results = evaluate_run(cfg, run_dir, quiet=quiet, raise_on_gates=False)
    print_headline(headline(results))
    print_results(results, legacy_tasks=True)
    _console().print(f"run directory: [bold]{run_dir}[/bold]", soft_wrap=True)
    if results.get("gates"):
        raise_on_failure(results["gates"], str(run_dir / "eval" / "results.json"))


def print_headline(flat: dict[str, Any]) -> None:
    """The base vs tuned table that `medtune run` prints."""
    from rich.table import Table

    table = Table(title="base vs tuned (held-back records)")
    for column in ("metric", "base", "tuned", "delta"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    names = list(dict.fromkeys(k.split("_", 1)[1] for k in flat))
    for name in names:
        base, tuned = flat.get(f"base_{name}"), flat.get(f"tuned_{name}")
        delta = tuned - base if isinstance(base, float) and isinstance(tuned, float) else None
        table.add_row(name, _fmt(base), _fmt(tuned), _fmt(delta))
    _console().print(table)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:,.1f}"
    return str(value)


def print_results(results: dict[str, Any], *, legacy_tasks: bool = False) -> None:
    """One table per task (metric x side, delta with its CI), then the gate table."""
    from rich.table import Table

    from medtune.evaluate.gates import gate_table

    console = _console()
    sides = [s for s in (results.get("baseline"), results.get("candidate")) if s]
    sides += [s for s in results.get("sides", {}) if s not in sides]
    for name, result in results.get("tasks", {}).items():
        if legacy_tasks:
            continue  # the headline table already shows the run's tasks
        table = Table(title=f"{name} ({result['items']} items)")
        table.add_column("metric")
        for side in sides:
            table.add_column(side, justify="right")
        deltas = result.get("deltas") or {}
        if deltas:
            table.add_column("delta [95% CI]", justify="right")
        metrics = list(dict.fromkeys(m for s in sides for m in result["metrics"].get(s, {})))
        for metric in metrics:
            cells = []
            for side in sides:
                est = result["metrics"].get(side, {}).get(metric)
                cells.append(_fmt(est["value"]) if est else "-")
            if deltas:
                d = deltas.get(metric) or {}
                if d.get("value") is None:
                    cells.append("-")
                elif d.get("ci_low") is None:
                    cells.append(f"{d['value']:+.4f}")
                else:
                    cells.append(f"{d['value']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]")
            table.add_row(metric, *cells)
        console.print(table)
        for side, rates in (result.get("policy") or {}).items():
            fired = ", ".join(f"{r} {e['fired']}" for r, e in rates["by_rule"].items()) or "no rule fired"
            console.print(
                f"policy on {side}: PASS {rates['pass_rate']:.1%} WARN {rates['warn_rate']:.1%} "
                f"BLOCK {rates['block_rate']:.1%} ({fired})",
                highlight=False,
            )
        for note in result.get("notes", []):
            console.print(f"note: {note}", style="yellow")
    if results.get("gates"):
        console.print(gate_table(results["gates"]))


def report_command(
    run_dir: Annotated[
        Path, typer.Argument(help="An eval output folder, or a run directory with eval/.", show_default=False)
    ],
) -> None:
    """Regenerate report.html (and summary.csv) from results.json."""
    from medtune.evaluate.report import regenerate

    path = regenerate(run_dir)
    _console().print(f"report: [bold]{path}[/bold]", soft_wrap=True)
