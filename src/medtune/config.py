"""The run config: pydantic models, YAML loading with line-precise errors, and `key=value` overrides.

One YAML file describes a whole run. Every key is documented here (the `description` of its Field), which is
also what `medtune config schema` exports. Relative paths are resolved against the current directory, like
the command-line tools this sits beside.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from medtune.errors import ConfigError
from medtune.evaluate.settings import EvalTaskRef, GateSpec
from medtune.yamlloc import expected_text, known_keys, line_of, suggest

PositiveInt = Annotated[int, Field(gt=0)]
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]
DType = Literal["auto", "float32", "bfloat16", "float16"]


class Section(BaseModel):
    """Base for every config section: unknown keys are errors, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TinyModelConfig(Section):
    """How to build the embedded offline model when `model.name_or_path` does not exist yet."""

    corpus: list[Path] = Field(
        description="Text files (.txt, one document per line) or JSONL files to train the tokenizer and "
        "pre-train the model on."
    )
    corpus_fields: list[str] = Field(
        default=["text"],
        description="JSONL keys; each present value (objects as JSON) is a separate pre-training document.",
    )
    vocab_size: int = Field(default=2048, ge=300, le=262144, description="Byte-level BPE vocabulary size.")
    hidden_size: PositiveInt = Field(default=256, description="Model width.")
    num_layers: PositiveInt = Field(default=4, description="Number of decoder layers.")
    num_heads: PositiveInt = Field(default=4, description="Attention heads.")
    num_kv_heads: PositiveInt = Field(default=4, description="Key/value heads (grouped-query attention).")
    intermediate_size: PositiveInt = Field(default=688, description="MLP width.")
    max_position_embeddings: PositiveInt = Field(
        default=1024, description="Longest sequence the model takes."
    )
    pretrain_steps: int = Field(default=400, ge=0, description="Causal-LM pre-training steps on the corpus.")
    pretrain_batch_size: PositiveInt = Field(default=16, description="Sequences per pre-training step.")
    pretrain_seq_len: PositiveInt = Field(default=256, description="Tokens per pre-training sequence.")
    pretrain_lr: float = Field(default=3e-3, gt=0, description="Peak pre-training learning rate.")
    seed: int = Field(default=0, description="Seed for weights, tokenizer training and pre-training.")

    @model_validator(mode="after")
    def _heads_divide(self) -> TinyModelConfig:
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by num_heads ({self.num_heads})"
            )
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"num_heads ({self.num_heads}) must be divisible by num_kv_heads ({self.num_kv_heads})"
            )
        return self


