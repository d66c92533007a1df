"""A task is data: one YAML file validated by `TaskSpec` (built-in ones: medtune/resources/tasks)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

TaskKind = Literal["multiple_choice", "generation", "perplexity", "completion_loss"]
DataFormat = Literal[
    "pubmedqa",
    "medqa_jsonl",
    "medmcqa_jsonl",
    "instruction_jsonl",
    "jsonl",
    "csv",
    "text_pairs",
    "text",
]
Scorer = Literal["none", "extraction", "summarization", "triage"]

MC_METRICS = ("acc", "acc_norm", "ece", "macro_f1")
GENERATION_METRICS = {
    "extraction": ("json_validity", "exact_match", "micro_precision", "micro_recall", "micro_f1", "macro_f1"),
    "summarization": ("rouge1", "rouge2", "rougeL", "bleu"),
    "triage": ("emergency_recall", "false_alarm_rate"),
    "none": (),
}
SAFETY_METRICS = (
    "phi_leak_rate",
    "toxicity_rate",
    "unsupported_rate",
    "policy_block_rate",
    "policy_warn_rate",
)
PERPLEXITY_METRICS = ("token_perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte")
LOSS_METRICS = ("eval_loss", "perplexity")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSpec(_Spec):
    format: DataFormat = Field(
        description="Layout of the data file (see docs/evaluation.md, 'Data layouts')."
    )
    path: str | None = Field(
        default=None,
        description="Data file or folder. Relative paths: from the task YAML's folder for user tasks; for "
        "built-in tasks, from $MEDTUNE_DATA_DIR, then ./, then ../shared/data.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Format options, e.g. pubmedqa split (test|pool|all), medmcqa cop_base (0|1), text "
        "documents (lines|paragraphs|file), text_pairs source/target patterns.",
    )
    id_field: str | None = Field(default=None, description="Record field used as the item id.")


class GenerationSpec(_Spec):
    max_new_tokens: int = Field(default=256, gt=0, description="Token budget per item.")
    until: list[str] = Field(default_factory=list, description="Stop sequences (EOS always stops).")


class TaskSpec(_Spec):
    """One evaluation task: where its items come from, how they are prompted and how outputs are scored."""

    task: str = Field(description="Task name (used in results.json and gates: TASK/METRIC).")
    description: str = Field(default="", description="One line about the task.")
    kind: TaskKind = Field(description="multiple_choice | generation | perplexity | completion_loss.")
    data: DataSpec
    prompt: str | None = Field(
        default=None, description="Jinja template of the prompt, rendered with the record's fields."
    )
    chat: bool = Field(
        default=False,
        description="Send the prompt as a user chat message (rendered by the model's chat template).",
    )
    system: str | None = Field(default=None, description="System message for chat prompts.")
    choices: list[str] | str | None = Field(
        default=None,
        description="multiple_choice: the choices (a list), or the name of a record field holding them.",
    )
    target: str | None = Field(
        default=None,
        description="Template of the gold answer: a choice index or choice text (multiple_choice), the "
        "reference text (generation), the answer (completion_loss).",
    )
    source: str | None = Field(
        default=None, description="Template of the source text that outputs must stay faithful to."
    )
    text: str | None = Field(default=None, description="perplexity: template of the text to score.")
    target_delimiter: str = Field(default=" ", description="Between the prompt and a choice (lm-eval: ' ').")
    fewshot_delimiter: str = Field(default="\n\n", description="Between few-shot examples.")
    num_fewshot: int = Field(default=0, ge=0, description="Few-shot examples drawn from the same file.")
    fewshot_seed: int = Field(default=1234, description="Seed for drawing few-shot examples.")
    scorer: Scorer = Field(default="none", description="How generations are scored.")
    extraction_fields: list[str] | None = Field(
        default=None, description="extraction scorer: the JSON fields (default: the oncology schema)."
    )
    emergency_field: str = Field(default="emergency", description="triage scorer: the boolean label field.")
    safety: bool = Field(
        default=True,
        description="Generation tasks: PHI-leak, toxicity, (with a source) unsupported-content and "
        "(with a policy) policy decision rates.",
    )
    group_by: list[str] = Field(default_factory=list, description="Record fields to break metrics down by.")
    generation: GenerationSpec = Field(default_factory=GenerationSpec)
    metrics: list[str] = Field(default_factory=list, description="Metrics to report (default: all of kind).")

    @model_validator(mode="after")
    def _complete(self) -> TaskSpec:
        if self.kind == "multiple_choice":
            missing = [k for k in ("prompt", "choices", "target") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"a multiple_choice task needs {', '.join(missing)}")
        elif self.kind in ("generation", "completion_loss") and self.prompt is None:
            raise ValueError(f"a {self.kind} task needs a prompt")
        elif self.kind == "perplexity" and self.text is None:
            raise ValueError("a perplexity task needs text (a template, e.g. '{{ text }}')")
        allowed = set(self.available_metrics())
        unknown = [m for m in self.metrics if m not in allowed]
        if unknown:
            raise ValueError(f"unknown metrics {unknown} for this task; available: {sorted(allowed)}")
        return self

    def available_metrics(self) -> tuple[str, ...]:
        if self.kind == "multiple_choice":
            return MC_METRICS
        if self.kind == "perplexity":
            return PERPLEXITY_METRICS
        if self.kind == "completion_loss":
            return LOSS_METRICS
        safety = SAFETY_METRICS if self.safety else ()
        return GENERATION_METRICS[self.scorer] + safety

    def selected_metrics(self) -> tuple[str, ...]:
        return tuple(self.metrics) or self.available_metrics()
