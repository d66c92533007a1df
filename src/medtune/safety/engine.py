"""The policy engine: a compiled policy that turns (input, output, context) into a Decision.

    engine = PolicyEngine.from_file("configs/policy.yml")
    decision = engine.check(output, input=question, context=docs, task="qa", model_tags=["v2"])
    decision.decision            # "PASS" | "WARN" | "BLOCK"
    decision.to_json()           # rules that fired, spans, reasons, redacted text, policy sha256 and version

Rules are compiled once (`PolicyEngine(...)`); `check` only runs precompiled matchers over the texts.
Input-stage rules run when an input is given, output-stage rules when an output is given, so the same engine
guards a request before generation (`check_input`) and its answer after.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medtune.errors import ConfigError
from medtune.safety import policy as P
from medtune.safety.decision import Decision, FiredRule, Span, strongest
from medtune.safety.detectors import Compiled, CompileScope, Fired, Hit, compile_detector
from medtune.safety.gates import GateIndex
from medtune.safety.text import TextView
from medtune.yamlloc import dotted, format_problems, line_of

_MAX_REASON_ITEMS = 4
_MAX_PLANS = 256  # (task, model tags) combinations whose applicable rules are remembered


@dataclass(frozen=True)
class ContextDoc:
    id: str | None
    text: str


def normalise_context(context: Any) -> list[ContextDoc]:
    """None | str | list of (str | {"id", "text"}) -> documents. Anything else is a TypeError."""
    if context is None:
        return []
    if isinstance(context, str):
        return [ContextDoc(None, context)] if context.strip() else []
    if isinstance(context, dict):
        context = [context]
    if not isinstance(context, list | tuple):
        raise TypeError(f"context must be a string or a list, not {type(context).__name__}")
    docs = []
    for item in context:
        if isinstance(item, str):
            if item.strip():
                docs.append(ContextDoc(None, item))
        elif isinstance(item, dict):
            doc_id = item.get("id")
            text = item.get("text", "")
            if not isinstance(text, str) or (doc_id is not None and not isinstance(doc_id, str | int)):
                raise TypeError('context items must be strings or {"id": str, "text": str}')
            docs.append(ContextDoc(None if doc_id is None else str(doc_id), text))
        else:
            raise TypeError(f"context items must be strings or objects, not {type(item).__name__}")
    return docs


class CheckContext:
    """One request being checked: its texts, their lazily built views, PHI spans and context ids."""

    __slots__ = ("_engine", "_gates", "_masks", "_phi", "_texts", "_views", "context", "memo")

    def __init__(self, engine: PolicyEngine, texts: dict[str, str | None], context: list[ContextDoc]) -> None:
        self._engine = engine
        self._texts = texts
        self._views: dict[str, TextView] = {}
        self._phi: dict[str, list[Any]] = {}
        self._masks: dict[str, int] = {}
        self._gates = engine.gates
        self.context = context
        self.memo: dict[Any, Any] = {}

    def text(self, field: str) -> str | None:
        return self._texts.get(field)

    def view(self, field: str) -> TextView | None:
        view = self._views.get(field)
        if view is None:
            text = self._texts.get(field)
            if text is None:
                return None
            view = self._views[field] = TextView(text)
        return view

    def gate_mask(self, index: GateIndex, field: str) -> int:
        """The word sets of `index` that the field's text meets (0 without a text), once per field."""
        mask = self._masks.get(field)
        if mask is None or index is not self._gates:
            mask = _gate_mask(index, self.view(field))
            if index is self._gates:  # only this engine's index is shared by its detectors
                self._masks[field] = mask
        return mask

    def unit_index(self, field: str, pos: int, unit: str) -> int:
        view = self.view(field)
        return view.unit_index(pos, unit) if view is not None else 0

    def phi_spans(self, field: str) -> list[Any]:
        spans = self._phi.get(field)
        if spans is None:
            text = self._texts.get(field)
            spans = self._phi[field] = self._engine.phi_scanner.scan(text) if text else []
        return spans

    @property
    def has_context(self) -> bool:
        return any(doc.text.strip() or doc.id for doc in self.context)

    @property
    def context_ids(self) -> list[str]:
        return [doc.id for doc in self.context if doc.id]


