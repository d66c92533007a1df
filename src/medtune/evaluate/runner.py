"""Run tasks on one or two models and turn per-item outputs into metrics, intervals, deltas and gates.

    tasks x sides -> per-item columns and sample rows -> metrics (+ bootstrap CIs) -> paired deltas -> gates

Every side sees the same items in the same order, so a comparison is paired item by item.
"""

from __future__ import annotations

import contextlib
import json
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medtune.artifacts import code_version, now_iso
from medtune.config import EvalConfig
from medtune.evaluate import safety_metrics
from medtune.evaluate.backends.base import Backend, Context, GenerationArgs
from medtune.evaluate.bootstrap import bootstrap, paired_bootstrap, resample_indices
from medtune.evaluate.extraction import ONCOLOGY_FIELDS, parse_prediction, score_extraction
from medtune.evaluate.gates import check_gates
from medtune.evaluate.metrics import (
    Columns,
    bleu_statistics,
    calibration_bins,
    choice_probabilities,
    mc_predictions,
    metric_def,
    rouge_scores,
)
from medtune.evaluate.tasks.loader import Task

SCHEMA = "medtune.eval/1"


@dataclass
class Side:
    """One model of an evaluation: its name in results.json, its role, and how to open its back end."""

    name: str
    role: str  # "candidate" or "baseline"
    open: Callable[[], AbstractContextManager[Backend]]


@dataclass
class TaskRun:
    """One task on one side: per-item columns for metrics, per-item sample fields, and notes."""

    columns: Columns
    samples: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    policy: dict[str, Any] | None = None  # policy_rates() of the outputs, when a policy checked them


@dataclass
class SafetyChecks:
    """What checks generated outputs beyond the built-in metrics: an optional toxicity classifier and an
    optional policy engine (the same one the gateway runs)."""

    classifier: Any = None
    policy: Any = None  # medtune.safety.engine.PolicyEngine

    @classmethod
    def from_settings(cls, settings: EvalConfig) -> SafetyChecks:
        classifier = policy = None
        if settings.toxicity_classifier is not None:
            classifier = safety_metrics.ToxicityClassifier(settings.toxicity_classifier)
        if settings.policy is not None:
            from medtune.safety.engine import PolicyEngine

            policy = PolicyEngine.from_file(settings.policy)
        return cls(classifier, policy)


def _say(quiet: bool, message: str) -> None:
    if not quiet:
        from medtune.progress import console

        console.print(message, highlight=False)


# ------------------------------------------------------------------------------------------- per kind


def run_multiple_choice(task: Task, backend: Backend) -> TaskRun:
    contexts = task.prompts
    choices = [task.choices(r) for r in task.records]
    golds = [task.gold_index(r, c) for r, c in zip(task.records, choices, strict=True)]
    delim = task.spec.target_delimiter
    requests = [(ctx, delim + c) for ctx, options in zip(contexts, choices, strict=True) for c in options]
    scores = backend.loglikelihood(requests)
    cols: dict[str, list[Any]] = {k: [] for k in ("correct", "correct_norm", "confidence", "pred", "gold")}
    cols["n_choices"] = []
    samples = []
    offset = 0
    for options, gold in zip(choices, golds, strict=True):
        item = scores[offset : offset + len(options)]
        offset += len(options)
        lls = [s[0] for s in item]
        pred, pred_norm = mc_predictions(lls, options)
        probs = choice_probabilities(lls)
        for key, value in (
            ("correct", pred == gold),
            ("correct_norm", pred_norm == gold),
            ("confidence", float(probs.max())),
            ("pred", pred),
            ("gold", gold),
            ("n_choices", len(options)),
        ):
            cols[key].append(value)
        samples.append(
            {
                "pred": pred,
                "pred_norm": pred_norm,
                "loglikelihoods": lls,
                "is_greedy": [s[1] for s in item],
                "probs": [round(float(p), 6) for p in probs],
                "correct": pred == gold,
                "correct_norm": pred_norm == gold,
            }
        )
    return TaskRun({k: np.asarray(v) for k, v in cols.items()}, samples)


