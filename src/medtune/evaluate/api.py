"""The evaluation harness as functions: name models, build tasks, run, write the output folder.

Used by the `medtune eval` command (one-line and config forms) and by a training run's eval stage.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from medtune.artifacts import stage
from medtune.config import EvalConfig
from medtune.errors import ConfigError, MedtuneError
from medtune.evaluate.backends.base import Backend
from medtune.evaluate.runner import Evaluation, Side, evaluate, jsonl
from medtune.evaluate.settings import EvalTaskRef
from medtune.evaluate.tasks.loader import Task, load_task


class ModelSpec(BaseModel):
    """A model to evaluate: a local directory or hub id (+ PEFT adapter), or an OpenAI-compatible server."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(
        default=None, description="Model directory or hub id (hf); served model name (openai)."
    )
    adapter: Path | None = Field(default=None, description="PEFT adapter directory (hf).")
    backend: Literal["hf", "openai"] = Field(default="hf", description="hf or openai.")
    base_url: str | None = Field(default=None, description="Server URL for the openai back end.")
    revision: str | None = Field(default=None, description="Hub revision (hf).")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(default="auto", description="Device (hf).")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto", description="dtype (hf)."
    )
    batch_size: int = Field(default=16, gt=0, description="Rows per forward (hf) or prompts per request.")
    workers: int | None = Field(
        default=None,
        gt=0,
        description="CPU scoring threads, each on whole batches (hf); default: the torch thread count.",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return parse_model_ref(value).model_dump() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _complete(self) -> ModelSpec:
        if self.backend == "openai" and not self.base_url:
            raise ValueError("the openai back end needs base_url")
        if self.backend == "hf" and not self.model:
            raise ValueError("the hf back end needs model (a directory or hub id)")
        return self

    def label(self) -> str:
        if self.backend == "openai":
            return f"{self.base_url} {self.model or ''}".strip()
        return f"{self.model} + {self.adapter}" if self.adapter else str(self.model)


def parse_model_ref(text: str, adapter: str | Path | None = None) -> ModelSpec:
    """A model named on the command line:
    - `http(s)://host:port[/v1][#model]`: an OpenAI-compatible server (optional served model name after
      #);
    - a training run directory (config.yaml + train/adapter): its base model + its adapter;
    - a PEFT adapter directory (adapter_config.json): the base model it names + the adapter;
    - otherwise a model directory or hub id."""
    if text.startswith(("http://", "https://")):
        url, _, served = text.partition("#")
        return ModelSpec.model_construct(
            model=served or None,
            backend="openai",
            base_url=url,
            adapter=None,
            revision=None,
            device="auto",
            dtype="auto",
            batch_size=8,
            workers=None,
        )
    path = Path(text)
    if adapter is None and (path / "config.yaml").is_file() and (path / "train" / "adapter").is_dir():
        from medtune.pipeline import load_run_config

        run_cfg = load_run_config(path)
        return ModelSpec(
            model=run_cfg.model.name_or_path,
            adapter=path / "train" / "adapter",
            revision=run_cfg.model.revision,
        )
    if adapter is None and (path / "adapter_config.json").is_file():
        import json

        base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
        if not base:
            raise ConfigError(f"{path}/adapter_config.json: expected base_model_name_or_path, found none")
        return ModelSpec(model=base, adapter=path)
    return ModelSpec(model=text, adapter=Path(adapter) if adapter else None)


@contextlib.contextmanager
def open_backend(spec: ModelSpec) -> Iterator[Backend]:
    """Load a back end for the duration of the block, then release it (one model in memory at a time)."""
    if spec.backend == "openai":
        from medtune.evaluate.backends.openai import OpenAIBackend

        backend = OpenAIBackend(spec.base_url or "", spec.model, batch_size=spec.batch_size)
        try:
            yield backend
        finally:
            backend.close()
        return
    from medtune.evaluate.backends.hf import HFBackend

    hf = HFBackend.load(
        spec.model or "",
        adapter=spec.adapter,
        revision=spec.revision,
        device=spec.device,
        dtype=spec.dtype,
        batch_size=spec.batch_size,
        workers=spec.workers,
    )
    try:
        yield hf
    finally:
        del hf
        gc.collect()


class EvalFile(BaseModel):
    """`medtune eval CONFIG`: which model(s), which tasks and gates, where to write."""

    model_config = ConfigDict(extra="forbid")

    model: ModelSpec | None = Field(default=None, description="The model, for a single-model evaluation.")
    baseline: ModelSpec | None = Field(default=None, description="Baseline of a comparison.")
    candidate: ModelSpec | None = Field(default=None, description="Candidate of a comparison.")
    eval: EvalConfig = Field(default_factory=EvalConfig, description="Tasks, limits, bootstrap, gates.")
    out: Path | None = Field(default=None, description="Output folder (default: runs/eval/<timestamp>).")


def load_eval_file(path: Path) -> EvalFile:
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"{path}:{mark.line + 1 if mark else 1}: invalid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}:1: expected a mapping (model/baseline/candidate, eval, out), found {type(raw).__name__}"
        )
    if "data" in raw or "lora" in raw:
        raise ConfigError(
            f"{path}: expected an eval config (model/baseline/candidate, eval, out), found a training config",
            hint="evaluate a finished run with `medtune eval RUN_DIR`; train and evaluate with `medtune run`",
        )
    base = path.resolve().parent
    try:
        parsed = EvalFile.model_validate(raw)
    except ValidationError as exc:
        from medtune.evaluate.tasks.loader import spec_error

        raise spec_error(exc, str(path), text, EvalFile) from None
    for ref in parsed.eval.tasks:  # data paths in an eval file are relative to the file
        ref.data = _beside(base, ref.data)
    parsed.eval.policy = _beside(base, parsed.eval.policy)
    return parsed


