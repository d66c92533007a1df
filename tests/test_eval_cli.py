"""`medtune eval` / `medtune report` command functions, driven through typer on the tiny model, offline."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from conftest import ONCOLOGY, REPO, make_config
from medtune.errors import ConfigError, GateFailure
from medtune.evaluate.cli import eval_command, report_command

FIXTURES = Path(__file__).parent / "data" / "eval"
MMLU = FIXTURES / "mmlu_medical_sample.jsonl"

app = typer.Typer(pretty_exceptions_enable=False)
app.command("eval")(eval_command)
app.command("report")(report_command)


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def adapter(tiny_model, tmp_path_factory):
    """A LoRA adapter with non-zero weights: a candidate that differs from its base."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    peft = get_peft_model(
        model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    out = tmp_path_factory.mktemp("adapter") / "adapter"
    peft.save_pretrained(out)
    return out


def test_one_line_multiple_choice(tiny_model, tmp_path):
    out = tmp_path / "out"
    result = invoke(
        "eval",
        "--model",
        tiny_model,
        "--task",
        "medqa_4options",
        "--data",
        MMLU,
        "--limit",
        8,
        "--out",
        out,
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["schema"] == "medtune.eval/1" and results["candidate"] == "model"
    assert results["sides"]["model"]["model"]["sha256"]  # model identity by hash
    task = results["tasks"]["medqa_4options"]
    assert task["items"] == 8 and task["data"]["sha256"] and task["data"]["items_sha256"]
    acc = task["metrics"]["model"]["acc"]
    assert 0 <= acc["ci_low"] <= acc["value"] <= acc["ci_high"] <= 1
    assert {"acc", "acc_norm", "ece"} <= set(task["metrics"]["model"]) and task["calibration"]["model"]
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 8
    first = samples[0]
    assert {"id", "pred", "gold", "loglikelihoods", "prompt", "choices", "correct"} <= set(first)
    assert (
        len(first["loglikelihoods"]) == 4
        and first["id"] == json.loads(MMLU.read_text().splitlines()[0])["realidx"].__str__()
    )
    assert sum(s["correct"] for s in samples) / 8 == acc["value"]
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert {"task": "medqa_4options", "metric": "acc", "side": "model"}.items() <= rows[0].items()
    html = (out / "report.html").read_text()
    assert "<svg" in html and "calibration" in html and "medqa_4options" in html
    assert json.loads((out / "manifest.json").read_text())["inputs"]["data:medqa_4options"]["sha256"]
    assert "acc" in result.output and "results:" in result.output


def test_generation_tasks_from_an_eval_config(tiny_model, tmp_path):
    config = tmp_path / "eval.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model": {"model": str(tiny_model)},
                "eval": {
                    "bootstrap_samples": 200,
                    "tasks": [
                        {
                            "name": "oncology_ie",
                            "data": str(ONCOLOGY / "validation.jsonl"),
                            "limit": 3,
                            "max_new_tokens": 24,
                        },
                        {
                            "name": "mts_dialog",
                            "data": str(FIXTURES / "mts_dialog_sample.csv"),
                            "limit": 2,
                            "max_new_tokens": 16,
                        },
                        {"name": "triage_emergency", "limit": 4, "max_new_tokens": 8},
                        {"name": "perplexity", "data": str(FIXTURES / "corpus.txt")},
                    ],
                    "policy": str(REPO / "configs" / "policy.yml"),
                },
                "out": str(tmp_path / "gen"),
            }
        )
    )
    result = invoke("eval", config, "--quiet")
    assert result.exit_code == 0, result.output
    tasks = json.loads((tmp_path / "gen" / "results.json").read_text())["tasks"]
    onco = tasks["oncology_ie"]["metrics"]["model"]
    assert {
        "json_validity",
        "exact_match",
        "micro_f1",
        "macro_f1",
        "toxicity_rate",
        "unsupported_rate",
    } <= set(onco)
    assert set(tasks["oncology_ie"]["per_field"]["model"]) >= {"cancer_type", "stage"}
    assert {"rouge1", "rouge2", "rougeL", "bleu"} <= set(tasks["mts_dialog"]["metrics"]["model"])
    assert "section_header" in tasks["mts_dialog"]["groups"]
    assert "emergency_recall" in tasks["triage_emergency"]["metrics"]["model"]
    ppl = tasks["perplexity"]["metrics"]["model"]
    assert ppl["token_perplexity"]["value"] > 1 and ppl["bits_per_byte"]["value"] > 0
    samples = [json.loads(line) for line in (tmp_path / "gen" / "samples.jsonl").read_text().splitlines()]
    onco_rows = [s for s in samples if s["task"] == "oncology_ie"]
    assert (
        len(onco_rows) == 3
        and isinstance(onco_rows[0]["output"], str)
        and isinstance(onco_rows[0]["gold"], dict)
    )
    assert "toxicity" in onco_rows[0]["findings"] and "valid_json" in onco_rows[0]["scores"]
    assert_policy_rates_match_the_engine(tasks, samples, REPO / "configs" / "policy.yml")
    assert "policy_block_rate" not in tasks["perplexity"]["metrics"]["model"]  # only generations are checked


