"""The run's evaluation stage: base vs tuned on the held-back records, through the evaluation harness.

By default (no `eval.tasks`): teacher-forced completion loss and perplexity on every held-back record
(`heldout_loss`), then greedy generation on the first `eval.max_samples` and field-level extraction scores
(`oncology_ie`), each with bootstrap CIs and paired base-vs-tuned deltas; gates come from `eval.gates`.
The base model is the same PEFT model with its adapter disabled, so both sides share one load and one
tokenizer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medtune.config import RunConfig
from medtune.data.instruction import InstructionRecord


def completion_loss_sum(
    model: Any, tokenizer: Any, examples: list[dict], batch_size: int
) -> tuple[float, int]:
    """Summed next-token loss and count of trained tokens, batched by length (exact, token-weighted)."""
    import torch
    from transformers import DataCollatorForSeq2Seq

    from medtune.train.trainer import completion_loss

    collate = DataCollatorForSeq2Seq(
        tokenizer, label_pad_token_id=-100, padding="longest", return_tensors="pt"
    )
    order = sorted(range(len(examples)), key=lambda i: len(examples[i]["input_ids"]))
    total, count = 0.0, 0
    device = next(model.parameters()).device
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            batch = collate([examples[i] for i in order[start : start + batch_size]])
            batch = {k: v.to(device) for k, v in batch.items()}
            mean, n = completion_loss(model, batch, None)
            total += float(mean) * n
            count += n
    return total, count


def generate(
    model: Any, tokenizer: Any, prompts: list[str], max_new_tokens: int, batch_size: int
) -> list[str]:
    """Greedy continuations, stopping at the model's EOS tokens; prompts are left-padded per batch."""
    import torch

    device = next(model.parameters()).device
    outputs: list[str] = [""] * len(prompts)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    eos = model.generation_config.eos_token_id or tokenizer.eos_token_id
    previous_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            enc = tokenizer(
                [prompts[i] for i in idx], add_special_tokens=False, padding=True, return_tensors="pt"
            )
            enc = {k: v.to(device) for k, v in enc.items()}
            with torch.no_grad():
                out = model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    eos_token_id=eos,
                    pad_token_id=tokenizer.pad_token_id,
                )
            new_tokens = out[:, enc["input_ids"].shape[1] :]
            for i, text in zip(
                idx, tokenizer.batch_decode(new_tokens, skip_special_tokens=True), strict=True
            ):
                outputs[i] = text.strip()
    finally:
        tokenizer.padding_side = previous_side
    return outputs


def run_tasks(cfg: RunConfig, records: list[InstructionRecord]) -> list[Any]:
    """The run's tasks: `eval.tasks` when given, else held-back loss (+ oncology extraction) from
    `eval.task`. Tasks without their own data that read instruction records use the held-back records."""
    from medtune.evaluate.api import task_from_ref
    from medtune.evaluate.settings import EvalTaskRef
    from medtune.evaluate.tasks.loader import read_spec

    held = [
        {
            "id": r.id,
            "instruction": r.instruction,
            "input": r.input,
            "output": r.output,
            "_id": r.id,
            "_source": r.source,
        }
        for r in records
    ]
    refs = list(cfg.eval.tasks)
    if not refs:
        refs = [EvalTaskRef(name="heldout_loss")]
        if cfg.eval.task == "oncology_ie":
            refs.append(
                EvalTaskRef(
                    name="oncology_ie", limit=cfg.eval.max_samples, max_new_tokens=cfg.eval.max_new_tokens
                )
            )
    tasks = []
    for ref in refs:
        spec = read_spec(ref.name)[0]
        in_memory = ref.data is None and spec.data.format == "instruction_jsonl"
        task = task_from_ref(ref, cfg.eval, held if in_memory else None)
        if in_memory and cfg.data.system_prompt and task.spec.chat:
            task.spec.system = cfg.data.system_prompt  # prompts rendered exactly as in training
        tasks.append(task)
    return tasks