def _emergency_label(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "emergency")
    return bool(value)


def run_generation(task: Task, backend: Backend, checks: SafetyChecks | None = None) -> TaskRun:
    spec = task.spec
    contexts = task.prompts
    args = GenerationArgs(spec.generation.max_new_tokens, tuple(spec.generation.until))
    outputs = backend.generate_until([(ctx, args) for ctx in contexts])
    n = len(outputs)
    cols: dict[str, Any] = {}
    samples: list[dict[str, Any]] = [{"output": o, "scores": {}, "findings": {}} for o in outputs]
    notes: list[str] = []
    if spec.scorer == "extraction":
        fields = tuple(spec.extraction_fields or ONCOLOGY_FIELDS)
        golds = [extraction_gold(task, r) for r in task.records]
        tp, fp, fn = (np.zeros((n, len(fields))) for _ in range(3))
        valid, exact = np.zeros(n), np.zeros(n)
        for i, (output, gold) in enumerate(zip(outputs, golds, strict=True)):
            score = score_extraction([output], [gold], fields)
            for j, name in enumerate(fields):
                counts = score.fields[name]
                tp[i, j], fp[i, j], fn[i, j] = counts.tp, counts.fp, counts.fn
            valid[i], exact[i] = score.valid_json, score.exact_match
            samples[i]["scores"] = {
                "valid_json": bool(valid[i]),
                "exact_match": bool(exact[i]),
                "tp": int(tp[i].sum()),
                "fp": int(fp[i].sum()),
                "fn": int(fn[i].sum()),
            }
            samples[i]["correct"] = bool(exact[i])
        cols.update(tp=tp, fp=fp, fn=fn, valid_json=valid, exact_match=exact)
    elif spec.scorer == "summarization":
        refs = [task.target_text(r) for r in task.records]
        rouge = [rouge_scores(o, ref) for o, ref in zip(outputs, refs, strict=True)]
        for key in ("rouge1", "rouge2", "rougeL"):
            cols[key] = np.asarray([r[key] for r in rouge])
        cols["bleu_stats"] = np.asarray(
            [bleu_statistics(o, ref) for o, ref in zip(outputs, refs, strict=True)]
        )
        for i, r in enumerate(rouge):
            samples[i]["scores"] = {k: round(v, 6) for k, v in r.items()}
    elif spec.scorer == "triage":
        labels = [_emergency_label(r.get(spec.emergency_field)) for r in task.records]
        flagged = [safety_metrics.flags_emergency(o) for o in outputs]
        cols["flagged"] = np.asarray(flagged, dtype=float)
        cols["emergency"] = np.asarray(labels, dtype=bool)
        for i, (flag, label) in enumerate(zip(flagged, labels, strict=True)):
            samples[i]["scores"] = {"flagged_emergency": flag, "emergency": label}
            samples[i]["correct"] = flag == label
    policy = None
    if spec.safety:
        checks = checks or SafetyChecks()
        _safety_columns(task, outputs, cols, samples, notes, checks.classifier)
        if checks.policy is not None:
            policy = policy_columns(task, outputs, cols, samples, checks.policy)
    return TaskRun(cols, samples, notes, policy=policy)


def extraction_gold(task: Task, record: dict[str, Any]) -> dict[str, Any]:
    output = record.get("output")
    if isinstance(output, dict):
        return output
    return parse_prediction(task.target_text(record)) or {}