def assert_policy_rates_match_the_engine(tasks: dict, samples: list[dict], policy: Path) -> None:
    """Every generation task's policy rates equal what the engine decides on its samples, checked afresh."""
    from medtune.evaluate.runner import request_text
    from medtune.safety.engine import PolicyEngine

    engine = PolicyEngine.from_file(policy)
    for name in ("oncology_ie", "mts_dialog", "triage_emergency"):
        rows = [s for s in samples if s["task"] == name]
        decisions = [
            engine.check(r["output"], input=request_text(r["prompt"]), task=name).decision for r in rows
        ]
        assert [r["findings"]["policy"]["decision"] for r in rows] == decisions
        metrics = tasks[name]["metrics"]["model"]
        assert metrics["policy_block_rate"]["value"] == decisions.count("BLOCK") / len(rows)
        assert metrics["policy_warn_rate"]["value"] == decisions.count("WARN") / len(rows)
        rates = tasks[name]["policy"]["model"]
        assert rates["sha256"] == engine.sha256 and rates["n"] == len(rows)
        assert rates["block_rate"] == metrics["policy_block_rate"]["value"]


def test_baseline_vs_candidate_with_gates(tiny_model, adapter, tmp_path):
    out = tmp_path / "cmp"
    result = invoke(
        "eval",
        "--baseline",
        tiny_model,
        "--candidate",
        adapter,
        "--task",
        "medqa_4options",
        "--data",
        MMLU,
        "--limit",
        10,
        "--out",
        out,
        "--quiet",
        "--gate",
        "medqa_4options/acc delta >= -1",
        "--gate",
        "acc delta >= 0.5",
    )
    assert isinstance(result.exception, GateFailure) and result.exception.exit_code == 3
    assert "1 of 2 gate(s) failed" in str(result.exception)
    results = json.loads((out / "results.json").read_text())  # everything is written before the exit
    assert (results["baseline"], results["candidate"]) == ("baseline", "candidate")
    assert results["sides"]["candidate"]["adapter"]["sha256"]
    task = results["tasks"]["medqa_4options"]
    delta = task["deltas"]["acc"]
    base, cand = task["metrics"]["baseline"]["acc"]["value"], task["metrics"]["candidate"]["acc"]["value"]
    assert (
        delta["value"] == pytest.approx(cand - base) and delta["ci_low"] <= delta["value"] <= delta["ci_high"]
    )
    assert [g["passed"] for g in results["gates"]] == [True, False] and results["passed"] is False
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert {"baseline", "candidate", "gold", "id"} <= set(samples[0])
    assert samples[0]["baseline"]["loglikelihoods"] != samples[0]["candidate"]["loglikelihoods"]
    assert "PASS" in result.output and "FAIL" in result.output  # the gate table
    html = (out / "report.html").read_text()
    assert "GATES FAILED" in html and "baseline" in html and "candidate" in html


JSON_POLICY = """
version: 1
rules:
  - id: answer-not-a-json-object
    description: The extraction answer must be one JSON object.
    stage: output
    action: block
    detector: {structure: {json_schema: {type: object}}}
  - id: never-fires
    description: A phrase the tiny model does not write.
    stage: output
    action: warn
    detector: {phrases: [xyzzy plugh]}
"""


