"""Training-speed benchmark: medtune's trainer vs transformers.Trainer + PEFT vs TRL SFTTrainer (three ways).

Every trainer gets the same base model, the same records rendered the same way (medtune's chat prompt +
`target_text` + EOS), the same LoRA adapter (seeded the same way), learning rate, schedule, batch size and
number of optimizer steps. Each one runs in its own child interpreter so that its peak RSS is its own and no
library state (deterministic-algorithm flags, patched forwards, thread pools) leaks between trainers.

Measured per trainer: supervised tokens per second (label != -100 after the causal shift, counted at
`compute_loss` for every trainer the same way) over the whole `trainer.train()` loop, the median per-step rate
and the rate per CPU-second (both steadier when other processes share the cores), wall time, peak RSS of the
child, and the held-out completion loss computed by one shared function
(medtune.evaluate.quick.completion_loss_sum).

    .venv/bin/python bench/train_speed.py            # full run (~10 min on 2 cores, 1 torch thread per child)
    .venv/bin/python bench/train_speed.py --quick    # smoke run (~3 min, numbers not meaningful)
    .venv/bin/python bench/train_speed.py --threads 0 --shapes vocab32k   # all cores, one shape

Results: printed table + bench/results/train_speed.json; child logs in bench/results/logs/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "oncology_ie_synthetic"
RESULTS = BENCH_DIR / "results"

TRAINERS = ("medtune", "hf_plain", "trl_tuned", "trl_default", "trl_packing")
TUNED_PEERS = ("hf_plain", "trl_tuned", "trl_packing")  # peers configured sensibly for CPU
DESCRIPTIONS = {
    "medtune": "medtune build_trainer (recipe defaults: group_by_length, completion-only LM head)",
    "hf_plain": "transformers.Trainer + PEFT, model(**batch).loss, Seq2Seq collator, random sampling",
    "trl_tuned": "TRL SFTTrainer prompt/completion, use_cpu, bf16=False, gradient_checkpointing=False",
    "trl_default": "TRL SFTTrainer out of the box (+use_cpu): bf16 autocast, gradient checkpointing",
    "trl_packing": "TRL SFTTrainer as trl_tuned + packing=True (bfd, padding-free)",
}
SHAPES = ("tiny", "vocab32k")
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]
LORA_R, LORA_ALPHA = 16, 32
WARMUP_RATIO, LR_SCHEDULER = 0.03, "cosine"  # medtune's defaults, given to every peer too
MAX_SEQ_LEN = 512  # every record of the data set fits (longest ~250 tokens), so nothing is truncated
# The larger shape: a realistic 32k vocabulary (Llama-2 / Mistral size) on a small, random-init decoder.
VOCAB32K = {
    "vocab_size": 32768,
    "hidden_size": 512,
    "num_layers": 4,
    "num_heads": 8,
    "intermediate_size": 1376,
}
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


@dataclass
class Settings:
    steps: dict[str, int]  # per shape: a vocab32k step costs ~3-4x a tiny one
    batch_size: int
    train_records: int
    eval_records: int
    shapes: list[str]
    trainers: list[str]
    learning_rate: float
    seed: int
    tiny_pretrain_steps: int
    threads: int  # torch intra-op threads per child; 0: torch's default (all cores)
    eval_batch_size: int = 8
    rounds: int = 1  # every trainer this many times, alternating; the median-rate run is reported


@dataclass
class ChildSpec:
    """Everything a child needs, written as JSON next to its scratch directory."""

    trainer: str
    shape: str
    model_dir: str
    train_jsonl: str
    eval_jsonl: str
    work_dir: str
    result_path: str
    steps: int
    batch_size: int
    learning_rate: float
    seed: int
    threads: int
    eval_batch_size: int


# ---------------------------------------------------------------------------------------------- parent side


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="very short smoke run (numbers are not meaningful)")
    p.add_argument(
        "--steps",
        type=int,
        help="optimizer steps per trainer, every shape (default tiny 30, vocab32k 10; quick 3/2)",
    )
    p.add_argument("--batch-size", type=int, help="records per optimizer step (default 8; quick 4)")
    p.add_argument("--train-records", type=int, help="first N train records (default 400; quick 32)")
    p.add_argument("--eval-records", type=int, help="first M validation records (default 48; quick 8)")
    p.add_argument("--shapes", default=",".join(SHAPES), help=f"comma list of {', '.join(SHAPES)}")
    p.add_argument("--trainers", default=",".join(TRAINERS), help=f"comma list of {', '.join(TRAINERS)}")
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every trainer N times, alternating, and report each one's median-rate run\n"
        "(one machine-wide disturbance then cannot decide a ratio)",
    )
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads per child (default 1; 0: all cores). One thread keeps the comparison steady\n"
        "on a shared machine: with 2 threads on 2 busy cores every parallel region waits for a parked\n"
        "thread and steps get 3-5x slower at random",
    )
    p.add_argument(
        "--tiny-pretrain-steps", type=int, default=100, help="pre-training steps of the tiny model"
    )
    p.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA, help="folder with train.jsonl, validation.jsonl"
    )
    p.add_argument("--out", type=Path, default=RESULTS / "train_speed.json")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # internal: path of a ChildSpec JSON
    return p.parse_args(argv)


def resolve_settings(args: argparse.Namespace) -> Settings:
    quick = args.quick

    def pick(value: int | None, full: int, smoke: int) -> int:
        return value if value is not None else (smoke if quick else full)

    shapes = [s for s in args.shapes.split(",") if s]
    trainers = [t for t in args.trainers.split(",") if t]
    for name, given, known in (("shape", shapes, SHAPES), ("trainer", trainers, TRAINERS)):
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise SystemExit(f"unknown {name}(s) {unknown}; expected some of {list(known)}")
    if "medtune" not in trainers:
        trainers.insert(0, "medtune")  # every ratio is relative to medtune
    return Settings(
        steps={"tiny": pick(args.steps, 30, 3), "vocab32k": pick(args.steps, 10, 2)},
        batch_size=pick(args.batch_size, 8, 4),
        train_records=pick(args.train_records, 400, 32),
        eval_records=pick(args.eval_records, 48, 8),
        shapes=shapes,
        trainers=trainers,
        learning_rate=args.learning_rate,
        seed=args.seed,
        tiny_pretrain_steps=args.tiny_pretrain_steps,
        threads=args.threads,
        rounds=max(1, args.rounds),
    )


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median supervised-token rate (failed runs count as slowest), with every round's
    rates beside it."""
    ranked = sorted(runs, key=lambda r: r.get("supervised_tokens_per_s", -1.0))
    chosen = dict(ranked[(len(ranked) - 1) // 2])
    if len(runs) > 1:
        keys = ("supervised_tokens_per_s", "supervised_tokens_per_cpu_s", "load_average_before")
        chosen["rounds"] = [{k: r.get(k) for k in keys} for r in runs]
    return chosen


def write_subset(source: Path, dest: Path, count: int) -> int:
    """The first `count` non-empty lines of a JSONL file, verbatim (medtune reads them like the original)."""
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()][:count]
    dest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


WAIVER = "phi-waiver.yaml"


def describe_subset(folder: Path, source: Path) -> None:
    """The provenance manifest and PHI waiver medtune's data gates require (the peers need neither)."""
    from medtune.data.manifest import write_manifest

    write_manifest(
        folder,
        source=f"first records of {source}",
        license="MIT",
        curator="bench/train_speed.py",
        deid_method="none (synthetic data)",
    )
    (folder / WAIVER).write_text(
        "who: bench/train_speed.py\nrole: benchmark\nreason: synthetic oncology records, no real patients\n"
        f'scope: ["*"]\ndate: {time.strftime("%Y-%m-%d")}\n'
    )


def ensure_tiny(train_jsonl: Path, pretrain_steps: int) -> Path:
    """The project's tiny Llama (byte-level BPE, 2048 vocab), built once into the results cache."""
    out = RESULTS / "models" / f"tiny-p{pretrain_steps}"
    if not (out / "config.json").is_file():
        from medtune.config import TinyModelConfig
        from medtune.models.tiny import build_tiny_model

        print(
            f"building tiny model into {out} (pretrain_steps={pretrain_steps}; cached for later runs)",
            flush=True,
        )
        cfg = TinyModelConfig(
            corpus=[train_jsonl],
            corpus_fields=["input", "output"],
            pretrain_steps=pretrain_steps,
            pretrain_batch_size=8,
            pretrain_seq_len=128,
        )
        build_tiny_model(out, cfg, quiet=True)
    return out


def ensure_vocab32k(tiny_dir: Path) -> Path:
    """A random-init Llama with a 32k vocabulary and untied head, reusing the tiny tokenizer (ids < 2048)."""
    shape = VOCAB32K
    out = RESULTS / "models" / f"vocab32k-h{shape['hidden_size']}-l{shape['num_layers']}"
    if (out / "config.json").is_file():
        return out
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    print(f"building vocab32k model into {out} (random init, seed 0)", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    tiny_cfg = json.loads((tiny_dir / "config.json").read_text())
    config = LlamaConfig(
        vocab_size=shape["vocab_size"],
        hidden_size=shape["hidden_size"],
        intermediate_size=shape["intermediate_size"],
        num_hidden_layers=shape["num_layers"],
        num_attention_heads=shape["num_heads"],
        num_key_value_heads=shape["num_heads"],
        max_position_embeddings=1024,
        tie_word_embeddings=False,  # like Llama-2 / Mistral: the head is its own 32k x hidden matrix
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tiny_cfg["eos_token_id"],
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent if out.parent.exists() else None))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)  # carries the chat template, so medtune loads it like any model dir
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def describe_model(model_dir: Path) -> dict[str, Any]:
    cfg = json.loads((model_dir / "config.json").read_text())
    h, layers, inter, vocab = (
        cfg["hidden_size"],
        cfg["num_hidden_layers"],
        cfg["intermediate_size"],
        cfg["vocab_size"],
    )
    kv = cfg.get("num_key_value_heads") or cfg["num_attention_heads"]
    head_dim = h // cfg["num_attention_heads"]
    per_layer = 2 * h * h + 2 * h * kv * head_dim + 3 * h * inter + 2 * h
    embeddings = vocab * h * (1 if cfg.get("tie_word_embeddings", True) else 2)
    return {
        "dir": str(model_dir),
        "hidden_size": h,
        "layers": layers,
        "heads": cfg["num_attention_heads"],
        "intermediate_size": inter,
        "vocab_size": vocab,
        "tied_embeddings": cfg.get("tie_word_embeddings", True),
        "parameters_millions": round((layers * per_layer + embeddings + h) / 1e6, 2),
    }


