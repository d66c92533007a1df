"""LoRA / QLoRA training through the real CLI and the real PEFT/transformers stack on a tiny model."""

import json

import pytest
import torch

from conftest import describe, make_config, run_cli
from medtune.config import load_config
from medtune.repro import step_losses


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, tiny_model, small_data):
    tmp = tmp_path_factory.mktemp("trained")
    config = make_config(
        tmp, tiny_model, small_data,
        train={"max_steps": 12, "save_steps": 4, "keep_last": 2, "report_to": ["tensorboard"]},
    )  # fmt: skip
    result = run_cli("train", str(config), "--quiet")
    assert result.returncode == 0, result.stderr
    run_dir = next((tmp / "runs" / "t").glob("2*"))
    return {"config": config, "run_dir": run_dir, "stdout": result.stdout}


def test_loss_decreases_and_artifacts_are_complete(trained_run):
    run_dir = trained_run["run_dir"]
    losses = step_losses(run_dir)
    assert sorted(losses) == list(range(1, 13))
    assert sum(losses[s] for s in (10, 11, 12)) / 3 < losses[1] - 0.1
    adapter = run_dir / "train" / "adapter"
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "chat_template.jinja"):
        assert (adapter / name).is_file(), name
    manifest = json.loads((run_dir / "train" / "manifest.json").read_text())
    assert manifest["inputs"]["base_model"]["sha256"] and manifest["inputs"]["train_data"]["sha256"]
    assert manifest["outputs"]["adapter/adapter_model.safetensors"]["sha256"]
    assert manifest["metrics"]["global_step"] == 12 and manifest["metrics"]["supervised_tokens"] > 0
    assert manifest["config"]["train"]["max_steps"] == 12
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["checkpoint-12", "checkpoint-8"]
    assert any((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert "run directory:" in trained_run["stdout"]


def test_adapter_round_trip_gives_identical_logits(trained_run, tiny_model):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapter = trained_run["run_dir"] / "train" / "adapter"
    ids = torch.tensor([[5, 17, 99, 230, 7, 41]])
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    plain = base(input_ids=ids).logits
    tuned = PeftModel.from_pretrained(base, adapter).eval()
    again = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), adapter).eval()
    with torch.no_grad():
        first, second = tuned(input_ids=ids).logits, again(input_ids=ids).logits
    assert torch.equal(first, second)
    assert (first - plain).abs().max() > 1e-4  # the adapter changes the model


def test_device_aware_defaults_on_cpu(trained_run):
    from medtune.train.recipe import training_arguments

    cfg = load_config(trained_run["config"])
    args = training_arguments(cfg, trained_run["run_dir"] / "x", "cpu")
    assert args.bf16 is False and args.gradient_checkpointing is False and args.use_cpu is True


def test_packed_rows_give_the_same_loss_as_padded_batches(tiny_model, small_data):
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        DataCollatorWithFlattening,
    )

    from medtune.data.instruction import read_instruction_jsonl, tokenize_for_training
    from medtune.train.trainer import completion_loss

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    examples = tokenize_for_training(tokenizer, read_instruction_jsonl(small_data["eval"])[:4], None, 512)
    padded = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100, return_tensors="pt")(examples)
    packed = DataCollatorWithFlattening(return_position_ids=True)(examples)
    assert packed["input_ids"].shape[0] == 1
    with torch.no_grad():
        loss_padded, n_padded = completion_loss(model, dict(padded), None)
        loss_packed, n_packed = completion_loss(model, dict(packed), None)
    assert n_padded == n_packed
    assert abs(float(loss_padded) - float(loss_packed)) < 1e-5


