"""The policy file: pydantic models of policy.yml and loading with `file:line` errors.

A policy has a version, optional named lexicons (phrase lists shared by rules) and rules. A rule has an id, a
description, a stage (input, output or both), an action (block, warn, redact), optional scope (tasks, model
tags) and one detector. A detector is a mapping with exactly one of these keys:

    phrases    literal phrases (and lexicons), word boundaries, case handling, negation window, quotes
    regex      regular expressions (`{lex:NAME}` expands a lexicon, `{frag:NAME}` a named regex piece)
    phi        PHI types found by medtune's PHI scanner
    all_of     every child fires (optionally `within: sentence` or `paragraph`: in the same one)
    any_of     at least one child fires
    not        the child does not fire
    evidence   factual claims without a citation or context id when the request carried context
    structure  the output must validate against a JSON Schema and/or stay under a length
    emergency  the input describes emergency symptoms and the output gives no seek-care advice

This module only validates shapes; `medtune.safety.detectors` compiles them (and reports bad regexes, unknown
lexicons and PHI types with their lines).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from medtune.errors import ConfigError
from medtune.yamlloc import format_validation_error, parse_yaml

Stage = Literal["input", "output", "both"]
Action = Literal["block", "warn", "redact"]
TextField = Literal["input", "output"]

DETECTOR_KINDS = ("phrases", "regex", "phi", "all_of", "any_of", "not", "evidence", "structure", "emergency")

DEFAULT_NEGATION_CUES = (
    "not", "no", "never", "none", "nor", "neither", "nobody", "no one", "nothing", "without",
    "don't", "do not", "doesn't", "does not", "didn't", "did not", "won't", "will not", "wouldn't",
    "would not", "shouldn't", "should not", "mustn't", "must not", "can't", "cannot", "can not",
    "couldn't", "could not", "isn't", "aren't", "wasn't", "weren't", "no need to", "not necessary to",
    "avoid", "refrain from", "denies", "denied", "negative for", "free of", "absence of", "ruled out",
)  # fmt: skip
DEFAULT_PSEUDO_NEGATIONS = (
    "no doubt", "not only", "not just", "no question", "no matter", "without a doubt", "without any doubt",
    "nothing else", "no longer",
)  # fmt: skip
DEFAULT_TERMINATORS = ("but", "however", "although", "though", "except", "yet", "whereas", "instead")


class Strict(BaseModel):
    """Unknown keys are errors (with a did-you-mean), so a misspelt option never silently does nothing."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Negation(Strict):
    """A phrase preceded within `window` tokens (same clause) by a negation cue does not fire."""

    window: int = Field(default=5, ge=0, le=30, description="Tokens looked at before a match; 0 disables.")
    cues: list[str] | None = Field(default=None, description="Replace the default negation cues.")
    extra_cues: list[str] = Field(default_factory=list, description="Added to the cues (e.g. whether, if).")
    pseudo: list[str] | None = Field(
        default=None,
        description="Phrases that look negative but are not ('no doubt'); default list if unset.",
    )
    extra_pseudo: list[str] = Field(default_factory=list, description="Added to the pseudo-negations.")
    terminators: list[str] | None = Field(
        default=None,
        description="Words that end a negation's scope ('but', 'however'); default list if unset.",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if value is False:
            return {"window": 0}
        if value is True:
            return {}
        if isinstance(value, int) and not isinstance(value, bool):
            return {"window": value}
        return value


class TextOptions(Strict):
    """Options shared by the phrase and regex detectors."""

    case_sensitive: bool = Field(default=False, description="Match case exactly.")
    negation: Negation | None = Field(default=None, description="Negation window (default: the rule's).")
    ignore_quoted: bool | None = Field(
        default=None, description="Ignore matches inside quotation marks (reported speech). Default: true."
    )
    on: TextField | None = Field(default=None, description="Text to look at (default: the rule's stage).")
    label: str | None = Field(default=None, description="Name used in the decision's reason.")


class Phrases(TextOptions):
    terms: list[str] = Field(default_factory=list, description="Literal phrases.")
    lexicons: list[str] = Field(default_factory=list, description="Names of top-level lexicons to include.")
    word_boundary: bool = Field(default=True, description="Phrases match whole words only.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"terms": [value]}
        if isinstance(value, list):
            return {"terms": value}
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Phrases:
        if not self.terms and not self.lexicons:
            raise ValueError("expected at least one entry in terms or lexicons, found none")
        if any(not t.strip() for t in self.terms):
            raise ValueError("expected non-empty phrases, found an empty one")
        return self


class Regex(TextOptions):
    patterns: list[str] = Field(min_length=1, description="Regular expressions (Python syntax, multiline).")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"patterns": [value]}
        if isinstance(value, list):
            return {"patterns": value}
        return value


class Phi(Strict):
    types: list[str] = Field(default=["all"], description="PHI types to look for, or all.")
    min_score: float = Field(default=0.0, ge=0.0, le=1.0, description="Ignore scanner spans scoring lower.")
    on: TextField | None = Field(default=None, description="Text to look at (default: the rule's stage).")
    label: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if value is None or value == "all":
            return {"types": ["all"]}
        if isinstance(value, str):
            return {"types": [value]}
        if isinstance(value, list):
            return {"types": value}
        return value


DEFAULT_CITATIONS = (
    r"\[\s*\d+(?:\s*[,;–-]\s*\d+)*\s*\]",
    r"\[\s*(?:doc|docs|document|ctx|context|source|src|ref|reference|passage|chunk)[\s:#_-]*[\w.:/-]+\s*\]",
    r"\(\s*(?:source|ref|doc|context)\s*[:#]\s*[^)]+\)",
)


class Evidence(Strict):
    """Factual claims need a citation or context id, when the request carried context."""

    claims: Detector = Field(description="What counts as a factual clinical claim (usually phrases/regex).")
    citations: list[str] = Field(
        default=list(DEFAULT_CITATIONS), description="Regexes that count as a citation ([1], [doc-3], ...)."
    )
    context_ids: bool = Field(default=True, description="A context document's id in the text is a citation.")
    scope: Literal["sentence", "paragraph", "answer"] = Field(
        default="paragraph",
        description="Where the citation must be: the claim's sentence, paragraph or anywhere.",
    )
    require_context: bool = Field(default=True, description="Only check when the request carried context.")


class Structure(Strict):
    """The output must parse and validate against a JSON Schema and/or stay under a length."""

    json_schema: dict[str, Any] | None = Field(default=None, description="Inline JSON Schema.")
    json_schema_file: str | None = Field(
        default=None, description="JSON Schema file, relative to the policy."
    )
    parse: Literal["strict", "first_object"] = Field(
        default="strict",
        description="strict: the whole text (code fences allowed) is JSON; first_object: its first {...}.",
    )
    max_chars: int | None = Field(default=None, gt=0, description="Longest allowed text, in characters.")
    max_words: int | None = Field(default=None, gt=0, description="Longest allowed text, in words.")
    on: TextField | None = None

    @model_validator(mode="after")
    def _something_to_check(self) -> Structure:
        if self.json_schema is not None and self.json_schema_file is not None:
            raise ValueError("expected json_schema or json_schema_file, found both")
        if not any(
            v is not None for v in (self.json_schema, self.json_schema_file, self.max_chars, self.max_words)
        ):
            raise ValueError("expected at least one of json_schema, json_schema_file, max_chars, max_words")
        return self


class Emergency(Strict):
    """Input describes emergency symptoms -> the output must contain seek-care advice."""

    symptoms: Detector = Field(description="Emergency symptoms, looked for in the input by default.")
    seek_care: Detector = Field(description="Seek-care advice, looked for in the output by default.")


class Detector(Strict):
    """Exactly one of the detector kinds; `within` narrows all_of to one sentence or paragraph."""

    phrases: Phrases | None = None
    regex: Regex | None = None
    phi: Phi | None = None
    all_of: list[Detector] | None = Field(default=None, min_length=1)
    any_of: list[Detector] | None = Field(default=None, min_length=1)
    not_: Detector | None = Field(default=None, alias="not")
    evidence: Evidence | None = None
    structure: Structure | None = None
    emergency: Emergency | None = None
    within: Literal["text", "sentence", "paragraph"] | None = Field(
        default=None, description="all_of only: its children must fire in the same sentence or paragraph."
    )

    @model_validator(mode="before")
    @classmethod
    def _phi_without_options(cls, value: Any) -> Any:
        if isinstance(value, dict) and "phi" in value and value["phi"] is None:
            return {**value, "phi": "all"}
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Detector:
        kinds = self.kinds()
        if len(kinds) != 1:
            found = ", ".join(kinds) if kinds else "none"
            raise ValueError(
                f"expected exactly one detector kind ({', '.join(DETECTOR_KINDS)}), found {found}"
            )
        if self.within is not None and kinds[0] != "all_of":
            raise ValueError(f"expected `within` only with all_of, found it with {kinds[0]}")
        return self

    def kinds(self) -> list[str]:
        return [k for k in DETECTOR_KINDS if getattr(self, "not_" if k == "not" else k) is not None]

    @property
    def kind(self) -> str:
        return self.kinds()[0]


class Example(Strict):
    """One example a rule must fire on (or must not): `text` goes to the rule's stage."""

    text: str | None = None
    output: str | None = None
    input: str | None = None
    context: Any = None
    task: str | None = None
    model_tags: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str) else value