WARNING_LINE = re.compile(r"Warning:|warning:|^Failed to load|UserWarning|deprecated")


def run_child(spec: ChildSpec, log_path: Path) -> dict[str, Any]:
    """Run one trainer in a fresh interpreter; returns its result dict (or an error record)."""
    spec_path = Path(spec.work_dir) / "spec.json"
    spec_path.write_text(json.dumps(asdict(spec), indent=2))
    env = {**os.environ, **OFFLINE_ENV}
    started = time.perf_counter()
    with log_path.open("w") as log:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", str(spec_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
        )
    text = log_path.read_text(errors="replace")
    warnings = sorted(
        {
            re.sub(r"^\S*site-packages/", "", line.strip())[:240]
            for line in text.splitlines()
            if WARNING_LINE.search(line) and not line.strip().startswith("warnings.warn(")
        }
    )
    result_path = Path(spec.result_path)
    if proc.returncode != 0 or not result_path.is_file():
        tail = "\n".join(text.splitlines()[-15:])
        return {"trainer": spec.trainer, "error": f"exit code {proc.returncode}; log tail:\n{tail}"}
    result = json.loads(result_path.read_text())
    result["child_seconds"] = round(time.perf_counter() - started, 1)
    result["warnings"] = warnings
    result["log"] = str(log_path.relative_to(REPO))
    return result