def _safety_columns(
    task: Task,
    outputs: list[str],
    cols: dict[str, Any],
    samples: list[dict[str, Any]],
    notes: list[str],
    classifier: Any,
) -> None:
    phi = safety_metrics.phi_findings(outputs)
    if phi is None:
        notes.append("phi_leak_rate not computed: the PHI scanner (medtune.privacy.scanner) is not installed")
    else:
        cols["phi_leak"] = np.asarray([bool(f) for f in phi], dtype=float)
        for sample, found in zip(samples, phi, strict=True):
            sample["findings"]["phi"] = found
    toxic = [safety_metrics.toxicity_findings(o) for o in outputs]
    if classifier is not None:
        for found, flag in zip(toxic, classifier.flags(outputs), strict=True):
            if flag:
                found.append("classifier")
    cols["toxic"] = np.asarray([bool(t) for t in toxic], dtype=float)
    for sample, found in zip(samples, toxic, strict=True):
        sample["findings"]["toxicity"] = found
    sources = [task.source_text(r) for r in task.records]
    if all(s is not None for s in sources):
        missing = [safety_metrics.unsupported_content(o, s) for o, s in zip(outputs, sources, strict=True)]
        cols["unsupported"] = np.asarray([bool(m) for m in missing], dtype=float)
        for sample, found in zip(samples, missing, strict=True):
            sample["findings"]["unsupported"] = found


def policy_columns(
    task: Task, outputs: list[str], cols: dict[str, Any], samples: list[dict[str, Any]], engine: Any
) -> dict[str, Any]:
    """Check each output as the gateway would (with its request and any retrieved context): per-item
    BLOCK/WARN columns for metrics and gates, the decision in each sample, and the rates by rule."""
    from medtune.safety.decision import policy_rates

    decisions = [
        engine.check(output, input=request_text(prompt), context=record.get("context"), task=task.name)
        for output, prompt, record in zip(outputs, task.prompts, task.records, strict=True)
    ]
    cols["policy_block"] = np.asarray([d.decision == "BLOCK" for d in decisions], dtype=float)
    cols["policy_warn"] = np.asarray([d.decision == "WARN" for d in decisions], dtype=float)
    for sample, decision in zip(samples, decisions, strict=True):
        sample["findings"]["policy"] = {
            "decision": decision.decision,
            "rules": [f"{f.rule_id}:{f.stage}" for f in decision.fired],
        }
    return {"file": str(engine.loaded.source), "sha256": engine.sha256, **policy_rates(decisions)}


def request_text(context: Context) -> str:
    """What the user asked: the prompt itself, or the last user message of a chat."""
    if isinstance(context, str):
        return context
    users = [m["content"] for m in context if m.get("role") == "user"]
    return users[-1] if users else "\n".join(m["content"] for m in context)


def run_perplexity(task: Task, backend: Backend) -> TaskRun:
    texts = [task.text(r) for r in task.records]
    scored = backend.loglikelihood_rolling(texts)
    nll = np.asarray([-lp for lp, _ in scored])
    cols = {
        "nll": nll,
        "tokens": np.asarray([n for _, n in scored], dtype=float),
        "words": np.asarray([len(t.split()) for t in texts], dtype=float),
        "bytes": np.asarray([len(t.encode("utf-8")) for t in texts], dtype=float),
    }
    samples = [
        {"nll": float(a), "tokens": int(b), "words": int(c), "bytes": int(d)}
        for a, b, c, d in zip(nll, cols["tokens"], cols["words"], cols["bytes"], strict=True)
    ]
    return TaskRun(cols, samples)


def run_completion_loss(task: Task, backend: Backend) -> TaskRun:
    pairs = list(zip(task.prompts, [task.target_text(r) for r in task.records], strict=True))
    if hasattr(backend, "completion_nll"):
        scored = backend.completion_nll(pairs)
    else:
        scored = [(-s[0], s.n_tokens) for s in backend.loglikelihood(pairs)]
    cols = {
        "nll": np.asarray([a for a, _ in scored]),
        "tokens": np.asarray([b for _, b in scored], dtype=float),
    }
    samples = [{"nll": float(a), "tokens": int(b)} for a, b in scored]
    return TaskRun(cols, samples)