def test_completion_loss_and_gradients_equal_the_stock_forward(tiny_model, small_data):
    """The shortcuts (no padding mask; the last layer's queries, MLP and the LM head only at trained
    positions) change no number: same loss and same LoRA gradients as transformers' own forward + masked
    loss, on right-padded rows."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq

    from medtune.data.instruction import read_instruction_jsonl, tokenize_for_training
    from medtune.train.trainer import completion_loss

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_model),
        LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False),
    )
    examples = tokenize_for_training(tokenizer, read_instruction_jsonl(small_data["eval"])[:5], None, 512)
    batch = dict(DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100, return_tensors="pt")(examples))
    assert not bool(batch["attention_mask"].all())  # rows of different lengths: padding is present

    def lora_grads() -> dict[str, torch.Tensor]:
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        model.zero_grad(set_to_none=True)
        return grads

    last_layer = model.get_base_model().model.layers[-1]
    seen: list[tuple[int, ...]] = []
    hooks = [
        module.register_forward_hook(lambda _m, args, _out: seen.append(tuple(args[0].shape)))
        for module in (last_layer.mlp, last_layer.self_attn.q_proj, last_layer.self_attn.k_proj)
    ]
    ours, n_tokens = completion_loss(model, batch, None)
    ours.backward()
    our_grads = lora_grads()
    stock = model(**batch).loss  # transformers: full forward with the mask, logits at every position
    stock.backward()
    stock_grads = lora_grads()
    for hook in hooks:
        hook.remove()
    rows, length = batch["labels"].shape
    most = int((batch["labels"][:, 1:] != -100).sum(dim=1).max())  # trained positions in the fullest row
    size = last_layer.mlp.gate_proj.in_features
    ours_seen, stock_seen = sorted(seen[:3]), sorted(seen[3:])
    # ours: queries and MLP only at each row's trained positions, keys at every position
    assert ours_seen == sorted([(rows, most, size), (rows, most, size), (rows, length, size)])
    assert stock_seen == [(rows, length, size)] * 3  # the stock forward: every position
    assert n_tokens == int((batch["labels"][:, 1:] != -100).sum())
    assert abs(ours.item() - stock.item()) < 1e-5
    assert our_grads.keys() == stock_grads.keys() and any("mlp" in n for n in our_grads)
    for name, grad in our_grads.items():
        assert torch.allclose(grad, stock_grads[name], atol=1e-6, rtol=1e-4), name


def test_packing_run_trains(tmp_path, tiny_model, small_data):
    config = make_config(tmp_path, tiny_model, small_data, train={"max_steps": 3, "packing": True})
    result = run_cli("train", str(config), "--quiet")
    assert result.returncode == 0, result.stderr
    run_dir = next((tmp_path / "runs" / "t").glob("2*"))
    assert len(step_losses(run_dir)) == 3


def test_qlora_nf4_trains_on_cpu(tmp_path, tiny_model, small_data):
    config = make_config(
        tmp_path, tiny_model, small_data,
        model={"quantization": "nf4", "double_quant": True, "compute_dtype": "float32"},
        lora={"target_modules": ["q_proj", "v_proj"]}, train={"max_steps": 3},
    )  # fmt: skip
    result = run_cli("train", str(config), "--quiet")
    assert result.returncode == 0, result.stderr
    run_dir = next((tmp_path / "runs" / "t").glob("2*"))
    losses = step_losses(run_dir)
    assert len(losses) == 3 and all(0 < v < 20 for v in losses.values())
    manifest = json.loads((run_dir / "train" / "manifest.json").read_text())
    assert manifest["config"]["model"]["quantization"] == "nf4"
    assert (run_dir / "train" / "adapter" / "adapter_model.safetensors").is_file()


def test_dry_run_writes_only_its_report(tmp_path, tiny_model, small_data):
    config = make_config(tmp_path, tiny_model, small_data)
    result = run_cli("train", str(config), "--dry-run", "--quiet")
    assert result.returncode == 0, result.stderr
    family = tmp_path / "runs" / "t"
    assert [p.name for p in family.iterdir()] == ["dry-run.json"]
    report = json.loads((family / "dry-run.json").read_text())
    assert report["ok"] and report["train_records"] == 40 and report["planned_steps"] == 8
    assert report["first_step_loss"] > 0 and report["trainable_parameters"] < report["total_parameters"]


def test_early_stopping_on_eval_loss(tmp_path, tiny_model, small_data):
    config = make_config(
        tmp_path, tiny_model, small_data,
        train={"eval_steps": 1, "early_stopping_patience": 1, "early_stopping_threshold": 100.0},
    )  # fmt: skip
    result = run_cli("train", str(config), "--quiet")
    assert result.returncode == 0, result.stderr
    manifest = json.loads(next((tmp_path / "runs" / "t").glob("2*/train/manifest.json")).read_text())
    # first eval sets the best; the second cannot improve by 100 -> stop at step 2 of 8
    assert manifest["metrics"]["early_stopped_at"] == 2 and manifest["metrics"]["global_step"] == 2


def test_bad_training_data_is_a_clear_error(tmp_path, tiny_model, small_data):
    (tmp_path / "bad").mkdir()
    bad = tmp_path / "bad" / "bad.jsonl"
    bad.write_text(small_data["train"].read_text() + '{"instruction": "x"}\n')
    describe(bad.parent)
    config = make_config(tmp_path, tiny_model, {**small_data, "train": bad})
    result = run_cli("train", str(config), "--quiet")
    assert result.returncode == 2
    assert f"{bad}:41: output: expected a value, found the key missing" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "runs" / "t").glob("2*/train"))


def test_data_without_manifest_or_with_changed_checksum_is_refused(tmp_path, tiny_model, small_data):
    (tmp_path / "d").mkdir()
    train = tmp_path / "d" / "train.jsonl"
    train.write_text(small_data["train"].read_text())
    config = make_config(tmp_path, tiny_model, {**small_data, "train": train})
    result = run_cli("train", str(config), "--dry-run", "--quiet")
    assert result.returncode == 2 and "medtune data manifest" in result.stderr, result.stderr
    describe(train.parent)
    train.write_text(train.read_text() + small_data["eval"].read_text().splitlines()[0] + "\n")
    result = run_cli("train", str(config), "--dry-run", "--quiet")
    assert result.returncode == 2 and "no longer matches its dataset manifest" in result.stderr, result.stderr


def test_train_manifest_records_dataset_provenance_and_phi_waiver(trained_run):
    manifest = json.loads((trained_run["run_dir"] / "train" / "manifest.json").read_text())
    assert manifest["datasets"]["train"]["provenance_id"]
    assert manifest["datasets"]["train"]["license"] == "MIT"
    assert len(manifest["phi_gate"]["waiver_sha256"]) == 64
    scan = json.loads((trained_run["run_dir"] / "phi-run-scan.json").read_text())
    assert "counts" in scan and "files" in scan


def test_data_without_phi_scan_or_waiver_is_refused(tmp_path, tiny_model, small_data):
    config = make_config(tmp_path, tiny_model, {"train": small_data["train"], "eval": small_data["eval"]})
    result = run_cli("train", str(config), "--dry-run", "--quiet")
    assert result.returncode == 3, result.stderr
    assert "medtune phi scan" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs" / "t").exists()