def fmt_ratio(medtune: float | None, peer: float | None) -> str:
    return f"{medtune / peer:.2f}x" if medtune and peer else "-"


def fmt_loss_delta(medtune: float | None, peer: float | None) -> str:
    return f"{(peer - medtune) / medtune * 100:+.2f}%" if medtune and peer is not None else "-"


def print_shape_table(
    shape: str, info: dict[str, Any], rows: dict[str, dict[str, Any]], settings: Settings
) -> list[str]:
    """Print one shape's table; returns its headline lines."""
    m = info["model"]
    threads = next((r["torch_threads"] for r in rows.values() if "torch_threads" in r), "?")
    print(
        f"\n== {shape}: {m['parameters_millions']}M params, hidden {m['hidden_size']}, {m['layers']} layers, "
        f"vocab {m['vocab_size']}{' (tiny tokenizer, ids < 2048)' if shape == 'vocab32k' else ''}; "
        f"{info['train_records']} train / {info['eval_records']} eval records, "
        f"{settings.steps[shape]} steps x batch {settings.batch_size}, {threads} thread(s)/child, "
        f"LoRA r{LORA_R} on {'/'.join(t.split('_')[0] for t in LORA_TARGETS)}"
    )
    header = (
        f"{'trainer':<12} {'sup tok/s':>10} {'medtune x':>9} {'med-step tok/s':>14} {'medtune x':>9} "
        f"{'tok/CPU-s':>10} {'medtune x':>9} {'train s':>8} {'peak RSS MB':>11} {'eval loss':>10} "
        f"{'loss vs mt':>10} {'pad %':>6} {'cpu util':>8}"
    )
    print(header)
    print("-" * len(header))
    base = rows.get("medtune", {})
    for name, r in rows.items():
        if "error" in r:
            print(f"{name:<12} ERROR: {r['error'].splitlines()[0]}")
            continue
        pad = 100 * (1 - r["real_tokens"] / r["input_tokens"]) if r["input_tokens"] else 0.0
        rates = [
            f"{r[key]:>{width}.1f} {fmt_ratio(base.get(key), r[key]):>9}"
            for key, width in (
                ("supervised_tokens_per_s", 10),
                ("median_step_tokens_per_s", 14),
                ("supervised_tokens_per_cpu_s", 10),
            )
        ]
        print(
            f"{name:<12} {' '.join(rates)} {r['train_seconds']:>8.1f} {r['peak_rss_mb']:>11.0f} "
            f"{r['eval_loss']:>10.4f} {fmt_loss_delta(base.get('eval_loss'), r['eval_loss']):>10} "
            f"{pad:>6.1f} {100 * r['cpu_utilisation']:>7.0f}%"
        )
    headlines: list[str] = []
    tps = base.get("supervised_tokens_per_s")
    tuned = {n: r for n, r in rows.items() if n in TUNED_PEERS and "error" not in r}
    if tps and tuned:
        best = max(tuned, key=lambda n: tuned[n]["supervised_tokens_per_s"])
        med = base["median_step_tokens_per_s"]
        best_med = max(tuned, key=lambda n: tuned[n]["median_step_tokens_per_s"])
        cpu = base["supervised_tokens_per_cpu_s"]
        best_cpu = max(tuned, key=lambda n: tuned[n]["supervised_tokens_per_cpu_s"])
        headlines.append(
            f"{shape}: medtune is {tps / tuned[best]['supervised_tokens_per_s']:.2f}x the fastest tuned peer "
            f"({best}, {tuned[best]['supervised_tokens_per_s']:.1f} sup tok/s); by median step "
            f"{med / tuned[best_med]['median_step_tokens_per_s']:.2f}x ({best_med}), by CPU time "
            f"{cpu / tuned[best_cpu]['supervised_tokens_per_cpu_s']:.2f}x ({best_cpu})"
        )
    default = rows.get("trl_default")
    if tps and default and "error" not in default:
        headlines.append(
            f"{shape}: medtune is {tps / default['supervised_tokens_per_s']:.2f}x TRL out of the box; "
            f"peak RSS {base['peak_rss_mb']:.0f} MB vs {default['peak_rss_mb']:.0f} MB"
        )
    for line in headlines:
        print("  " + line)
    return headlines