class ModelConfig(Section):
    name_or_path: str = Field(
        default=".medtune/models/tiny-onco",
        description="Local model directory or Hugging Face hub id (downloaded only when you name one).",
    )
    revision: str | None = Field(default=None, description="Hub revision (branch, tag or commit).")
    dtype: DType = Field(
        default="auto", description="Weights dtype. auto: float32 on CPU, bfloat16 on CUDA where supported."
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(default="auto", description="Where to run.")
    quantization: Literal["none", "nf4", "fp4"] = Field(
        default="none", description="4-bit base weights through bitsandbytes (QLoRA)."
    )
    double_quant: bool = Field(default=True, description="Quantize the quantization constants too (QLoRA).")
    compute_dtype: DType = Field(default="auto", description="Matmul dtype of 4-bit layers.")
    trust_remote_code: bool = Field(default=False, description="Allow model code from the hub repository.")
    tiny: TinyModelConfig | None = Field(
        default=None,
        description="Build the tiny offline model at `name_or_path` if that directory is absent.",
    )


class DataConfig(Section):
    train: Path = Field(description="Training records, JSONL: {instruction, input, output}.")
    eval: Path | None = Field(
        default=None, description="Held-out records. If absent, `eval_fraction` of train is held back."
    )
    eval_fraction: float = Field(
        default=0.1, gt=0, lt=1, description="Share held back when `eval` is absent."
    )
    max_train_records: PositiveInt | None = Field(default=None, description="Use at most this many.")
    max_eval_records: PositiveInt | None = Field(default=None, description="Use at most this many.")
    system_prompt: str | None = Field(default=None, description="System message prepended to every chat.")
    phi_waiver: Path | None = Field(
        default=None,
        description="Signed PHI waiver (who, role, reason, scope, date) for data without a clean PHI scan; "
        "its sha256 is recorded in the run manifest.",
    )
    output_schema: Path | None = Field(
        default=None,
        description="JSON Schema file that structured outputs (JSON objects) must match; checked by "
        "`medtune data validate --config` (every violation reported as file:line: output.key: ...).",
    )

    def files(self) -> list[Path]:
        """The data files a run reads (train, and eval when given): what the gates check."""
        return [p for p in (self.train, self.eval) if p is not None]


class LoraConfig(Section):
    r: PositiveInt = Field(default=16, description="LoRA rank.")
    alpha: float = Field(default=32, gt=0, description="LoRA scaling numerator (scale = alpha / r).")
    dropout: Ratio = Field(default=0.05, description="Dropout on the LoRA input.")
    target_modules: list[str] | Literal["all-linear"] = Field(
        default="all-linear",
        description="Module names to adapt, or all-linear (every linear but the LM head).",
    )


class TrainConfig(Section):
    seed: int = Field(default=42, description="Seed for data order, dropout and adapter initialisation.")
    learning_rate: float = Field(default=2e-4, gt=0, description="Peak learning rate.")
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = Field(
        default="cosine", description="Learning-rate schedule after warmup."
    )
    warmup_ratio: float = Field(default=0.03, ge=0, lt=1, description="Share of steps spent warming up.")
    epochs: float = Field(
        default=1.0, gt=0, description="Passes over the training set (ignored with max_steps)."
    )
    max_steps: PositiveInt | None = Field(default=None, description="Stop after this many optimizer steps.")
    batch_size: PositiveInt = Field(default=8, description="Sequences per device per step.")
    grad_accum: PositiveInt = Field(default=1, description="Micro-batches per optimizer step.")
    max_seq_len: PositiveInt = Field(default=512, description="Longer records are an error, not truncated.")
    packing: bool = Field(default=False, description="Pack records into padding-free rows (boundaries kept).")
    group_by_length: bool = Field(default=True, description="Batch records of similar length to cut padding.")
    weight_decay: float = Field(default=0.0, ge=0, description="AdamW weight decay.")
    max_grad_norm: float = Field(default=1.0, gt=0, description="Gradient clipping norm.")
    eval_steps: PositiveInt | None = Field(default=None, description="Evaluate every N steps.")
    eval_per_epoch: bool = Field(default=True, description="Evaluate at the end of each epoch.")
    save_steps: PositiveInt | None = Field(default=None, description="Checkpoint every N steps.")
    save_per_epoch: bool = Field(default=True, description="Checkpoint at the end of each epoch.")
    keep_last: PositiveInt = Field(default=2, description="Checkpoints kept (older ones are deleted).")
    resume: Literal["auto", "never"] = Field(
        default="auto",
        description="auto: continue an interrupted run of the same config from its last checkpoint.",
    )
    early_stopping_patience: PositiveInt | None = Field(
        default=None, description="Stop after N evaluations without eval-loss improvement."
    )
    early_stopping_threshold: float = Field(default=0.0, ge=0, description="Minimum eval-loss improvement.")
    bf16: bool | None = Field(default=None, description="bfloat16 autocast. None: on for CUDA, off on CPU.")
    gradient_checkpointing: bool = Field(default=False, description="Trade compute for activation memory.")
    deterministic: bool = Field(default=True, description="Deterministic algorithms (bit-identical reruns).")
    logging_steps: PositiveInt = Field(default=5, description="Log loss every N steps.")
    report_to: list[Literal["tensorboard", "mlflow"]] = Field(
        default=["tensorboard"],
        description="Experiment trackers. mlflow needs `pip install medtune[mlflow]`.",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None, description="MLflow tracking URI when report_to includes mlflow (default: ./mlruns)."
    )
    num_threads: PositiveInt | None = Field(default=None, description="CPU threads (default: all cores).")

    @model_validator(mode="after")
    def _eval_needed_for_early_stopping(self) -> TrainConfig:
        if self.early_stopping_patience and not (self.eval_steps or self.eval_per_epoch):
            raise ValueError("early_stopping_patience needs eval_steps or eval_per_epoch")
        return self


class EvalConfig(Section):
    """Evaluation: which tasks, on how many items, with which statistics and which pass/fail gates."""

    enabled: bool = Field(default=True, description="Evaluate after training.")
    baseline: bool = Field(
        default=True, description="Also evaluate the base model, for a base-vs-tuned table."
    )
    task: Literal["oncology_ie", "loss_only"] = Field(
        default="oncology_ie",
        description="When `tasks` is empty: oncology_ie = held-back loss/perplexity + extraction generation; "
        "loss_only = held-back loss/perplexity.",
    )
    max_samples: PositiveInt = Field(default=32, description="Held-back records to generate for.")
    max_new_tokens: PositiveInt = Field(default=192, description="Generation budget per record.")
    batch_size: PositiveInt = Field(default=8, description="Records per generation/scoring batch.")
    tasks: list[EvalTaskRef] = Field(
        default_factory=list,
        description="Tasks to run (built-in names or task YAML files, with data/limit/num_fewshot/group_by). "
        "In a training run, a task without `data` (oncology_ie, heldout_loss) uses the held-back records.",
    )
    gates: list[GateSpec] = Field(
        default_factory=list,
        description="Pass/fail thresholds, e.g. 'oncology_ie/micro_f1 delta >= 0.03', 'toxicity_rate <= "
        "0.01', 'phi_leak_rate == 0', 'oncology_ie/json_validity >= 0.99'. A failed gate exits with code 3.",
    )
    limit: PositiveInt | None = Field(default=None, description="Items per task (default: all).")
    num_fewshot: int | None = Field(default=None, ge=0, description="Few-shot examples for every task.")
    bootstrap_samples: int = Field(
        default=1000, ge=0, description="Bootstrap resamples for CIs and paired deltas (0: no CIs)."
    )
    confidence: float = Field(default=0.95, gt=0, lt=1, description="Confidence level of the intervals.")
    seed: int = Field(default=0, description="Seed of the bootstrap resampling.")
    report: bool = Field(default=True, description="Write report.html and summary.csv beside results.json.")
    toxicity_classifier: Path | None = Field(
        default=None,
        description="Optional local text-classification model folder that also flags toxic outputs.",
    )
    policy: Path | None = Field(
        default=None,
        description="Policy YAML (e.g. configs/policy.yml) that checks every generated output as the gateway "
        "would: reports policy_block_rate, policy_warn_rate and how often each rule fired; gate with e.g. "
        "'policy_block_rate <= 0.02'.",
    )


class ExportConfig(Section):
    merge: bool = Field(default=True, description="Write a merged model after training.")
    merge_tolerance: float = Field(
        default=1e-3, gt=0, description="Max |logit difference| merged vs adapter."
    )
    parity_prompts: PositiveInt = Field(default=4, description="Held-back prompts used for the parity check.")


class OutputConfig(Section):
    root: Path = Field(default=Path("runs"), description="Where run directories are created.")
    name: str | None = Field(default=None, description="Run family name (default: the config file's stem).")


class RunConfig(Section):
    """A whole medtune run: model, data, adapter, training, evaluation, export, output."""

    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig
    lora: LoraConfig = Field(default_factory=LoraConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    def resolved(self) -> dict[str, Any]:
        """JSON-ready dict of every value, defaults included: what the manifests record."""
        return json.loads(self.model_dump_json())


# --------------------------------------------------------------------------------------------- loading


def json_schema() -> dict[str, Any]:
    return RunConfig.model_json_schema()


def load_config(path: Path | str, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Read, merge overrides into, and validate a run config; every problem becomes one ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
        root_node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}:1: expected a mapping of sections (model, data, ...), found {type(raw).__name__}"
        )
    override_paths = apply_overrides(raw, overrides)
    raw.setdefault("output", {})
    if isinstance(raw["output"], dict):
        raw["output"].setdefault("name", path.stem)
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, path, root_node, override_paths)) from None