class Examples(Strict):
    fires: list[Example] = Field(default_factory=list, description="Texts the rule must fire on.")
    passes: list[Example] = Field(default_factory=list, description="Texts the rule must not fire on.")


class Rule(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Stable identifier (in decisions).")
    description: str = Field(min_length=1, description="What the rule protects against (in the reason).")
    stage: Stage = Field(default="output", description="Which text the rule checks: input, output or both.")
    action: Action = Field(description="block, warn or redact (redacted text is returned; decision WARN).")
    detector: Detector
    tasks: list[str] | None = Field(default=None, description="Only for these tasks (default: every task).")
    except_tasks: list[str] = Field(default_factory=list, description="Never for these tasks.")
    model_tags: list[str] | None = Field(default=None, description="Only for models with one of these tags.")
    negation: Negation | None = Field(default=None, description="Negation window for this rule's phrases.")
    ignore_quoted: bool | None = Field(default=None, description="Ignore matches in quotes (default: true).")
    replacement: str = Field(
        default="[{type}]", description="Redaction text; {type} is the PHI type or REDACTED."
    )
    enabled: bool = Field(default=True, description="false keeps the rule in the file but off.")
    examples: Examples | None = Field(default=None, description="Checked by `medtune policy lint`.")


class Defaults(Strict):
    negation: Negation = Field(default_factory=Negation)
    ignore_quoted: bool = True


class Policy(Strict):
    version: str = Field(description="Policy version, recorded in every decision.")
    name: str | None = None
    description: str | None = None
    defaults: Defaults = Field(default_factory=Defaults)
    lexicons: dict[str, list[str]] = Field(default_factory=dict, description="Named phrase lists.")
    fragments: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="Named regex pieces, used in patterns as {frag:NAME}; a list is an alternation.",
    )
    rules: list[Rule] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


for _model in (Evidence, Emergency, Detector, Rule, Policy):
    _model.model_rebuild()


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy plus what is needed to audit it (hash) and to point at its lines (node tree)."""

    policy: Policy
    source: str
    sha256: str
    root: yaml.Node | None
    base_dir: Path


def load_policy(path: Path | str) -> LoadedPolicy:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: policy file not found")
    data = path.read_bytes()
    return parse_policy(data.decode("utf-8"), source=str(path), base_dir=path.parent, raw_bytes=data)


def parse_policy(
    text: str, source: str = "<policy>", base_dir: Path | None = None, raw_bytes: bytes | None = None
) -> LoadedPolicy:
    raw, root = parse_yaml(text, source)
    if not isinstance(raw, dict):
        found = "nothing" if raw is None else type(raw).__name__
        raise ConfigError(f"{source}:1: expected a mapping with version and rules, found {found}")
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source, root, Policy, "policy")) from None
    digest = hashlib.sha256(raw_bytes if raw_bytes is not None else text.encode("utf-8")).hexdigest()
    return LoadedPolicy(policy, source, digest, root, base_dir or Path.cwd())