def run_benchmark(args: argparse.Namespace) -> int:
    settings = resolve_settings(args)
    train_src, eval_src = args.data_dir / "train.jsonl", args.data_dir / "validation.jsonl"
    if not (train_src.is_file() and eval_src.is_file()):
        print(
            f"skipped: oncology IE data not found at {args.data_dir} (need train.jsonl and validation.jsonl)"
        )
        return 0
    os.environ.update(OFFLINE_ENV)
    RESULTS.mkdir(parents=True, exist_ok=True)
    logs = RESULTS / "logs"
    logs.mkdir(exist_ok=True)
    bench_started = time.perf_counter()
    load = os.getloadavg()[0]
    if load > 0.5:
        hint = "" if settings.threads == 1 else "; --threads 1 is steadier on a shared machine"
        print(
            f"note: 1-minute load average is {load:.2f} before the benchmark starts: other processes are "
            f"using the CPU, so wall-clock rates will be noisy (see the cpu util and tok/CPU-s columns{hint})"
        )

    tiny_dir = ensure_tiny(train_src, settings.tiny_pretrain_steps)
    model_dirs = {"tiny": tiny_dir}
    if "vocab32k" in settings.shapes:
        model_dirs["vocab32k"] = ensure_vocab32k(tiny_dir)

    report: dict[str, Any] = {
        "settings": asdict(settings),
        "lora": {"r": LORA_R, "alpha": LORA_ALPHA, "dropout": 0.0, "target_modules": LORA_TARGETS},
        "schedule": {"lr_scheduler": LR_SCHEDULER, "warmup_ratio": WARMUP_RATIO, "max_seq_len": MAX_SEQ_LEN},
        "trainers": {t: DESCRIPTIONS[t] for t in settings.trainers},
        "environment": environment(),
        "shapes": {},
    }
    headlines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="medtune-bench-") as scratch_root:
        scratch = Path(scratch_root)
        data_dir = scratch / "data"  # its own folder: the manifest covers exactly these two files
        data_dir.mkdir()
        train_jsonl, eval_jsonl = data_dir / "train.jsonl", data_dir / "eval.jsonl"
        n_train = write_subset(train_src, train_jsonl, settings.train_records)
        n_eval = write_subset(eval_src, eval_jsonl, settings.eval_records)
        describe_subset(data_dir, train_src.parent)
        for shape in settings.shapes:
            info: dict[str, Any] = {
                "model": describe_model(model_dirs[shape]),
                "train_records": n_train,
                "eval_records": n_eval,
                "results": {},
            }
            if shape == "vocab32k":
                info["note"] = (
                    "random-init weights; the tiny tokenizer only emits ids < 2048 (fine for speed)"
                )
            runs: dict[str, list[dict[str, Any]]] = {t: [] for t in settings.trainers}
            for round_ in range(settings.rounds):
                for trainer in settings.trainers:
                    runs[trainer].append(
                        run_trainer(settings, shape, trainer, round_, model_dirs[shape], scratch, logs)
                    )
            info["results"] = {t: median_run(r) for t, r in runs.items()}
            report["shapes"][shape] = info

    for shape, info in report["shapes"].items():
        headlines += print_shape_table(shape, info, info["results"], settings)
    notes = collect_notes(report)
    if notes:
        print("\nnotes:")
        for note in notes:
            print(f"  - {note}")
    report["headlines"] = headlines
    report["notes"] = notes
    report["bench_seconds"] = round(time.perf_counter() - bench_started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\nwrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out} "
        f"(whole benchmark {report['bench_seconds']:.0f} s; child logs in {logs.relative_to(REPO)}/)"
    )
    failed = [
        f"{s}/{t}" for s, i in report["shapes"].items() for t, r in i["results"].items() if "error" in r
    ]
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0