def _beside(base: Path, path: Path | None) -> Path | None:
    """A relative path that does not exist from the working directory is taken from the file's folder."""
    if path is None or path.is_absolute() or path.exists():
        return path
    return base / path


def build_tasks(eval_cfg: EvalConfig, held_back: dict[str, list[dict[str, Any]]] | None = None) -> list[Task]:
    """Tasks of an eval config. `held_back` maps task names to in-memory records (a run's held-back set)."""
    tasks = []
    for ref in eval_cfg.tasks:
        tasks.append(task_from_ref(ref, eval_cfg, (held_back or {}).get(ref.name)))
    names = [t.name for t in tasks]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ConfigError(f"eval.tasks: expected each task once, found {sorted(duplicates)} more than once")
    return tasks


def task_from_ref(
    ref: EvalTaskRef, eval_cfg: EvalConfig, records: list[dict[str, Any]] | None = None
) -> Task:
    overrides: dict[str, Any] = {}
    if ref.group_by is not None:
        overrides["group_by"] = ref.group_by
    if ref.max_new_tokens is not None:
        overrides["generation"] = {"max_new_tokens": ref.max_new_tokens}
    return load_task(
        ref.name,
        data=ref.data,
        limit=ref.limit or eval_cfg.limit,
        num_fewshot=ref.num_fewshot if ref.num_fewshot is not None else eval_cfg.num_fewshot,
        records=records if ref.data is None else None,
        overrides=overrides,
    )


def sides_for(model: ModelSpec | None, baseline: ModelSpec | None, candidate: ModelSpec | None) -> list[Side]:
    if model is not None and (baseline is not None or candidate is not None):
        raise ConfigError("name either one model (--model) or a baseline and a candidate, not both")
    if model is not None:
        return [Side("model", "candidate", lambda: open_backend(model))]
    if baseline is None or candidate is None:
        raise ConfigError(
            "nothing to evaluate: expected --model, or both --baseline and --candidate",
            hint="medtune eval --model DIR --task pubmedqa --out DIR",
        )
    return [
        Side("baseline", "baseline", lambda: open_backend(baseline)),
        Side("candidate", "candidate", lambda: open_backend(candidate)),
    ]


def run_to_folder(
    tasks: list[Task],
    sides: list[Side],
    eval_cfg: EvalConfig,
    out: Path,
    *,
    quiet: bool = False,
    extra_config: dict[str, Any] | None = None,
) -> Evaluation:
    """Evaluate and write results.json, samples.jsonl, summary.csv, report.html and manifest.json into `out`
    (atomically: a crash leaves no half-written folder)."""
    evaluation = evaluate(tasks, sides, eval_cfg, quiet=quiet)
    write_stage(out.parent, out.name, evaluation, tasks, eval_cfg, extra_config=extra_config)
    return evaluation


def write_stage(
    parent: Path,
    name: str,
    evaluation: Evaluation,
    tasks: list[Task],
    eval_cfg: EvalConfig,
    *,
    extra_config: dict[str, Any] | None = None,
    inputs: dict[str, Path] | None = None,
    seed: int | None = None,
) -> None:
    from medtune.evaluate.report import write_outputs

    config = {"eval": eval_cfg.model_dump(mode="json"), **(extra_config or {})}
    parent.mkdir(parents=True, exist_ok=True)
    with stage(
        parent, name, config=config, seed=seed if seed is not None else eval_cfg.seed, replace=True
    ) as st:
        for task in tasks:
            if task.data.get("path"):
                st.add_input(f"data:{task.name}", Path(task.data["path"]))
        for key, path in (inputs or {}).items():
            st.add_input(key, path)
        write_outputs(
            st.dir,
            evaluation.results,
            jsonl(evaluation.samples),
            jsonl(evaluation.loss_samples) if evaluation.loss_samples else None,
            report=eval_cfg.report,
        )
        st.metrics = flat_metrics(evaluation.results)


def flat_metrics(results: dict[str, Any]) -> dict[str, Any]:
    """{SIDE/TASK/METRIC: value} plus delta and gate verdict, for the manifest."""
    out: dict[str, Any] = {}
    for task, result in results.get("tasks", {}).items():
        for side, metrics in result.get("metrics", {}).items():
            for metric, est in metrics.items():
                out[f"{side}/{task}/{metric}"] = est["value"]
        for metric, est in result.get("deltas", {}).items():
            out[f"delta/{task}/{metric}"] = est["value"]
    if results.get("gates"):
        out["gates_passed"] = results.get("passed")
    return out


def check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise MedtuneError(f"--out: expected a folder, found a file {out}")
