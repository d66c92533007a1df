"""The PHI scanner: regex recognizers + name and place dictionaries + optional NER, merged into sorted,
non-overlapping spans with character offsets into the original text.

    from medtune.privacy.scanner import PhiScanner, PhiSpan
    spans = PhiScanner().scan("Pt SMITH, JOHN seen 07/22/2019 by Dr. Healey")

Offline by default: the dictionaries come from installed packages (Faker, zipcodes), nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import re
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from medtune.privacy import exclusions, names, patterns, places, tokens
from medtune.privacy.dictionaries import lexicon
from medtune.privacy.spans import TYPES, PhiSpan, new_span, resolve_tuples

__all__ = ["TYPES", "PhiScanner", "PhiSpan", "ScannerConfig", "scanner_version"]

SCANNER_VERSION = "1.0"


class NerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    backend: Literal["spacy", "transformers"] = Field(description="NER back end to add to the rules.")
    model: Path = Field(description="Local directory of a spaCy pipeline or a token-classification model.")
    labels: dict[str, str] = Field(default_factory=dict, description="Extra model label -> medtune type.")


class ScannerConfig(BaseModel):
    """Scanner options (the `phi.scanner` section of a config, or `--config FILE` on `medtune phi scan`)."""

    model_config = ConfigDict(extra="forbid")
    types: list[str] = Field(default_factory=lambda: list(TYPES), description="Identifier types to report.")
    min_score: float = Field(0.4, ge=0.0, le=1.0, description="Drop spans scored below this.")
    allow: list[str] = Field(default_factory=list, description="Exact strings never reported (e.g. a drug).")
    deny: dict[str, list[str]] = Field(
        default_factory=dict, description="Type -> exact strings always reported (e.g. local street names)."
    )
    ner: NerConfig | None = Field(None, description="Optional NER back end loaded from a local directory.")
    ignore_machine_timestamps: bool = Field(
        False, description="Skip ISO date-times with a time of day (log timestamps in run artifacts)."
    )

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = [t for t in value if t not in TYPES]
        if unknown:
            raise ValueError(f"unknown types {unknown}; known: {', '.join(TYPES)}")
        return value

    @field_validator("deny")
    @classmethod
    def _deny_types(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = [t for t in value if t not in TYPES]
        if unknown:
            raise ValueError(f"unknown types {unknown}; known: {', '.join(TYPES)}")
        return value


@functools.cache  # the sources it hashes do not change within a process; gates ask for it per dataset
def scanner_version() -> str:
    """Version of the rules: changes whenever a pattern, list or package version behind them changes."""
    from importlib import metadata

    digest = hashlib.sha256()
    for module in (patterns, names, places, tokens, exclusions):
        digest.update(_source(module).encode())
    for pkg in ("faker", "zipcodes"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            digest.update(f"{pkg}={metadata.version(pkg)}".encode())
    return f"{SCANNER_VERSION}+{digest.hexdigest()[:12]}"


def _source(module: ModuleType) -> str:
    """A module's source text, also when it runs compiled by mypyc (`__file__` is then the extension, and
    inspect cannot read it): the .py installed beside it, which it was built from."""
    path = Path(module.__file__ or "")
    if path.suffix == ".py":
        return inspect.getsource(module)
    return path.with_name(module.__name__.rpartition(".")[2] + ".py").read_text(encoding="utf-8")


class PhiScanner:
    """Finds Safe Harbor identifiers in free text. Thread-safe after construction; build once, reuse."""

    def __init__(self, config: ScannerConfig | dict[str, Any] | None = None) -> None:
        if isinstance(config, dict):
            config = ScannerConfig.model_validate(config)
        self.config = config or ScannerConfig()
        self.lexicon = lexicon()
        self._tokenizer = tokens.Tokenizer(self.lexicon)
        self._types = frozenset(self.config.types)
        self._allow = frozenset(self.config.allow)
        self._deny = [(t, s) for t, strings in self.config.deny.items() for s in strings if s]
        self._ner = None
        if self.config.ner is not None:
            from medtune.privacy.ner import load_ner

            self._ner = load_ner(self.config.ner.backend, self.config.ner.model, self.config.ner.labels)

    def scan(self, text: str) -> list[PhiSpan]:
        """Sorted, non-overlapping spans of `text` (offsets index the string as given)."""
        if not text:
            return []
        upper = tokens.is_upper_text(text)
        lower = patterns.lower_copy(text)
        raw: list[tuple[int, int, str, float]] = patterns.run(text, upper, lower)
        toks = self._tokenizer.tokenize(text, upper)
        lex = self.lexicon
        raw += [(s, e, "NAME", sc) for s, e, sc in names.find_names(text, toks, lex, upper, lower)]
        raw += [(s, e, "LOCATION", sc) for s, e, sc in places.find_places(text, toks, lex, upper, lower)]
        if self._ner is not None:
            raw.extend(self._ner(text))
        for type_, needle in self._deny:
            start = text.find(needle)
            while start >= 0:
                raw.append((start, start + len(needle), type_, 1.0))
                start = text.find(needle, start + len(needle))
        min_score, types, allow = self.config.min_score, self._types, self._allow
        if self.config.ignore_machine_timestamps:
            stamps = [(a, b) for a, b, t, _ in raw if t == "DATE" and _is_machine_timestamp(text, a, b)]
            if stamps:
                raw = [r for r in raw if not any(r[0] < b and a < r[1] for a, b in stamps)]
        kept = [r for r in raw if r[3] >= min_score and r[1] > r[0] and r[2] in types]
        if allow:
            kept = [r for r in kept if text[r[0] : r[1]] not in allow]
        return [new_span(s, e, t, text[s:e], sc) for s, e, t, sc in resolve_tuples(kept)]

    def counts(self, text: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for span in self.scan(text):
            out[span.type] = out.get(span.type, 0) + 1
        return out


_TIME_AFTER = re.compile(r"[T ]\d{2}:\d{2}")


def _is_machine_timestamp(text: str, start: int, end: int) -> bool:
    """An ISO date with a time of day right after it: a log line's timestamp, not a date of care."""
    value = text[start:end]
    if len(value) < 10 or value[4] != "-" or value[7] != "-":
        return False
    return (len(value) >= 16 and value[10] in "T ") or _TIME_AFTER.match(text, end) is not None