def run_trainer(
    settings: Settings, shape: str, trainer: str, round_: int, model_dir: Path, scratch: Path, logs: Path
) -> dict[str, Any]:
    """One child run of one trainer (its own scratch directory and log); prints its headline."""
    work = scratch / shape / f"{trainer}-{round_}"
    work.mkdir(parents=True)
    data_dir = scratch / "data"
    spec = ChildSpec(
        trainer=trainer,
        shape=shape,
        model_dir=str(model_dir),
        train_jsonl=str(data_dir / "train.jsonl"),
        eval_jsonl=str(data_dir / "eval.jsonl"),
        work_dir=str(work),
        result_path=str(work / "result.json"),
        steps=settings.steps[shape],
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        seed=settings.seed,
        threads=settings.threads,
        eval_batch_size=settings.eval_batch_size,
    )
    label = f"[{shape}] {trainer:<12}" + (f" round {round_ + 1}" if settings.rounds > 1 else "")
    print(f"{label} ... ", end="", flush=True)
    load_before = os.getloadavg()[0]
    result = run_child(spec, logs / f"{shape}-{trainer}.log")
    result["load_average_before"] = round(load_before, 2)
    if "error" in result:
        print("FAILED (see log)", flush=True)
    else:
        print(
            f"{result['supervised_tokens_per_s']:.1f} sup tok/s, {result['train_seconds']:.1f} s train, "
            f"eval loss {result['eval_loss']:.4f} ({result['child_seconds']:.0f} s total)",
            flush=True,
        )
    return result


def collect_notes(report: dict[str, Any]) -> list[str]:
    """Token-id checks, medtune's own token counter vs ours, what each TRL variant effectively ran with, and
    the distinct warnings the children printed (one line per fact, shapes folded together)."""
    notes: list[str] = []
    checks: dict[str, list[str]] = {}
    effective: dict[str, str] = {}
    warnings: dict[str, set[str]] = {}
    for shape, info in report["shapes"].items():
        for name, r in info["results"].items():
            if "error" in r:
                continue
            check = r.get("token_check")
            if check:
                verdict = "identical" if check["mismatched"] == 0 else f"{check['mismatched']} DIFFER"
                checks.setdefault(name, []).append(f"{shape} {verdict} ({check['checked']} records)")
            if name == "medtune" and r.get("medtune_trained_tokens") != r["supervised_tokens"]:
                notes.append(
                    f"{shape}/medtune: its own trained_tokens={r.get('medtune_trained_tokens')} "
                    f"differs from the benchmark count {r['supervised_tokens']}"
                )
            if name == "trl_packing" and "packed_batch_size" in r:
                notes.append(
                    f"{shape}/trl_packing: {r['packed_batch_size']} packed rows of <= {MAX_SEQ_LEN} tokens "
                    f"per step (~{r['records_per_row']:.2f} records/row), to match "
                    f"{report['settings']['batch_size']} records per step"
                )
            if r.get("effective"):
                effective[name] = ", ".join(f"{k}={v}" for k, v in r["effective"].items())
            for line in r.get("warnings", []):
                warnings.setdefault(line, set()).add(name)
    for name, verdicts in checks.items():
        notes.append(f"{name}: token ids + labels vs medtune's tokenize_for_training: {'; '.join(verdicts)}")
    notes += [f"{name} ran with {settings}" for name, settings in effective.items()]
    for line, names in warnings.items():
        who = "all trainers" if len(names) == len(report["trainers"]) else ", ".join(sorted(names))
        notes.append(f"printed by {who}: {line}")
    return notes