def run_task(task: Task, backend: Backend, checks: SafetyChecks | None = None) -> TaskRun:
    start = time.perf_counter()
    kind = task.spec.kind
    if kind == "multiple_choice":
        result = run_multiple_choice(task, backend)
    elif kind == "generation":
        result = run_generation(task, backend, checks)
    elif kind == "perplexity":
        result = run_perplexity(task, backend)
    else:
        result = run_completion_loss(task, backend)
    result.seconds = time.perf_counter() - start
    return result


# ------------------------------------------------------------------------------------------ evaluation


@dataclass
class Evaluation:
    results: dict[str, Any]
    samples: list[dict[str, Any]]  # one row per (task, item); sides flat (one side) or nested (several)
    loss_samples: list[dict[str, Any]]  # completion_loss tasks: one row per (task, record)


def _base_row(task: Task, index: int) -> dict[str, Any]:
    record = task.records[index]
    row: dict[str, Any] = {"task": task.name, "id": record["_id"]}
    kind = task.spec.kind
    if kind in ("multiple_choice", "generation", "completion_loss"):
        row["prompt"] = task.prompts[index]
    if kind == "multiple_choice":
        choices = task.choices(record)
        row["choices"] = choices
        row["gold"] = task.gold_index(record, choices)
    elif kind == "generation":
        row["gold"] = (
            extraction_gold(task, record) if task.spec.scorer == "extraction" else task.target_text(record)
        )
    if task.spec.group_by:
        row["groups"] = task.group_values(record)
    return row


def evaluate(
    tasks: list[Task], sides: list[Side], settings: EvalConfig, *, quiet: bool = False
) -> Evaluation:
    """Run every task on every side, then metrics, CIs, paired deltas, subgroup breakdowns and gates."""
    checks = SafetyChecks.from_settings(settings)
    runs: dict[str, dict[str, TaskRun]] = {t.name: {} for t in tasks}
    infos: dict[str, dict[str, Any]] = {}
    for side in sides:
        with side.open() as backend:
            infos[side.name] = {"role": side.role, **backend.info.to_json()}
            for task in tasks:
                _say(quiet, f"eval: {task.name} ({len(task.records)} items) on {side.name} ...")
                run = run_task(task, backend, checks)
                runs[task.name][side.name] = run
                _say(quiet, f"eval: {task.name} on {side.name} done in {run.seconds:.1f}s")
    baseline = next((s.name for s in sides if s.role == "baseline"), None)
    candidate = next((s.name for s in sides if s.role == "candidate"), None)
    results: dict[str, Any] = {
        "schema": SCHEMA,
        "created_at": now_iso(),
        "code": code_version(),
        "sides": infos,
        "baseline": baseline,
        "candidate": candidate,
        "settings": {
            "bootstrap_samples": settings.bootstrap_samples,
            "confidence": settings.confidence,
            "seed": settings.seed,
            "limit": settings.limit,
            "num_fewshot": settings.num_fewshot,
        },
        "tasks": {},
    }
    for task in tasks:
        results["tasks"][task.name] = _task_results(task, runs[task.name], settings, baseline, candidate)
    results["gates"] = check_gates(settings.gates, results) if settings.gates else []
    results["passed"] = all(g["passed"] for g in results["gates"]) if settings.gates else None
    samples, loss_samples = _sample_rows(tasks, runs, [s.name for s in sides])
    return Evaluation(results, samples, loss_samples)


