"""Find, validate and instantiate tasks: YAML spec + data file -> records and prompts.

Built-in tasks are the YAML files in `medtune/resources/tasks/`; a user task is any YAML file with the
same keys (see docs/evaluation.md). Prompts are Jinja templates rendered with the record's fields;
few-shot examples are drawn, seeded, from the same file (never the item itself).
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from medtune.errors import ConfigError, DataError
from medtune.evaluate.backends.base import Context
from medtune.evaluate.tasks.formats import Record, read_records
from medtune.evaluate.tasks.spec import TaskSpec
from medtune.yamlloc import format_validation_error

SHARED_DATA = Path("..") / "shared" / "data"


def builtin_dir() -> Path:
    return Path(str(resources.files("medtune") / "resources" / "tasks"))


def builtin_tasks() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.yaml"))


def _template_env() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from medtune.data.instruction import render_output

    env = ImmutableSandboxedEnvironment(keep_trailing_newline=True, undefined=StrictUndefined)
    env.filters["answer"] = render_output  # objects as the compact JSON training uses, strings unchanged
    return env


@dataclass
class Task:
    """A task ready to run: its spec, the items to evaluate and the pool few-shot examples come from."""

    spec: TaskSpec
    records: list[Record]
    pool: list[Record]
    origin: str  # "builtin:NAME" or the YAML path
    spec_sha256: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.task

    @cached_property
    def _templates(self) -> dict[str, Any]:
        env = _template_env()
        out = {}
        for key in ("prompt", "target", "source", "text"):
            text = getattr(self.spec, key)
            if text is not None:
                try:
                    out[key] = env.from_string(text)
                except Exception as exc:  # jinja2.TemplateSyntaxError
                    raise ConfigError(f"{self.origin}: {key}: invalid template: {exc}") from None
        if isinstance(self.spec.choices, str):
            out["choices"] = self.spec.choices
        return out

    def render(self, key: str, record: Record) -> str:
        try:
            return self._templates[key].render(**record)
        except Exception as exc:  # jinja2.UndefinedError and friends
            raise DataError(
                f"{record.get('_source', '?')}: task {self.name}: {key} template: {exc}",
                hint=f"the record has fields {sorted(k for k in record if not k.startswith('_'))}",
            ) from None

    # ------------------------------------------------------------------------------------ multiple choice

    def choices(self, record: Record) -> list[str]:
        spec_choices = self.spec.choices
        if isinstance(spec_choices, list):
            return list(spec_choices)
        value = record.get(spec_choices or "")
        if isinstance(value, dict):
            value = list(value.values())
        if not isinstance(value, list) or not value:
            raise DataError(
                f"{record.get('_source')}: {spec_choices}: expected a list of choices, found {value!r:.60}"
            )
        return [str(v) for v in value]

    def gold_index(self, record: Record, choices: list[str]) -> int:
        raw = self.render("target", record).strip()
        if raw.lstrip("-").isdigit():
            index = int(raw)
        elif raw in choices:
            index = choices.index(raw)
        else:
            raise DataError(f"{record.get('_source')}: target: expected a choice or its index, found {raw!r}")
        if not 0 <= index < len(choices):
            raise DataError(
                f"{record.get('_source')}: target: expected an index below {len(choices)}, found {index}"
            )
        return index

    # ------------------------------------------------------------------------------------------ prompts

    @cached_property
    def prompts(self) -> list[Context]:
        """`contexts()`, computed once."""
        return self.contexts()

    def contexts(self) -> list[Context]:
        """The prompt of every item, with few-shot examples (seeded, never the item itself) when asked."""
        n = self.spec.num_fewshot
        rnd = random.Random(self.spec.fewshot_seed)
        out = []
        for record in self.records:
            shots: list[Record] = []
            if n:
                if len(self.pool) <= n:
                    raise DataError(
                        f"task {self.name}: {n} few-shot examples need more than {len(self.pool)} records"
                    )
                drawn = rnd.sample(self.pool, n + 1)
                shots = [r for r in drawn if r is not record][:n]
            out.append(self._context(record, shots))
        return out

    def _answer_text(self, record: Record) -> str:
        if self.spec.kind == "multiple_choice":
            choices = self.choices(record)
            return choices[self.gold_index(record, choices)]
        return self.target_text(record)

    def _context(self, record: Record, shots: list[Record]) -> Context:
        prompt = self.render("prompt", record)
        if not self.spec.chat:
            examples = [
                self.render("prompt", s) + self.spec.target_delimiter + self._answer_text(s) for s in shots
            ]
            prefix = (
                self.spec.fewshot_delimiter.join(examples) + self.spec.fewshot_delimiter if examples else ""
            )
            return prefix + prompt
        messages = [{"role": "system", "content": self.spec.system}] if self.spec.system else []
        for shot in shots:
            messages.append({"role": "user", "content": self.render("prompt", shot)})
            messages.append({"role": "assistant", "content": self._answer_text(shot)})
        messages.append({"role": "user", "content": prompt})
        return messages

    def target_text(self, record: Record) -> str:
        if "target" not in self._templates:
            return ""
        return self.render("target", record)

    def source_text(self, record: Record) -> str | None:
        return self.render("source", record) if "source" in self._templates else None

    def text(self, record: Record) -> str:
        return self.render("text", record)

    def group_values(self, record: Record) -> dict[str, str]:
        return {g: str(record.get(g, "(missing)")) for g in self.spec.group_by}


# --------------------------------------------------------------------------------------------- loading


def spec_error(exc: ValidationError, origin: str, text: str, model: type[BaseModel]) -> ConfigError:
    """A validation error of a YAML file (task, eval file) with the line and a did-you-mean per problem."""
    return ConfigError(format_validation_error(exc, origin, yaml.compose(text), model, "file"))


def read_spec(name_or_path: str) -> tuple[TaskSpec, str, Path, bool]:
    """(spec, origin, base folder for relative data paths, is_builtin)."""
    path = Path(name_or_path)
    builtin = builtin_dir() / f"{name_or_path}.yaml"
    if path.suffix in (".yaml", ".yml") and path.is_file():
        origin, base, is_builtin = str(path), path.resolve().parent, False
        text = path.read_text(encoding="utf-8")
    elif builtin.is_file():
        origin, base, is_builtin = f"builtin:{name_or_path}", builtin_dir(), True
        text = builtin.read_text(encoding="utf-8")
    else:
        raise ConfigError(
            f"task {name_or_path!r}: expected a built-in task or a task YAML file, found neither",
            hint=f"built-in tasks: {', '.join(builtin_tasks())}",
        )
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"{origin}:{mark.line + 1 if mark else 1}: invalid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{origin}:1: expected a mapping (task, kind, data, ...), found {type(raw).__name__}"
        )
    try:
        spec = TaskSpec.model_validate(raw)
    except ValidationError as exc:
        raise spec_error(exc, origin, text, TaskSpec) from None
    return spec, origin, base, is_builtin


def resolve_data_path(spec: TaskSpec, base: Path, is_builtin: bool, data: str | Path | None) -> Path:
    if data is not None:
        path = Path(data)
        if not path.exists():
            raise DataError(
                f"--data: {path}: no such file or folder (task {spec.task}, layout {spec.data.format})"
            )
        return path
    if spec.data.path is None:
        raise DataError(
            f"task {spec.task}: no data file; pass one with --data (layout: {spec.data.format})",
        )
    rel = Path(os.path.expandvars(spec.data.path))
    if rel.is_absolute():
        candidates = [rel]
    elif is_builtin:
        roots = [base]
        if os.environ.get("MEDTUNE_DATA_DIR"):
            roots.append(Path(os.environ["MEDTUNE_DATA_DIR"]))
        roots += [Path.cwd(), Path.cwd() / SHARED_DATA]
        candidates = [root / rel for root in roots]
    else:
        candidates = [base / rel]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise DataError(
        f"task {spec.task}: data {spec.data.path} not found (looked in: {looked})",
        hint=f"pass a local file in the {spec.data.format} layout with --data, or set MEDTUNE_DATA_DIR",
    )


def load_task(
    name_or_path: str,
    *,
    data: str | Path | None = None,
    limit: int | None = None,
    num_fewshot: int | None = None,
    records: list[Record] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Task:
    """A runnable task. `records` (already-loaded items, e.g. a run's held-back records) replaces the data
    file; `overrides` sets spec keys (e.g. group_by, generation.max_new_tokens) after validation."""
    from medtune.artifacts import digest_of, sha256_text

    spec, origin, base, is_builtin = read_spec(name_or_path)
    updates = dict(overrides or {})
    if num_fewshot is not None:
        updates["num_fewshot"] = num_fewshot
    if updates:
        merged = spec.model_dump()
        for key, value in updates.items():
            if value is None:
                continue
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        try:
            spec = TaskSpec.model_validate(merged)
        except ValidationError as exc:
            raise ConfigError(f"task {spec.task}: invalid settings: {exc.errors()[0]['msg']}") from None
    if records is not None:
        pool = list(records)
        data_info: dict[str, Any] = {"path": None, "format": spec.data.format, "in_memory": True}
    else:
        path = resolve_data_path(spec, base, is_builtin, data)
        pool = read_records(spec.data.format, path, spec.data.options, spec.data.id_field)
        data_info = {**digest_of(path), "format": spec.data.format}
    selected = pool[:limit] if limit else pool
    canonical = [{k: v for k, v in r.items() if not k.startswith("_")} for r in selected]
    data_info["items"] = len(selected)
    data_info["items_sha256"] = sha256_text(
        json.dumps(canonical, sort_keys=True, ensure_ascii=False, default=str)
    )
    spec_json = json.dumps(spec.model_dump(), sort_keys=True)
    return Task(
        spec=spec,
        records=selected,
        pool=pool,
        origin=origin,
        spec_sha256=sha256_text(spec_json),
        data=data_info,
    )