def environment() -> dict[str, Any]:
    import platform
    from importlib.metadata import version

    packages = {p: version(p) for p in ("torch", "transformers", "peft", "trl", "datasets", "accelerate")}
    return {"python": platform.python_version(), "cpu_count": os.cpu_count(), **packages}


# ----------------------------------------------------------------------------------------------- child side


class TokenMeter:
    """Counts what each trainer actually trains on, at `compute_loss`, identically for every trainer, and
    times every optimizer step (end to end, data loading included) for a contention-robust median rate.

    Counting in the collator would over-count: accelerate's dataloader fetches one batch ahead."""

    def __init__(self) -> None:
        self.supervised = 0  # label != -100 after the causal shift: the positions that carry loss
        self.input_tokens = 0  # tensor positions, padding included
        self.real_tokens = 0  # non-padding positions
        self.records = 0
        self.micro_batches = 0
        self.step_tokens: list[int] = []
        self.step_seconds: list[float] = []
        self._pending = 0
        self._clock = 0.0

    def attach(self, trainer: Any) -> None:
        from transformers import TrainerCallback

        original = trainer.compute_loss
        meter = self

        def compute_loss(model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            if model.training:
                meter.observe(inputs)
            return original(model, inputs, *args, **kwargs)

        class StepClock(TrainerCallback):
            def on_train_begin(self, *args: Any, **kwargs: Any) -> None:
                meter._clock = time.perf_counter()

            def on_step_end(self, *args: Any, **kwargs: Any) -> None:
                now = time.perf_counter()
                meter.step_seconds.append(now - meter._clock)
                meter.step_tokens.append(meter._pending)
                meter._clock, meter._pending = now, 0

        trainer.compute_loss = compute_loss  # Trainer.training_step calls self.compute_loss
        trainer.add_callback(StepClock())

    def observe(self, inputs: dict[str, Any]) -> None:
        labels, ids = inputs["labels"], inputs["input_ids"]
        supervised = int((labels[:, 1:] != -100).sum())
        self.supervised += supervised
        self._pending += supervised
        self.input_tokens += ids.numel()
        self.micro_batches += 1
        if "attention_mask" in inputs:
            self.real_tokens += int(inputs["attention_mask"].sum())
            self.records += ids.shape[0]
        else:  # padding-free: one flattened row, records restart their position ids at 0
            self.real_tokens += ids.numel()
            self.records += int((inputs["position_ids"] == 0).sum())

    def median_step_rate(self) -> float:
        """Median over steps of supervised tokens / step seconds: a CPU-contention spike or the first step's
        warm-up moves the loop average but not this."""
        import statistics

        rates = [t / s for t, s in zip(self.step_tokens, self.step_seconds, strict=True) if s > 0]
        return statistics.median(rates) if rates else 0.0


def peft_lora() -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=LORA_R, lora_alpha=LORA_ALPHA, lora_dropout=0.0, target_modules=LORA_TARGETS, task_type="CAUSAL_LM"
    )


def shared_args(spec: ChildSpec) -> dict[str, Any]:
    """Hyper-parameters every peer shares with medtune (not speed knobs): same run, different machinery."""
    return {
        "output_dir": str(Path(spec.work_dir) / "out"),
        "seed": spec.seed,
        "data_seed": spec.seed,
        "learning_rate": spec.learning_rate,
        "lr_scheduler_type": LR_SCHEDULER,
        "warmup_steps": WARMUP_RATIO,  # < 1: a ratio of the total steps, as medtune passes it
        "max_steps": spec.steps,
        "per_device_train_batch_size": spec.batch_size,
        "logging_steps": 10,
        "report_to": [],
        "save_strategy": "no",
        "disable_tqdm": True,
    }


def load_base(spec: ChildSpec) -> tuple[Any, Any]:
    """Tokenizer and float32 model exactly as medtune loads them (same loader, same dtype rule)."""
    from medtune.config import ModelConfig
    from medtune.models.loading import load_model, load_tokenizer

    cfg = ModelConfig(name_or_path=spec.model_dir)
    return load_tokenizer(cfg), load_model(cfg, "cpu")