def is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def test_policy_rates_feed_gates(tiny_model, tmp_path):
    """`--policy` checks every output; its block rate is a metric like any other: CIs, table, gate, exit 3."""
    policy = tmp_path / "policy.yml"
    policy.write_text(JSON_POLICY)
    out = tmp_path / "pol"
    data = ONCOLOGY / "validation.jsonl"
    args = [
        "eval",
        "--model",
        tiny_model,
        "--task",
        "oncology_ie",
        "--data",
        data,
        "--limit",
        3,
        "--out",
        out,
    ]
    result = invoke(*args, "--policy", policy, "--gate", "policy_block_rate <= 0.5")
    assert isinstance(result.exception, GateFailure) and result.exception.exit_code == 3
    task = json.loads((out / "results.json").read_text())["tasks"]["oncology_ie"]
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    not_json = sum(not is_json_object(s["output"]) for s in samples)
    assert not_json > 0  # the tiny model writes no valid answer
    assert task["metrics"]["model"]["policy_block_rate"]["value"] == not_json / 3
    assert task["policy"]["model"]["by_rule"]["answer-not-a-json-object"]["fired"] == not_json
    assert "never-fires" not in task["policy"]["model"]["by_rule"]
    assert "policy on model: PASS" in result.output and "answer-not-a-json-object" in result.output
    assert "policy decisions" in (out / "report.html").read_text()

    policy.write_text("version: 1\nrules:\n  - id: x\n    stage: sideways\n")
    bad = invoke(*args[:-1], tmp_path / "pol2", "--policy", policy)
    assert isinstance(bad.exception, ConfigError) and "policy.yml:4" in str(bad.exception)
    assert not (tmp_path / "pol2").exists()  # a bad policy stops before any model runs or file is written


GATE_SCRIPT = """
import sys, typer
from medtune.errors import MedtuneError
from medtune.evaluate.cli import eval_command
app = typer.Typer(pretty_exceptions_enable=False)
app.command("eval")(eval_command)
app.command("other")(lambda: None)
try:
    app(sys.argv[1:])
except MedtuneError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(exc.exit_code)
"""


def test_failed_gate_exits_3_as_a_process(tiny_model, tmp_path):
    def run(gate: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-c",
                GATE_SCRIPT,
                "eval",
                "--model",
                str(tiny_model),
                "--task",
                "medqa_4options",
                "--data",
                str(MMLU),
                "--limit",
                "4",
                "--out",
                str(tmp_path / gate.split()[0]),
                "--quiet",
                "--bootstrap-samples",
                "0",
                "--gate",
                gate,
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=300,
        )

    failed = run("acc >= 1.01")  # (a passing run exits 0: test_one_line_multiple_choice)
    assert failed.returncode == 3 and "gate(s) failed" in failed.stderr and "Traceback" not in failed.stderr
    assert "FAIL" in failed.stdout and (tmp_path / "acc" / "results.json").is_file()


def test_report_regenerates_html(tiny_model, tmp_path):
    out = tmp_path / "r"
    assert (
        invoke(
            "eval",
            "--model",
            tiny_model,
            "--task",
            "mmlu_medical",
            "--data",
            MMLU,
            "--limit",
            6,
            "--out",
            out,
            "--quiet",
        ).exit_code
        == 0
    )
    (out / "report.html").unlink()
    result = invoke("report", out)
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text()
    assert "mmlu_medical" in html and "by subject" in html  # per-subgroup breakdown


def test_run_directory_keeps_working(tiny_model, small_data, adapter, tmp_path):
    """`medtune eval RUN_DIR` still evaluates the run's adapter against its base, with the config's gates."""
    import shutil

    config = make_config(
        tmp_path,
        tiny_model,
        small_data,
        eval={"max_new_tokens": 8, "gates": ["oncology_ie/json_validity >= 0.99"]},
    )
    run_dir = tmp_path / "runs" / "t" / "20260101-000000-abcdef"
    run_dir.mkdir(parents=True)
    shutil.copy(config, run_dir / "config.yaml")
    shutil.copytree(adapter, run_dir / "train" / "adapter")
    result = invoke("eval", run_dir, "--quiet")
    assert isinstance(result.exception, GateFailure), result.output
    results = json.loads((run_dir / "eval" / "results.json").read_text())
    for side in ("base", "tuned"):
        assert results[side]["perplexity"] > 1 and "per_field" in results[side]["extraction"]
    assert results["tasks"]["heldout_loss"]["deltas"]["eval_loss"]["ci_low"] is not None
    samples = [json.loads(line) for line in (run_dir / "eval" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4 and {"id", "gold", "base", "tuned"} <= set(samples[0])
    assert len((run_dir / "eval" / "loss_samples.jsonl").read_text().splitlines()) == 8
    assert "base vs tuned" in result.output and "FAIL" in result.output


def test_usage_errors_are_clear(tiny_model):
    with pytest.raises(ConfigError, match="expected --task NAME"):
        eval_command(model=str(tiny_model))
    with pytest.raises(ConfigError, match="expected one --task"):
        eval_command(model=str(tiny_model), task=["pubmedqa,medqa_4options"], data=MMLU)
    with pytest.raises(ConfigError, match="nothing to evaluate"):
        eval_command(task=["mmlu_medical"], data=MMLU)
    with pytest.raises(ConfigError, match="--gate"):
        eval_command(model=str(tiny_model), task=["mmlu_medical"], gate=["acc is fine"])