def apply_overrides(
    raw: dict[str, Any], overrides: list[str] | tuple[str, ...]
) -> dict[tuple[str, ...], str]:
    """Set `a.b.c=value` pairs in place (values parsed as YAML scalars); returns path -> original text."""
    applied: dict[tuple[str, ...], str] = {}
    for item in overrides:
        key, sep, value_text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override '{item}': expected key=value (for example train.learning_rate=1e-4)")
        keys = tuple(key.strip().split("."))
        try:
            value = yaml.safe_load(value_text) if value_text.strip() else ""
        except yaml.YAMLError:
            value = value_text
        node = raw
        for depth, part in enumerate(keys[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                prefix = ".".join(keys[: depth + 1])
                raise ConfigError(f"override '{item}': {prefix} is a value, not a section")
            node = child
        node[keys[-1]] = value
        applied[keys] = item
    return applied


def format_validation_error(
    exc: ValidationError,
    path: Path,
    root_node: yaml.Node | None,
    override_paths: dict[tuple[str, ...], str],
) -> str:
    problems = []
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"])
        dotted = ".".join(loc) or "(top level)"
        where = _where(loc, path, root_node, override_paths)
        if err["type"] == "extra_forbidden":
            known = known_keys(RunConfig, loc[:-1])
            close = suggest(loc[-1], known)
            hint = f"; did you mean '{close}'?" if close else f"; known keys: {', '.join(sorted(known))}"
            problems.append(f"{where}: {dotted}: unknown key{hint}")
        elif err["type"] == "missing":
            problems.append(f"{where}: {dotted}: required key is missing")
        else:
            found = err.get("input")
            found_text = "(a section)" if isinstance(found, dict) else repr(found)
            expected = "a path (a string)" if err["type"] == "path_type" else expected_text(err["msg"])
            problems.append(f"{where}: {dotted}: expected {expected}, found {found_text}")
    count = len(problems)
    header = f"{path}: {count} problem{'s' if count > 1 else ''} in the config"
    return header + "\n" + "\n".join(f"  {p}" for p in problems)


def _where(
    loc: tuple[str, ...], path: Path, root_node: yaml.Node | None, overrides: dict[tuple[str, ...], str]
) -> str:
    for n in range(len(loc), 0, -1):
        if loc[:n] in overrides:
            return f"override '{overrides[loc[:n]]}'"
    return f"{path}:{line_of(root_node, loc)}"


def dump_yaml(config: RunConfig) -> str:
    return yaml.safe_dump(config.resolved(), sort_keys=False)