def build_medtune(spec: ChildSpec) -> tuple[Any, Any, dict[str, Any]]:
    from medtune.config import (
        DataConfig,
        EvalConfig,
        ExportConfig,
        LoraConfig,
        ModelConfig,
        OutputConfig,
        RunConfig,
        TrainConfig,
    )
    from medtune.train.recipe import build_trainer

    work = Path(spec.work_dir)
    cfg = RunConfig(
        model=ModelConfig(name_or_path=spec.model_dir),
        data=DataConfig(
            train=Path(spec.train_jsonl),
            eval=Path(spec.eval_jsonl),
            phi_waiver=Path(spec.train_jsonl).parent / WAIVER,
        ),
        lora=LoraConfig(r=LORA_R, alpha=LORA_ALPHA, dropout=0.0, target_modules=LORA_TARGETS),
        train=TrainConfig(
            seed=spec.seed,
            learning_rate=spec.learning_rate,
            lr_scheduler=LR_SCHEDULER,
            warmup_ratio=WARMUP_RATIO,
            max_steps=spec.steps,
            batch_size=spec.batch_size,
            max_seq_len=MAX_SEQ_LEN,
            eval_per_epoch=False,
            save_per_epoch=False,
            report_to=[],
            logging_steps=10,
        ),
        eval=EvalConfig(enabled=False),
        export=ExportConfig(merge=False),
        output=OutputConfig(root=work, name="bench"),
    )
    trainer, tokenizer, _ = build_trainer(cfg, work / "run", quiet=True)
    return (
        trainer,
        tokenizer,
        {"group_by_length": cfg.train.group_by_length, "deterministic": cfg.train.deterministic},
    )


def build_hf_plain(
    spec: ChildSpec, train_examples: list[dict[str, list[int]]]
) -> tuple[Any, Any, dict[str, Any]]:
    from datasets import Dataset
    from peft import get_peft_model
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments, set_seed

    tokenizer, model = load_base(spec)
    set_seed(spec.seed)  # adapter init from the same RNG state as medtune's and TRL's
    model = get_peft_model(model, peft_lora())
    args = TrainingArguments(**shared_args(spec), use_cpu=True, bf16=False)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train_examples),
        data_collator=DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100, padding="longest"),
    )
    return trainer, tokenizer, {"bf16": args.bf16, "gradient_checkpointing": args.gradient_checkpointing}


def prompt_completion_dataset(tokenizer: Any, records: list[Any]) -> Any:
    """Plain-string prompt/completion columns (not conversational), rendered exactly as medtune does."""
    from datasets import Dataset

    from medtune.data.instruction import render_prompt

    return Dataset.from_dict(
        {
            "prompt": [render_prompt(tokenizer, r, None) for r in records],
            "completion": [r.target_text + tokenizer.eos_token for r in records],
        }
    )


def packed_rows_per_step(train_examples: list[dict[str, list[int]]], batch_size: int) -> tuple[int, float]:
    """Packed rows per step so a packing step trains on about as many records as a padded one does."""
    from datasets import Dataset
    from trl.data_utils import pack_dataset

    ids = Dataset.from_dict({"input_ids": [e["input_ids"] for e in train_examples]})
    rows = len(pack_dataset(ids, MAX_SEQ_LEN, "bfd"))
    per_row = len(train_examples) / rows
    return max(1, round(batch_size / per_row)), per_row


def build_trl(
    spec: ChildSpec, records: list[Any], train_examples: list[dict[str, list[int]]]
) -> tuple[Any, Any, dict[str, Any]]:
    from trl import SFTConfig, SFTTrainer

    tokenizer, model = load_base(spec)
    extra: dict[str, Any] = {}
    kwargs = shared_args(spec)
    if spec.trainer == "trl_default":
        # Only what is needed to run at all on CPU: SFTConfig defaults to bf16=True, which needs use_cpu here.
        config = SFTConfig(**kwargs, use_cpu=True)
    else:
        tuned = {"use_cpu": True, "bf16": False, "gradient_checkpointing": False, "max_length": MAX_SEQ_LEN}
        if spec.trainer == "trl_packing":
            rows, per_row = packed_rows_per_step(train_examples, spec.batch_size)
            kwargs["per_device_train_batch_size"] = rows
            tuned["packing"] = True  # default packing_strategy "bfd" turns padding-free on
            extra = {"packed_batch_size": rows, "records_per_row": round(per_row, 3)}
        config = SFTConfig(**kwargs, **tuned)
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=prompt_completion_dataset(tokenizer, records),
        processing_class=tokenizer,
        peft_config=peft_lora(),
    )
    extra["token_check"] = compare_token_ids(trainer.train_dataset, train_examples)
    extra["effective"] = {
        "bf16": config.bf16,
        "gradient_checkpointing": config.gradient_checkpointing,
        "max_length": config.max_length,
        "packing": config.packing,
        "padding_free": trainer.padding_free,
        "completion_only_loss": trainer.completion_only_loss,
    }
    return trainer, tokenizer, extra