def _gate_mask(index: GateIndex, view: TextView | None) -> int:
    return index.mask(view.tokens(), view.has_digit) if view is not None else 0


@dataclass
class CompiledRule:
    spec: P.Rule
    detector: Compiled
    stages: tuple[str, ...]
    tasks: frozenset[str] | None
    except_tasks: frozenset[str]
    model_tags: frozenset[str] | None

    @property
    def id(self) -> str:
        return self.spec.id

    def applies(self, task: str | None, model_tags: frozenset[str]) -> bool:
        if (self.tasks is not None and task not in self.tasks) or task in self.except_tasks:
            return False
        return self.model_tags is None or bool(self.model_tags & model_tags)


class PolicyEngine:
    """A policy compiled for matching. Build once (per policy file), call `check` many times; thread-safe."""

    def __init__(
        self,
        loaded: P.LoadedPolicy,
        *,
        exclude_rules: Iterable[str] = (),
        phi_scanner: Any = None,
        fast: bool = True,
    ) -> None:
        """Compile `loaded`. `fast=False` turns off word gates and anchored matching: every regex scans the
        whole text (slow; the reference the fast path is tested against)."""
        self.loaded = loaded
        self.policy = loaded.policy
        self.sha256 = loaded.sha256
        self.version = loaded.policy.version
        excluded = set(exclude_rules)
        problems: list[tuple[tuple[str | int, ...], str]] = []
        known_ids = [r.id for r in self.policy.rules]
        unknown = sorted(excluded - set(known_ids))
        if unknown:
            raise ConfigError(f"unknown rule id {unknown[0]!r} to skip; rules: {', '.join(known_ids)}")
        seen: dict[str, int] = {}
        self.gates = gates = GateIndex()  # every rule's word gates, tested together once per check
        self.rules: list[CompiledRule] = []
        uses_phi = False
        for index, rule in enumerate(self.policy.rules):
            loc: tuple[str | int, ...] = ("rules", index)
            if rule.id in seen:
                problems.append(
                    (
                        (*loc, "id"),
                        f"expected a unique rule id, found {rule.id!r} again (rules[{seen[rule.id]}])",
                    )
                )
            seen.setdefault(rule.id, index)
            scope = CompileScope(self.policy, rule, loaded.base_dir, problems, fast=fast, gates=gates)
            detector = compile_detector(rule.detector, scope, (*loc, "detector"))
            if rule.action == "redact" and not _redactable(rule.detector):
                problems.append(
                    (
                        (*loc, "action"),
                        "expected block or warn for a detector that reports no spans, found 'redact'",
                    )
                )
            if not rule.enabled or rule.id in excluded:
                continue
            uses_phi = uses_phi or scope.uses_phi[0]
            stages = ("input", "output") if rule.stage == "both" else (rule.stage,)
            self.rules.append(
                CompiledRule(
                    rule,
                    detector,
                    stages,
                    frozenset(rule.tasks) if rule.tasks is not None else None,
                    frozenset(rule.except_tasks),
                    frozenset(rule.model_tags) if rule.model_tags is not None else None,
                )
            )
        if problems:
            lines = [
                (
                    line_of(loaded.root, loc),
                    f"{loaded.source}:{line_of(loaded.root, loc)}: {dotted(loc)}: {msg}",
                )
                for loc, msg in problems
            ]
            raise ConfigError(format_problems(loaded.source, [m for _, m in sorted(lines)], "policy"))
        self._plans: dict[tuple[str | None, frozenset[str]], list[CompiledRule]] = {}
        self.phi_scanner = phi_scanner
        if uses_phi and phi_scanner is None:
            self.phi_scanner = _default_phi_scanner(loaded.source)

    @classmethod
    def from_file(cls, path: Path | str, **kwargs: Any) -> PolicyEngine:
        return cls(P.load_policy(path), **kwargs)

    @classmethod
    def from_text(cls, text: str, source: str = "<policy>", **kwargs: Any) -> PolicyEngine:
        return cls(P.parse_policy(text, source), **kwargs)

    # ------------------------------------------------------------------------------------------ check
    def check(
        self,
        output: str | None = None,
        *,
        input: str | None = None,
        context: Any = None,
        task: str | None = None,
        model_tags: Sequence[str] = (),
        only: Iterable[str] | None = None,
    ) -> Decision:
        """Decide on one request/answer. Pass `input` alone (before generation) to run input-stage rules only.

        `context` is a string or a list of strings / {"id", "text"} documents; `only` restricts the rules run.
        """
        texts = {"input": input, "output": output}
        ctx = CheckContext(self, texts, normalise_context(context))
        wanted = None if only is None else set(only)
        fired: list[FiredRule] = []
        redact: dict[str, list[tuple[Hit, str]]] = {}
        for rule in self._applicable(task, frozenset(model_tags)):
            if wanted is not None and rule.id not in wanted:
                continue
            for stage in rule.stages:
                if texts[stage] is None:
                    continue
                result = rule.detector.run(ctx, stage)
                if result is None:
                    continue
                fired.append(_fired_rule(rule.spec, stage, result))
                if rule.spec.action == "redact":
                    for hit in result.hits:
                        redact.setdefault(hit.field, []).append((hit, rule.spec.replacement))
        return Decision(
            decision=strongest(f.action for f in fired),
            fired=fired,
            redacted_output=_redact(output, redact.get("output")) if "output" in redact else None,
            policy_sha256=self.sha256,
            policy_version=self.version,
            redacted_input=_redact(input, redact.get("input")) if "input" in redact else None,
        )

    def _applicable(self, task: str | None, tags: frozenset[str]) -> list[CompiledRule]:
        """The rules for a task and model tags, worked out once per combination (there are few)."""
        key = (task, tags)
        rules = self._plans.get(key)
        if rules is None:
            rules = [rule for rule in self.rules if rule.applies(task, tags)]
            if len(self._plans) < _MAX_PLANS:
                self._plans[key] = rules
        return rules

    def check_input(
        self, input: str, *, context: Any = None, task: str | None = None, model_tags: Sequence[str] = ()
    ) -> Decision:
        return self.check(None, input=input, context=context, task=task, model_tags=model_tags)

    def rule_ids(self) -> list[str]:
        return [r.id for r in self.rules]


