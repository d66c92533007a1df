"""Merge parity through the CLI, and the quickstart config end to end (with a short max_steps)."""

import json
import shutil

import pytest
import torch
import yaml

from conftest import REPO, make_config, run_cli


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_model, small_data):
    tmp = tmp_path_factory.mktemp("merge")
    config = make_config(tmp, tiny_model, small_data, train={"max_steps": 6})
    result = run_cli("train", str(config), "--quiet")
    assert result.returncode == 0, result.stderr
    return next((tmp / "runs" / "t").glob("2*"))


def test_merged_model_matches_adapter(run_dir, tiny_model):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result = run_cli("export", "merge", str(run_dir))
    assert result.returncode == 0, result.stderr
    parity = json.loads((run_dir / "merged" / "parity.json").read_text())
    assert parity["passed"] and parity["max_abs_logit_diff"] < 1e-3 and parity["argmax_agreement"] == 1.0
    manifest = json.loads((run_dir / "merged" / "manifest.json").read_text())
    assert manifest["inputs"]["adapter"]["sha256"] and "model.safetensors" in manifest["outputs"]

    tokenizer = AutoTokenizer.from_pretrained(run_dir / "merged")
    merged = AutoModelForCausalLM.from_pretrained(run_dir / "merged").eval()
    adapted = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model), run_dir / "train" / "adapter"
    ).eval()
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Extract all cancer-related entities.\n\nStage II colon cancer."}],
        tokenize=False, add_generation_prompt=True,
    )  # fmt: skip
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
    with torch.no_grad():
        a = merged.generate(**ids, max_new_tokens=20, do_sample=False)
        b = adapted.generate(**ids, max_new_tokens=20, do_sample=False)
    assert torch.equal(a, b)


def test_merge_above_tolerance_fails_and_writes_nothing(tmp_path, run_dir):
    strict = tmp_path / "strict-run"
    shutil.copytree(run_dir, strict, ignore=shutil.ignore_patterns("merged", "checkpoints"))
    config = yaml.safe_load((strict / "config.yaml").read_text())
    config["export"]["merge_tolerance"] = 1e-12
    (strict / "config.yaml").write_text(yaml.safe_dump(config))
    result = run_cli("export", "merge", str(strict))
    assert result.returncode == 3
    assert "merge parity failed" in result.stderr and "Traceback" not in result.stderr
    assert not (strict / "merged").exists()
    assert not list(strict.glob(".merged*"))


def test_merge_without_adapter_is_a_clear_error(tmp_path, run_dir):
    empty = tmp_path / "no-train"
    empty.mkdir()
    shutil.copy(run_dir / "config.yaml", empty / "config.yaml")
    result = run_cli("export", "merge", str(empty))
    assert result.returncode == 2 and "no trained adapter" in result.stderr


def test_quickstart_end_to_end(tmp_path):
    result = run_cli(
        "run", "configs/quickstart.yaml",
        f"model.name_or_path={tmp_path / 'tiny-onco'}", "model.tiny.pretrain_steps=20",
        "train.max_steps=6", "data.max_eval_records=8", "eval.max_samples=4", "eval.max_new_tokens=24",
        f"output.root={tmp_path / 'runs'}", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (
        "base vs tuned" in result.stdout and "micro_f1" in result.stdout and "run directory:" in result.stdout
    )
    run_dir = next((tmp_path / "runs" / "quickstart").glob("2*"))
    for stage in ("train", "eval", "merged"):
        assert (run_dir / stage / "manifest.json").is_file(), stage
    results = json.loads((run_dir / "eval" / "results.json").read_text())
    for side in ("base", "tuned"):
        assert results[side]["perplexity"] > 1
        assert set(results[side]["extraction"]["per_field"]) == {
            "cancer_type", "stage", "gene_mutation", "biomarker", "treatment", "response", "metastasis_site",
        }  # fmt: skip
    assert results["tuned"]["eval_loss"] < results["base"]["eval_loss"]
    samples = [json.loads(line) for line in (run_dir / "eval" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4 and {"id", "gold", "base", "tuned"} <= set(samples[0])
    assert "policy_block_rate" in result.stdout  # the default clinical policy checks every answer
    policy = results["tasks"]["oncology_ie"]["policy"]
    for side in ("base", "tuned"):
        decisions = [s[side]["findings"]["policy"]["decision"] for s in samples]
        assert policy[side]["block_rate"] == decisions.count("BLOCK") / 4
    assert (tmp_path / "tiny-onco" / "medtune_tiny.json").is_file()
    assert (REPO / "configs" / "quickstart.yaml").is_file()