def compare_token_ids(dataset: Any, reference: list[dict[str, list[int]]]) -> dict[str, int]:
    """TRL's prepared (input_ids, labels) per record vs medtune's tokenize_for_training; packed rows are split
    back into records by their seq_lengths and compared as a multiset (bfd reorders records)."""
    ours = sorted((tuple(e["input_ids"]), tuple(e["labels"])) for e in reference)
    theirs: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    for row in dataset:
        lengths = row.get("seq_lengths") or [len(row["input_ids"])]
        start = 0
        for n in lengths:
            theirs.append(
                (tuple(row["input_ids"][start : start + n]), tuple(row["labels"][start : start + n]))
            )
            start += n
    theirs.sort()
    mismatched = sum(a != b for a, b in zip(ours, theirs, strict=False)) + abs(len(ours) - len(theirs))
    return {"checked": len(ours), "mismatched": mismatched}


def process_cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_main(spec_path: Path) -> int:
    spec = ChildSpec(**json.loads(spec_path.read_text()))
    os.environ.update(OFFLINE_ENV)
    import resource

    import torch
    from transformers.utils import logging as hf_logging

    from medtune.data.instruction import read_instruction_jsonl, tokenize_for_training
    from medtune.evaluate.quick import completion_loss_sum

    hf_logging.set_verbosity_warning()
    if spec.threads:
        torch.set_num_threads(spec.threads)
    setup_started = time.perf_counter()
    records = read_instruction_jsonl(Path(spec.train_jsonl))
    eval_records = read_instruction_jsonl(Path(spec.eval_jsonl))
    extra: dict[str, Any] = {}
    if spec.trainer == "medtune":
        trainer, tokenizer, extra = build_medtune(spec)
    else:
        from medtune.config import ModelConfig
        from medtune.models.loading import load_tokenizer

        reference = tokenize_for_training(
            load_tokenizer(ModelConfig(name_or_path=spec.model_dir)), records, None, MAX_SEQ_LEN
        )
        if spec.trainer == "hf_plain":
            trainer, tokenizer, extra = build_hf_plain(spec, reference)
        else:
            trainer, tokenizer, extra = build_trl(spec, records, reference)
    meter = TokenMeter()
    meter.attach(trainer)
    setup_seconds = time.perf_counter() - setup_started

    cpu_before = process_cpu_seconds()
    started = time.perf_counter()
    train_result = trainer.train()
    train_seconds = time.perf_counter() - started
    cpu_seconds = process_cpu_seconds() - cpu_before  # far below wall x threads: the child waited for cores
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    # One evaluation for everyone: token-weighted completion cross-entropy (medtune's function), fp32.
    model = trainer.model
    model.eval()
    eval_examples = tokenize_for_training(tokenizer, eval_records, None, MAX_SEQ_LEN)
    loss_sum, n_tokens = completion_loss_sum(model, tokenizer, eval_examples, spec.eval_batch_size)

    result = {
        "trainer": spec.trainer,
        "shape": spec.shape,
        "steps": trainer.state.global_step,
        "supervised_tokens": meter.supervised,
        "supervised_tokens_per_s": round(meter.supervised / train_seconds, 1),
        "median_step_tokens_per_s": round(meter.median_step_rate(), 1),
        # CPU time hardly moves when other processes share the cores (with 1 thread): the steadiest rate here
        "supervised_tokens_per_cpu_s": round(meter.supervised / cpu_seconds, 1) if cpu_seconds else 0.0,
        "step_seconds": [round(x, 3) for x in meter.step_seconds],
        "train_cpu_seconds": round(cpu_seconds, 2),
        "train_seconds": round(train_seconds, 2),
        "setup_seconds": round(setup_seconds, 2),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "eval_loss": loss_sum / n_tokens,
        "eval_tokens": n_tokens,
        "train_loss": train_result.training_loss,
        "records_trained": meter.records,
        "input_tokens": meter.input_tokens,
        "real_tokens": meter.real_tokens,
        "micro_batches": meter.micro_batches,
        "torch_threads": torch.get_num_threads(),
        # CPU seconds / (wall seconds x threads): well under 100% means the child waited for cores
        "cpu_utilisation": round(cpu_seconds / (train_seconds * torch.get_num_threads()), 3),
        "load_average_after": round(os.getloadavg()[0], 2),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        **extra,
    }
    if spec.trainer == "medtune":
        result["medtune_trained_tokens"] = trainer.trained_tokens
    Path(spec.result_path).write_text(json.dumps(result, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        return child_main(args.child)
    return run_benchmark(args)


if __name__ == "__main__":
    sys.exit(main())
