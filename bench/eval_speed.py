"""Multiple-choice scoring speed: medtune's evaluation harness vs lm-evaluation-harness, same model, same
items.

    python bench/eval_speed.py [--limit N] [--batch-size 16] [--data
    ../shared/data/mmlu_medical_mcq/test.jsonl]

Both score the `mmlu_medical_mcq` file (MedQA JSONL layout) with the medqa_4options prompt on the same
in-memory tiny Llama (built once, cached under bench/results/models/). Reported:

- end to end: medtune's task load + scoring vs lm-eval's `simple_evaluate` (task build + scoring);
- scoring only: medtune's `HFBackend.loglikelihood` vs lm-eval's `HFLM.loglikelihood` on the same
  requests;
- the number of items whose predicted answer (acc and acc_norm) differs (must be 0), and the largest
  log-likelihood difference;
- op times from one profiled pass of each: lm-eval's time in tensor ops over the time medtune's matrix
  products alone would take with perfect scaling over the threads, the most medtune could gain in fp32 at
  this machine's matmul speed even if every other op were free.

Every engine runs once per round (rounds alternate the engines, so a busy machine disturbs all of them);
the best of `--repeats` rounds is kept, with CPU time beside wall time, the load average at each run and the
torch thread count both engines ran with (the same process and thread pool).

Writes bench/results/eval_speed.json. Skips cleanly (exit 0) when the data file or lm-eval is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "mmlu_medical_mcq" / "test.jsonl"


def build_model(data: Path) -> Path:
    """The quickstart-sized tiny Llama (hidden 256, 4 layers, vocab 2048), pre-trained on the questions."""
    from medtune.config import TinyModelConfig
    from medtune.models.tiny import build_tiny_model

    out = RESULTS / "models" / "eval-tiny-mmlu"
    if not (out / "config.json").is_file():
        print(f"building the tiny model at {out} ...", flush=True)
        cfg = TinyModelConfig(
            corpus=[data],
            corpus_fields=["question", "answer"],
            pretrain_steps=150,
            pretrain_batch_size=8,
            pretrain_seq_len=128,
            seed=0,
        )
        build_tiny_model(out, cfg, quiet=True)
    return out


TEXTS_TASK = """task: mmlu_option_texts
description: The option texts themselves are the choices (multi-token continuations)
kind: multiple_choice
data: {format: medqa_jsonl}
prompt: "Question: {{ question }}\\nAnswer:"
choices: options
target: "{{ 'ABCDEFGHIJ'.index(answer_idx) }}"
"""


def medtune_task_name(variant: str, workdir: Path) -> str:
    """letters: the built-in medqa_4options task; texts: a user task whose choices are the option texts."""
    if variant == "letters":
        return "medqa_4options"
    path = workdir / "mmlu_option_texts.yaml"
    path.write_text(TEXTS_TASK)
    return str(path)


def lm_eval_task(workdir: Path, data: Path, limit: int | None, variant: str = "letters") -> str:
    import lm_eval

    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[:limit] if limit else rows
    hf = [
        {
            "sent1": r["question"],
            **{f"ending{i}": r["options"][k] for i, k in enumerate("ABCD")},
            "label": "ABCD".index(r["answer_idx"]),
        }
        for r in rows
    ]
    (workdir / "medqa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in hf))
    site = Path(lm_eval.__file__).parent / "tasks" / "medqa" / "medqa.yaml"
    texts = (
        'doc_to_text: "Question: {{sent1}}\\nAnswer:"\n'
        'doc_to_choice: "{{[ending0, ending1, ending2, ending3]}}"\ndoc_to_target: label\n'
    )
    (workdir / "bench_medqa.yaml").write_text(
        f"include: {site}\ntask: bench_medqa\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {workdir / 'medqa.jsonl'}\n"
        "training_split: null\nvalidation_split: null\ntest_split: test\n"
        + (texts if variant == "texts" else "")
    )
    return "bench_medqa"


MATMUL_OPS = frozenset({"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"})


def op_times(call: Callable[[], Any]) -> dict[str, float]:
    """Seconds spent in tensor ops during one call, all ops and matrix products only (torch.profiler,
    self time of each op on the calling thread)."""
    from torch.profiler import profile

    with profile() as prof:
        call()
    events = prof.key_averages()
    return {
        "ops_s": round(sum(e.self_cpu_time_total for e in events) / 1e6, 3),
        "matmul_s": round(sum(e.self_cpu_time_total for e in events if e.key in MATMUL_OPS) / 1e6, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=16, help="medtune rows and lm-eval batch size")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--variant",
        choices=("letters", "texts"),
        default="letters",
        help="letters: medqa_4options (choices ' A'..' D'); texts: the option texts are the choices",
    )
    parser.add_argument("--skip-batch1", action="store_true", help="skip lm-eval at its default batch 1")
    parser.add_argument(
        "--repeats", type=int, default=3, help="repetitions (best time kept; the machine may be shared)"
    )
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"skip: {args.data} not found (the shared data folder is not on this machine)")
        return 0
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        print("skip: lm-eval is not installed (pip install 'medtune[dev]')")
        return 0
    import tempfile

    from medtune.quiet_libs import quiet_third_party

    quiet_third_party()  # as the CLI starts: medtune's batched tokenizer calls may use the thread pool
    import numpy as np
    import torch
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from medtune.evaluate.backends.hf import HFBackend
    from medtune.evaluate.runner import run_multiple_choice
    from medtune.evaluate.tasks import load_task

    torch.set_num_threads(args.threads)
    model_dir = build_model(args.data)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)

    # warm up both code paths on a few items (first-call allocations, lazy imports)
    backend = HFBackend(model, tokenizer, batch_size=args.batch_size)
    scratch = Path(tempfile.mkdtemp())
    task_name = medtune_task_name(args.variant, scratch)
    run_multiple_choice(load_task(task_name, data=args.data, limit=8), backend)

    # scoring only: the same (context, continuation) requests through each engine
    task = load_task(task_name, data=args.data, limit=args.limit)
    requests = [
        (c, " " + x) for c, r in zip(task.contexts(), task.records, strict=True) for x in task.choices(r)
    ]

    class _Req:  # lm-eval reads .args only
        def __init__(self, pair: tuple[str, str]) -> None:
            self.args = pair

    wrapped = [_Req(r) for r in requests]
    tmp = tempfile.mkdtemp()
    name = lm_eval_task(Path(tmp), args.data, args.limit, args.variant)
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=args.batch_size)
    lm_default = HFLM(pretrained=model, tokenizer=tokenizer)  # lm-eval's default batch size is 1
    results: dict[str, Any] = {}

    def medtune_e2e() -> None:  # task load + scoring + per-item results
        results["ours"] = run_multiple_choice(load_task(task_name, data=args.data, limit=args.limit), backend)

    def lm_eval_e2e() -> None:  # task build, dataset, requests, scoring, metrics
        results["theirs"] = simple_evaluate(
            model=lm,
            tasks=[name],
            task_manager=TaskManager(include_path=tmp, include_defaults=False),
            log_samples=True,
            verbosity="ERROR",
            bootstrap_iters=0,
        )

    engines: dict[str, Callable[[], Any]] = {
        "e2e_medtune": medtune_e2e,
        "e2e_lm_eval": lm_eval_e2e,
        "medtune": lambda: backend.loglikelihood(requests),
        "lm_eval": lambda: lm.loglikelihood(wrapped, disable_tqdm=True),
    }
    if not args.skip_batch1:
        engines["lm_eval_bs1"] = lambda: lm_default.loglikelihood(wrapped, disable_tqdm=True)
    # Every engine once per round, rounds repeated, best time kept: the machine may be shared, and
    # alternating spreads any disturbance over all of them. CPU time is recorded beside wall time.
    threads = {"medtune": torch.get_num_threads()}
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in engines}
    for _ in range(args.repeats):
        for engine, call in engines.items():
            load = os.getloadavg()[0]
            wall, cpu = time.perf_counter(), time.process_time()
            call()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            runs[engine].append({"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "load_1min": load})
            print(f"{engine}: {wall:.2f}s wall, {cpu:.2f}s CPU (load {load:.2f})", flush=True)
    threads["lm_eval"] = torch.get_num_threads()  # lm-eval runs in this process: same torch thread pool
    # The ceiling at this machine's matmul speed: lm-eval's time in tensor ops over the time medtune's
    # matrix products alone would take on all threads with perfect scaling (single-threaded matmul time /
    # threads): what would remain if every other op of medtune were free. One profiled, untimed pass
    # each; medtune on one thread and one worker, so every op runs on the profiled thread.
    workers, backend.workers = backend.workers, 1
    torch.set_num_threads(1)
    floor: dict[str, Any] = {"medtune_1_thread": op_times(engines["medtune"])}
    torch.set_num_threads(args.threads)
    backend.workers = workers
    floor["lm_eval"] = op_times(engines["lm_eval"])
    floor["max_speedup_if_only_medtune_matmuls_remained"] = round(
        floor["lm_eval"]["ops_s"] / (floor["medtune_1_thread"]["matmul_s"] / args.threads), 2
    )
    print(f"op times: {json.dumps(floor)}", flush=True)
    best = {k: min(r["wall_s"] for r in v) for k, v in runs.items()}
    best_cpu = {k: min(r["cpu_s"] for r in v) for k, v in runs.items()}
    ours = results["ours"].samples
    out = results["theirs"]
    theirs = sorted(out["samples"][name], key=lambda s: s["doc_id"])

    differ_acc = differ_norm = 0
    max_diff = 0.0
    for mine, their in zip(ours, theirs, strict=True):
        lls = np.array([r[0] for r in their["filtered_resps"]])
        max_diff = max(max_diff, float(np.max(np.abs(np.array(mine["loglikelihoods"]) - lls))))
        differ_acc += mine["correct"] != bool(their["acc"]) or mine["pred"] != int(np.argmax(lls))
        differ_norm += mine["correct_norm"] != bool(their["acc_norm"])
    acc_ours = float(np.mean([s["correct"] for s in ours]))
    report = {
        "variant": args.variant,
        "items": len(ours),
        "data": str(args.data),
        "model": str(model_dir),
        "parameters": sum(p.numel() for p in model.parameters()),
        "batch_size": args.batch_size,
        "threads": args.threads,
        "repeats": args.repeats,
        "load_average_at_end": os.getloadavg(),
        "torch_threads": threads,
        "end_to_end_s": {"medtune": best["e2e_medtune"], "lm_eval": best["e2e_lm_eval"]},
        "end_to_end_speedup": round(best["e2e_lm_eval"] / best["e2e_medtune"], 2),
        "scoring_only_s": {"medtune": best["medtune"], "lm_eval": best["lm_eval"]},
        "scoring_only_speedup": round(best["lm_eval"] / best["medtune"], 2),
        "scoring_only_cpu_s": {"medtune": best_cpu["medtune"], "lm_eval": best_cpu["lm_eval"]},
        "scoring_only_cpu_speedup": round(best_cpu["lm_eval"] / best_cpu["medtune"], 2),
        "lm_eval_default_batch_size_1_scoring_s": best.get("lm_eval_bs1"),
        "speedup_vs_lm_eval_default_batch": (
            round(best["lm_eval_bs1"] / best["medtune"], 2) if "lm_eval_bs1" in best else None
        ),
        "op_times": floor,
        "all_runs": runs,
        "items_with_different_prediction": {"acc": int(differ_acc), "acc_norm": int(differ_norm)},
        "max_abs_loglikelihood_diff": max_diff,
        "acc": {"medtune": acc_ours, "lm_eval": out["results"][name]["acc,none"]},
        "acc_norm": {
            "medtune": float(np.mean([s["correct_norm"] for s in ours])),
            "lm_eval": out["results"][name]["acc_norm,none"],
        },
        "torch": torch.__version__,
        "lm_eval": __import__("lm_eval").__version__,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"eval_speed{'' if args.variant == 'letters' else '_texts'}.json").write_text(
        json.dumps(report, indent=2) + "\n"
    )
    print(json.dumps(report, indent=2))
    return 1 if differ_acc or differ_norm else 0


if __name__ == "__main__":
    sys.exit(main())