def evaluate_run(
    cfg: RunConfig, run_dir: Path, *, quiet: bool = False, raise_on_gates: bool = True
) -> dict[str, Any]:
    """Base vs tuned through the evaluation harness; writes run_dir/eval (results.json, samples.jsonl,
    loss_samples.jsonl, summary.csv, report.html, manifest.json). Gates from `eval.gates` are checked
    after everything is written; a failure raises GateFailure (exit 3) unless `raise_on_gates` is False."""
    from peft import PeftModel

    from medtune.determinism import seed_everything
    from medtune.evaluate.api import write_stage
    from medtune.evaluate.backends.base import BackendInfo
    from medtune.evaluate.backends.hf import HFBackend
    from medtune.evaluate.gates import raise_on_failure
    from medtune.evaluate.runner import Side, evaluate, opened
    from medtune.models.loading import load_model, load_tokenizer, model_identity, resolve_device
    from medtune.train.recipe import load_records

    adapter_dir = run_dir / "train" / "adapter"
    seed_everything(cfg.train.seed, deterministic=cfg.train.deterministic, num_threads=cfg.train.num_threads)
    device = resolve_device(cfg.model.device)
    tokenizer = load_tokenizer(cfg.model)
    records = load_records(cfg).eval
    tasks = run_tasks(cfg, records)
    model = PeftModel.from_pretrained(load_model(cfg.model, device), str(adapter_dir))
    model.eval()
    from medtune.artifacts import digest_of

    identity = {"model": model_identity(cfg.model), "adapter": digest_of(adapter_dir)}
    backend = HFBackend(
        model,
        tokenizer,
        batch_size=cfg.eval.batch_size,
        info=BackendInfo("hf", f"{cfg.model.name_or_path} + adapter", identity),
    )
    base_info = BackendInfo("hf", cfg.model.name_or_path, {"model": identity["model"]})

    def base_side() -> Any:
        return _WithInfo(backend.adapter_disabled(), backend, base_info)

    sides = [Side("base", "baseline", base_side)] if cfg.eval.baseline else []
    sides.append(Side("tuned", "candidate", lambda: opened(backend)))
    evaluation = evaluate(tasks, sides, cfg.eval, quiet=quiet)
    results = evaluation.results
    results.update(_legacy_blocks(cfg, results, evaluation.loss_samples, len(records)))
    inputs = {"adapter": adapter_dir, "eval_records": cfg.data.eval or cfg.data.train}
    write_stage(
        run_dir,
        "eval",
        evaluation,
        tasks,
        cfg.eval,
        extra_config={"run": cfg.resolved()},
        inputs=inputs,
        seed=cfg.train.seed,
    )
    if raise_on_gates and results.get("gates"):
        from medtune.evaluate.cli import print_results

        if not quiet:
            print_results({"gates": results["gates"]})
        raise_on_failure(results["gates"], str(run_dir / "eval" / "results.json"))
    return results


class _WithInfo:
    """Enter `inner` (e.g. adapter_disabled) but report `info` for the side while it is active."""

    def __init__(self, inner: Any, backend: Any, info: Any) -> None:
        self.inner, self.backend, self.info = inner, backend, info

    def __enter__(self) -> Any:
        self.saved = self.backend.info
        self.inner.__enter__()
        self.backend.info = self.info
        return self.backend

    def __exit__(self, *exc: Any) -> None:
        self.backend.info = self.saved
        self.inner.__exit__(*exc)


def _legacy_blocks(
    cfg: RunConfig, results: dict[str, Any], loss_rows: list[dict[str, Any]], n_records: int
) -> dict[str, Any]:
    """results['base'|'tuned'] = {eval_loss, perplexity, eval_tokens, extraction}: the headline numbers."""
    out: dict[str, Any] = {"task": cfg.eval.task, "records": n_records}
    tasks = results["tasks"]
    for side in results["sides"]:
        block: dict[str, Any] = {}
        loss = tasks.get("heldout_loss", {}).get("metrics", {}).get(side)
        if loss:
            block["eval_loss"] = loss["eval_loss"]["value"]
            block["perplexity"] = loss["perplexity"]["value"]
            rows = [r for r in loss_rows if r["task"] == "heldout_loss"]
            block["eval_tokens"] = sum(r.get(side, r)["tokens"] for r in rows)
        onco = tasks.get("oncology_ie", {})
        if side in onco.get("metrics", {}):
            m = {k: v["value"] for k, v in onco["metrics"][side].items()}
            block["extraction"] = {
                "items": onco["items"],
                **{
                    k: m.get(k)
                    for k in (
                        "json_validity",
                        "exact_match",
                        "micro_precision",
                        "micro_recall",
                        "micro_f1",
                        "macro_f1",
                    )
                },
                "per_field": onco.get("per_field", {}).get(side, {}),
            }
        out[side] = block
    return out


SAFETY_HEADLINE = ("phi_leak_rate", "policy_block_rate", "policy_warn_rate")


def headline(results: dict[str, Any]) -> dict[str, Any]:
    """Flat key metrics per side for the manifest and summary table: {"base_<metric>", "tuned_<metric>"}."""
    out: dict[str, Any] = {}
    for side in ("base", "tuned"):
        m = results.get(side)
        if not m:
            continue
        if "eval_loss" in m:
            out[f"{side}_eval_loss"] = m["eval_loss"]
            out[f"{side}_perplexity"] = m["perplexity"]
        if "extraction" in m:
            ex = m["extraction"]
            for key in ("json_validity", "micro_precision", "micro_recall", "micro_f1", "exact_match"):
                out[f"{side}_{key}"] = ex[key]
        onco = results.get("tasks", {}).get("oncology_ie", {}).get("metrics", {}).get(side, {})
        for key in SAFETY_HEADLINE:
            if key in onco:
                out[f"{side}_{key}"] = onco[key]["value"]
        for task, result in results.get("tasks", {}).items():
            if task in ("heldout_loss", "oncology_ie"):
                continue
            for metric, est in result.get("metrics", {}).get(side, {}).items():
                out[f"{side}_{task}/{metric}"] = est["value"]
    return out