def _task_results(
    task: Task, runs: dict[str, TaskRun], settings: EvalConfig, baseline: str | None, candidate: str | None
) -> dict[str, Any]:
    n = len(task.records)
    seed = settings.seed + zlib.crc32(task.name.encode())
    resamples = resample_indices(n, settings.bootstrap_samples, seed)
    kind = task.spec.kind
    notes: list[str] = []
    for run in runs.values():
        notes.extend(x for x in run.notes if x not in notes)
    out: dict[str, Any] = {
        "kind": kind,
        "origin": task.origin,
        "description": task.spec.description,
        "spec_sha256": task.spec_sha256,
        "data": task.data,
        "items": n,
        "num_fewshot": task.spec.num_fewshot,
        "metrics": {},
        "seconds": {side: round(r.seconds, 3) for side, r in runs.items()},
    }
    metric_names = list(task.spec.selected_metrics())
    for side, run in runs.items():
        side_metrics = {}
        for name in metric_names:
            try:
                side_metrics[name] = bootstrap(
                    metric_def(name, kind), run.columns, resamples, settings.confidence
                ).to_json()
            except KeyError:  # a column the metric needs was not computed (e.g. no PHI scanner, no source)
                continue
        out["metrics"][side] = side_metrics
    if baseline and candidate and baseline in runs and candidate in runs:
        deltas = {}
        for name in metric_names:
            try:
                estimate = paired_bootstrap(
                    metric_def(name, kind),
                    runs[baseline].columns,
                    runs[candidate].columns,
                    resamples,
                    settings.confidence,
                )
            except KeyError:
                continue
            deltas[name] = estimate.to_json()
        out["deltas"] = deltas
    if task.spec.group_by:
        out["groups"] = _groups(task, runs, metric_names)
    if kind == "multiple_choice":
        out["calibration"] = {
            side: calibration_bins(run.columns["confidence"], run.columns["correct"])
            for side, run in runs.items()
        }
    policies = {side: r.policy for side, r in runs.items() if r.policy is not None}
    if policies:
        out["policy"] = policies
    if kind == "generation" and task.spec.scorer == "extraction":
        out["per_field"] = {side: _per_field(task, run) for side, run in runs.items()}
    out["notes"] = notes
    return out


def _per_field(task: Task, run: TaskRun) -> dict[str, dict[str, float]]:
    fields = task.spec.extraction_fields or ONCOLOGY_FIELDS
    tp, fp, fn = (run.columns[k].sum(axis=0) for k in ("tp", "fp", "fn"))
    out = {}
    for j, name in enumerate(fields):
        p = tp[j] / (tp[j] + fp[j]) if tp[j] + fp[j] else 0.0
        r = tp[j] / (tp[j] + fn[j]) if tp[j] + fn[j] else 0.0
        out[name] = {
            "precision": float(p),
            "recall": float(r),
            "f1": float(2 * p * r / (p + r)) if p + r else 0.0,
            "tp": int(tp[j]),
            "fp": int(fp[j]),
            "fn": int(fn[j]),
        }
    return out


def _groups(task: Task, runs: dict[str, TaskRun], metric_names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field_name in task.spec.group_by:
        values = [task.group_values(r)[field_name] for r in task.records]
        breakdown: dict[str, Any] = {}
        for value in sorted(set(values)):
            idx = np.asarray([i for i, v in enumerate(values) if v == value])
            entry: dict[str, Any] = {"items": len(idx)}
            for side, run in runs.items():
                side_values = {}
                for name in metric_names:
                    with contextlib.suppress(KeyError):
                        side_values[name] = metric_def(name, task.spec.kind)(run.columns, idx)
                entry[side] = side_values
            breakdown[value] = entry
        out[field_name] = breakdown
    return out


def _sample_rows(
    tasks: list[Task], runs: dict[str, dict[str, TaskRun]], side_names: list[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    loss_rows: list[dict[str, Any]] = []
    for task in tasks:
        target = loss_rows if task.spec.kind == "completion_loss" else rows
        for i in range(len(task.records)):
            row = _base_row(task, i)
            for side in side_names:
                fields = runs[task.name][side].samples[i]
                if len(side_names) == 1:
                    row.update(fields)
                else:
                    row[side] = fields
            target.append(row)
    return rows, loss_rows


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)


@contextlib.contextmanager
def opened(backend: Backend) -> Iterator[Backend]:
    """An already-open back end as a Side.open context (nothing to release)."""
    yield backend
