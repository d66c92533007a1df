"""Shared fixtures: one tiny model per test session, small data files, and a helper that runs the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
ONCOLOGY = REPO / "data" / "oncology_ie"
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
os.environ.update(OFFLINE_ENV)


def run_cli(*args: str, cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Run `medtune ARGS` in a fresh interpreter, exactly as a user would."""
    env = {**os.environ, **OFFLINE_ENV}
    return subprocess.run(
        [sys.executable, "-m", "medtune.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        env=env,
        timeout=timeout,
    )


def write_lines(path: Path, source: Path, count: int, start: int = 0) -> Path:
    lines = source.read_text(encoding="utf-8").splitlines()[start : start + count]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("data")
    files = {
        "train": write_lines(root / "train.jsonl", ONCOLOGY / "train.jsonl", 40),
        "eval": write_lines(root / "eval.jsonl", ONCOLOGY / "validation.jsonl", 8),
    }
    describe(root)
    files["waiver"] = root.parent / "phi-waiver.yaml"
    files["waiver"].write_text(
        "who: medtune tests\nrole: test fixture\nreason: synthetic oncology records copied for tests\n"
        'scope: ["*"]\ndate: 2026-11-22\n'
    )
    return files


def describe(dataset: Path) -> None:
    """Give a test dataset the provenance manifest that training requires."""
    from medtune.data.manifest import write_manifest

    write_manifest(
        dataset,
        source="sample of data/oncology_ie",
        license="MIT",
        curator="medtune tests",
        deid_method="none (synthetic data)",
    )


TINY_SPEC = {
    "corpus": [str(ONCOLOGY / "train.jsonl")],
    "corpus_fields": ["input", "output"],
    "vocab_size": 512,
    "hidden_size": 64,
    "num_layers": 2,
    "num_heads": 4,
    "num_kv_heads": 2,
    "intermediate_size": 128,
    "pretrain_steps": 30,
    "pretrain_batch_size": 8,
    "pretrain_seq_len": 64,
    "seed": 3,
}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medtune.config import TinyModelConfig
    from medtune.models.tiny import build_tiny_model

    out = tmp_path_factory.mktemp("models") / "tiny"
    build_tiny_model(out, TinyModelConfig(**TINY_SPEC), quiet=True)
    return out


def make_config(tmp_path: Path, model_dir: Path, data: dict[str, Path], **sections: Any) -> Path:
    """A run config for the tiny model with fast training defaults; `sections` override per section."""
    config: dict[str, Any] = {
        "model": {"name_or_path": str(model_dir)},
        "data": {"train": str(data["train"]), "eval": str(data["eval"])},
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": "all-linear"},
        "train": {
            "seed": 11,
            "learning_rate": 3e-3,
            "max_steps": 8,
            "batch_size": 4,
            "max_seq_len": 512,
            "eval_per_epoch": False,
            "save_per_epoch": False,
            "logging_steps": 1,
            "report_to": [],
        },
        "eval": {"max_samples": 4, "max_new_tokens": 48, "batch_size": 4},
        "output": {"root": str(tmp_path / "runs"), "name": "t"},
    }
    if data.get("waiver"):
        config["data"]["phi_waiver"] = str(data["waiver"])
    for section, values in sections.items():
        config.setdefault(section, {}).update(values)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path