def _redactable(spec: P.Detector) -> bool:
    return spec.kind not in ("not", "structure")


def _fired_rule(rule: P.Rule, stage: str, result: Fired) -> FiredRule:
    hits = sorted(result.hits, key=lambda h: (h.field, h.start, h.end, h.label))
    spans = [Span(h.start, h.end, h.field, h.text, h.type) for h in hits]
    details: list[str] = []
    for hit in hits:
        item = f"{hit.label} {hit.type}" if hit.type else f"{hit.label} '{_short(hit.text or '')}'"
        if item not in details:
            details.append(item)
    if len(details) > _MAX_REASON_ITEMS:
        details = [*details[:_MAX_REASON_ITEMS], f"+{len(details) - _MAX_REASON_ITEMS} more"]
    parts = [", ".join(details)] if details else []
    parts += list(dict.fromkeys(result.notes))
    reason = rule.description.rstrip(".") + (": " + "; ".join(parts) if parts else "")
    return FiredRule(rule.id, rule.action, stage, reason, spans)


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _redact(text: str | None, items: list[tuple[Hit, str]] | None) -> str | None:
    if text is None or not items:
        return text
    spans = sorted(((h.start, h.end, repl.replace("{type}", h.type or "REDACTED")) for h, repl in items))
    merged: list[list[Any]] = []
    for start, end, repl in spans:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end, repl])
    out, pos = [], 0
    for start, end, repl in merged:
        out += [text[pos:start], repl]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _default_phi_scanner(source: str) -> Any:
    """medtune's PHI scanner, imported only when a policy has a PHI rule."""
    try:
        from medtune.privacy.scanner import PhiScanner
    except ImportError as exc:
        raise ConfigError(
            f"{source}: the policy has a PHI rule but medtune's PHI scanner is not available ({exc})",
            hint="exclude the PHI rules (--skip-rule ID) or install medtune with medtune.privacy",
        ) from None
    return PhiScanner()
