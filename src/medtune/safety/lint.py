"""`medtune policy lint`: validate and compile a policy, then run every rule's own examples.

A rule can carry examples it must fire on and examples it must not (`examples: {fires: [..], passes: [..]}`);
lint runs each against that rule alone and reports every miss with its `file:line`. PHI examples need the
PHI scanner; without it they are skipped with a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medtune.errors import ConfigError
from medtune.safety import policy as P
from medtune.safety.engine import CompiledRule, PolicyEngine
from medtune.yamlloc import dotted, format_problems, line_of


@dataclass
class RuleSummary:
    id: str
    stage: str
    action: str
    detector: str
    scope: str
    examples: str


@dataclass
class LintReport:
    version: str
    sha256: str
    rules: list[RuleSummary] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _NoPhiScanner:
    """Stands in when medtune.privacy is absent, so the rest of a policy can still be linted."""

    def scan(self, text: str) -> list[Any]:
        raise RuntimeError("PHI scanner unavailable")


def lint_policy(path: Path | str) -> LintReport:
    loaded = P.load_policy(path)
    notes: list[str] = []
    scanner: Any = None
    if _uses_phi(loaded.policy):
        try:
            from medtune.privacy.scanner import PhiScanner

            scanner = PhiScanner()
        except ImportError:
            scanner = _NoPhiScanner()
            notes.append("medtune.privacy is not available: examples of PHI rules were not run")
    engine = PolicyEngine(loaded, phi_scanner=scanner)
    report = LintReport(engine.version, engine.sha256, notes=notes)
    problems: list[tuple[int, str]] = []
    by_id = {r.id: r for r in engine.rules}
    for index, rule in enumerate(loaded.policy.rules):
        compiled = by_id.get(rule.id)
        summary = RuleSummary(
            rule.id,
            rule.stage,
            rule.action if rule.enabled else f"{rule.action} (disabled)",
            describe(rule.detector),
            _scope(rule),
            "-",
        )
        report.rules.append(summary)
        if compiled is None or rule.examples is None:
            continue
        if isinstance(scanner, _NoPhiScanner) and _uses_phi_detector(rule.detector):
            summary.examples = "skipped (no PHI scanner)"
            continue
        total = ok = 0
        for kind in ("fires", "passes"):
            for j, example in enumerate(getattr(rule.examples, kind)):
                total += 1
                fired = _run_example(engine, compiled, example)
                if fired == (kind == "fires"):
                    ok += 1
                    continue
                loc = ("rules", index, "examples", kind, j)
                line = line_of(loaded.root, loc)
                want = "to fire" if kind == "fires" else "not to fire"
                got = "it did not" if kind == "fires" else "it did"
                problems.append(
                    (line, f"{loaded.source}:{line}: {dotted(loc)}: expected the rule {want}, {got}")
                )
        summary.examples = f"{ok}/{total} ok"
    if problems:
        raise ConfigError(
            format_problems(loaded.source, [p for _, p in sorted(problems)], "policy's examples")
        )
    return report


def _run_example(engine: PolicyEngine, rule: CompiledRule, example: P.Example) -> bool:
    texts = {"input": example.input, "output": example.output}
    if example.text is not None:
        texts["input" if rule.spec.stage == "input" else "output"] = example.text
    task = example.task or (sorted(rule.tasks)[0] if rule.tasks else None)
    tags = example.model_tags or (sorted(rule.model_tags)[:1] if rule.model_tags else [])
    decision = engine.check(
        texts["output"],
        input=texts["input"],
        context=example.context,
        task=task,
        model_tags=tags,
        only=[rule.id],
    )
    return bool(decision.fired)


def _uses_phi(policy: P.Policy) -> bool:
    return any(_uses_phi_detector(rule.detector) for rule in policy.rules)


def _uses_phi_detector(spec: P.Detector) -> bool:
    kind = spec.kind
    if kind == "phi":
        return True
    children: list[P.Detector] = []
    if kind in ("all_of", "any_of"):
        children = list(spec.all_of or spec.any_of or [])
    elif kind == "not" and spec.not_ is not None:
        children = [spec.not_]
    elif kind == "evidence" and spec.evidence is not None:
        children = [spec.evidence.claims]
    elif kind == "emergency" and spec.emergency is not None:
        children = [spec.emergency.symptoms, spec.emergency.seek_care]
    return any(_uses_phi_detector(c) for c in children)


def describe(spec: P.Detector, depth: int = 0) -> str:
    """A short picture of a detector tree: all_of/sentence[regex, any_of[2]]."""
    kind = spec.kind
    if kind in ("all_of", "any_of"):
        children = spec.all_of or spec.any_of or []
        within = f"/{spec.within}" if spec.within and spec.within != "text" else ""
        if depth >= 1:
            return f"{kind}{within}[{len(children)}]"
        return f"{kind}{within}[{', '.join(describe(c, depth + 1) for c in children)}]"
    if kind == "not" and spec.not_ is not None:
        return f"not[{describe(spec.not_, depth + 1)}]"
    if kind == "phi" and spec.phi is not None:
        types = spec.phi.types
        return f"phi({', '.join(types) if len(types) <= 3 else f'{len(types)} types'})"
    return kind


def _scope(rule: P.Rule) -> str:
    parts = []
    if rule.tasks is not None:
        parts.append("tasks: " + ", ".join(rule.tasks))
    if rule.except_tasks:
        parts.append("not tasks: " + ", ".join(rule.except_tasks))
    if rule.model_tags is not None:
        parts.append("model tags: " + ", ".join(rule.model_tags))
    return "; ".join(parts) or "all"
