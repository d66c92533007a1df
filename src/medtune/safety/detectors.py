"""Compiled detectors: each policy detector becomes an object with one method, `run(ctx, field)`.

Compile once, match many: phrase lists become one trie regex, regex lists one alternation, lexicon references
are expanded, JSON Schemas get their validator, at load time. `run` returns None when the detector does not
fire, else a `Fired` with the spans that made it fire (possibly none, for `not` and `structure`).

Problems found while compiling (bad regex, unknown lexicon, unknown PHI type, a detector that cannot see the
text it needs) are collected with their policy path and reported all at once by the engine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from medtune.safety import policy as P
from medtune.safety.gates import COMMON_WORDS, DIGIT, GateIndex, branch_gates, regex_gate, selectivity
from medtune.safety.patterns import expand_fragments, expand_lexicons, lexicon_refs, phrase_alternation
from medtune.safety.text import (
    AFTER,
    DIGIT_START,
    LINE_START,
    CompiledNegation,
    StartFinder,
    TextView,
    tokens_of,
)

if TYPE_CHECKING:
    from medtune.safety.engine import CheckContext

PHI_TYPES = (
    "NAME", "DATE", "AGE", "PHONE", "FAX", "EMAIL", "SSN", "MRN", "HEALTH_PLAN", "ACCOUNT", "LICENSE",
    "VEHICLE", "DEVICE", "URL", "IP", "ADDRESS", "ZIP", "LOCATION", "ID", "BIOMETRIC", "PHOTO",
)  # fmt: skip
_WORD = re.compile(r"\S+")
_CODE_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)


class Hit(NamedTuple):
    """Where a detector matched. `text` is None for PHI (never copied into a decision); `type`: PHI type.

    A named tuple: as immutable as a frozen dataclass, and several times cheaper to create (a check makes
    many).
    """

    start: int
    end: int
    field: str
    label: str
    text: str | None = None
    type: str | None = None


@dataclass(slots=True)
class Fired:
    hits: list[Hit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_DIGIT_WORDS = frozenset([DIGIT, DIGIT_START])
_DIGIT_ONLY = frozenset([DIGIT])
_NOTHING: frozenset[str] = frozenset()
_MAX_BRANCH_MEMO = 1024
_MAX_PHRASE_BRANCHES = 100  # longer phrase lists (drug names) are single words: the word gate is as good

# Distinct leaf configurations -> small ints: the per-check memo key of identical detectors.
_KEYS: dict[tuple[Any, ...], int] = {}

# Where a detector may look: (field, [(start, end), ...]) from an enclosing `all_of within sentence`, whose
# earlier children already fixed the candidate sentences. None: the whole text.
Ranges = tuple[str, list[tuple[int, int]]] | None


class Compiled(Protocol):
    label: str
    kind: str
    cost: int

    def run(self, ctx: CheckContext, field: str, ranges: Ranges = None) -> Fired | None: ...

    def may_fire(self, ctx: CheckContext, field: str) -> bool:
        """False only when `run` surely returns None (a cheap word-gate test, no matching)."""
        ...


@dataclass
class CompileScope:
    """What a detector compiles against: the policy, its rule, and where problems go."""

    policy: P.Policy
    rule: P.Rule
    base_dir: Path
    problems: list[tuple[tuple[str | int, ...], str]]
    uses_phi: list[bool] = field(default_factory=lambda: [False])
    fast: bool = True  # False: no gates or anchored matching (the reference the fast path is tested against)
    gates: GateIndex = field(default_factory=GateIndex)  # shared by every rule of an engine

    def problem(self, loc: tuple[str | int, ...], message: str) -> None:
        self.problems.append((loc, message))

    def lexicon(self, name: str) -> list[str]:
        return self.policy.lexicons[name]


# ------------------------------------------------------------------------------------------ leaves


class TextDetector:
    """Phrases or regexes over one text, with negation look-back and quoted speech excluded.

    `gate` is a list of word sets (see medtune.safety.gates): every match contains a word of each set, so when
    the text lacks one the regex is not run at all. With `starts_at_gate` (phrase lists) or `prefix` (regexes
    whose matches provably begin at certain words, digits or pinned offsets), the regex is tried at those
    offsets only. Otherwise it runs over the sentences that contain a word of the most selective set (so a
    gated regex does not match across sentences).
    """

    def __init__(
        self,
        kind: str,
        regexes: list[re.Pattern[str]],
        on: str | None,
        negation: CompiledNegation | None,
        ignore_quoted: bool,
        label: str,
        gate: list[frozenset[str]] | None = None,
        starts_at_gate: bool = False,
        reject: frozenset[str] | None = None,
        prefix: frozenset[str] | None = None,
        branches: list[tuple[frozenset[str], list[frozenset[str]]]] | None = None,
        index: GateIndex | None = None,
    ) -> None:
        self.kind, self.regexes, self.on = kind, regexes, on
        self.negation, self.ignore_quoted, self.label = negation, ignore_quoted, label
        self.gate = _order_gate(gate) if gate and not starts_at_gate else (gate or None)
        self.reject = reject  # a cheaper first test for phrase lists: each phrase's least common word
        # every word set the text must meet, as bits of the engine's gate index (one bit test per check)
        self.index = index if index is not None else GateIndex()
        self.need = self.index.need([*(self.gate or ()), *([reject] if reject else [])])
        self.starts_at_gate = bool(self.gate) and starts_at_gate and len(regexes) == 1
        # prefix: words at whose start every match begins (regexes), or pinned offsets (a line start, after a
        # comma): try the regex at those offsets only. Pinned offsets and digits need no word in the text.
        self.prefix = prefix if len(regexes) == 1 and not self.starts_at_gate else None
        self.prefix_pins = frozenset(w for w in self.prefix or () if w == LINE_START or w.startswith(AFTER))
        self.prefix_digits = (self.prefix or frozenset()) & _DIGIT_WORDS
        # with alternatives (`prefix` is their union), only the prefixes of those whose gate holds are tried;
        # an alternative that starts with one of some words also needs one of them in the text
        self.branches = (
            [(start, self.index.need([*gates, *_word_set(start)])) for start, gates in branches]
            if (self.prefix is not None or self.starts_at_gate) and branches and len(branches) > 1
            else None
        )
        self.branch_bits = 0
        for _, need in self.branches or ():
            self.branch_bits |= need
        self._branch_memo: dict[int, frozenset[str]] = {}
        starts = self.prefix if self.prefix is not None else self.gate[0] if self.starts_at_gate else None
        self.finder = StartFinder(starts) if starts is not None else None
        # identical detectors (the same dose regex in three rules) share one result per check
        patterns = tuple((r.pattern, r.flags) for r in regexes)
        self.key = _KEYS.setdefault((kind, patterns, on, negation, ignore_quoted, label), len(_KEYS))
        self.memo_keys = {name: (self.key, name) for name in ("input", "output")}
        # rough relative run time: phrases tried at a few offsets are cheapest; a regex costs with its size
        size = 1 + sum(len(r.pattern) for r in regexes) // 400
        if self.starts_at_gate:
            self.cost = 1
        elif self.prefix is not None:  # pinned offsets (every comma, every line) are many more tries
            self.cost = 2 + size // 4 if self.prefix_pins else 2
        else:
            self.cost = 2 + size if self.gate else 4 * (2 + size)

    def run(self, ctx: CheckContext, field: str, ranges: Ranges = None) -> Fired | None:
        name = self.on or field
        spans = ranges[1] if ranges is not None and ranges[0] == name else None
        if spans is None:
            memo = ctx.memo
            key = self.memo_keys.get(name) or (self.key, name)
            if key in memo:
                return memo[key]
            memo[key] = result = self._run(ctx, name, None)
            return result
        return self._run(ctx, name, spans)

    def may_fire(self, ctx: CheckContext, field: str) -> bool:
        return self._starts_with(ctx, self.on or field) is not None

    def _starts_with(self, ctx: CheckContext, name: str) -> frozenset[str] | None:
        """None when a gate rules the text out; else the words (or pseudo-words) where matches may start (the
        prefixes of the alternatives whose gates hold; empty when nothing is anchored)."""
        need = self.need
        if need or self.branches is not None:  # a text without the words has mask 0
            mask = ctx.gate_mask(self.index, name)
            if mask & need != need:
                return None
            if self.branches is not None:
                return self._branch_starts(mask) or None
        elif not self.regexes or ctx.text(name) is None:
            return None
        return self.prefix or _NOTHING

    def _run(self, ctx: CheckContext, name: str, spans: list[tuple[int, int]] | None) -> Fired | None:
        starts_with = self._starts_with(ctx, name)
        view = ctx.view(name)
        if starts_with is None or view is None:
            return None
        if self.prefix is not None:
            if self.prefix_pins and self.gate is not None:
                # pinned offsets (every comma, every line) are many: first narrow to the sentences with a gate
                # word, as the unanchored path does
                anchor = view.token_starts(self._gate_words(view))
                if anchor is not None:
                    spans = _anchor_sentences(view, anchor, spans)
            matches = self._match_anchored(view, spans, starts_with)
        elif self.starts_at_gate:
            assert self.gate is not None
            matches = self._match_anchored(
                view, spans, starts_with if self.branches is not None else self.gate[0]
            )
        elif self.gate is not None and (anchor := view.token_starts(self._gate_words(view))) is not None:
            matches = self._scan(view.text, _anchor_sentences(view, anchor, spans))
        else:
            matches = self._scan(view.text, spans)
        hits = self._hits(view, name, matches)
        return Fired(hits) if hits else None

    def _branch_starts(self, mask: int) -> frozenset[str]:
        """The prefixes of the alternatives whose gates `mask` meets; worked out once per combination of
        gates (a function of which word sets a text has, not of the text)."""
        assert self.branches is not None
        key = mask & self.branch_bits
        starts = self._branch_memo.get(key)
        if starts is None:
            starts = frozenset().union(*(start for start, need in self.branches if key & need == need))
            if len(self._branch_memo) < _MAX_BRANCH_MEMO:
                self._branch_memo[key] = starts
        return starts

    def _gate_words(self, view: TextView) -> frozenset[str]:
        """The words of the most selective gate set that are in the text (DIGIT for a digit)."""
        assert self.gate is not None
        words = self.gate[0]
        present = words & view.tokens()
        return present | _DIGIT_ONLY if DIGIT in words and view.has_digit() else present

    def _match_anchored(
        self, view: TextView, spans: list[tuple[int, int]] | None, starts_with: frozenset[str] | None
    ) -> list[tuple[int, int]]:
        """Matches of the (single) regex tried only where a match may begin (`starts_with`: words, digits or
        pinned offsets), in each span as `_scan` sees it: from the whitespace before the span to its end."""
        assert self.finder is not None and starts_with is not None
        text, regex = view.text, self.regexes[0]
        if spans is None:  # the whole text: look up the few start words that the text has
            present = (starts_with & view.tokens()) | (starts_with & self.prefix_pins)
            if self.prefix_digits and view.has_digit():
                present |= starts_with & self.prefix_digits
            starts = view.token_starts(present)
            return self._scan(text, None) if starts is None else _match_at(regex, text, starts, len(text))
        matches: list[tuple[int, int]] = []
        for lo, hi in spans:  # a few sentences: let the regex engine find the start words in them
            lo = _back_over_space(text, lo)
            starts = self.finder.find(view, lo, hi)
            if starts is None:  # offsets not trustworthy (Unicode case folding): scan instead
                return self._scan(text, spans)
            matches += _match_at(regex, text, starts, hi)
        return matches

    def _scan(self, text: str, spans: list[tuple[int, int]] | None) -> list[tuple[int, int]]:
        matches: list[tuple[int, int]] = []
        for regex in self.regexes:
            for lo, hi in spans if spans is not None else ((0, len(text)),):
                lo = _back_over_space(text, lo)
                matches.extend(m.span() for m in regex.finditer(text, lo, hi))
        return matches

    def _hits(self, view: TextView, name: str, matches: list[tuple[int, int]]) -> list[Hit]:
        """Matches trimmed of whitespace, without those in quotes or after a negation cue."""
        text = view.text
        hits: list[Hit] = []
        for start, end in matches:
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if start == end:
                continue
            if self.ignore_quoted and view.in_quote(start):
                continue
            if self.negation is not None and view.negated(start, self.negation):
                continue
            hits.append(Hit(start, end, name, self.label, text[start:end]))
        return hits


def _order_gate(gate: list[frozenset[str]]) -> list[frozenset[str]]:
    """Word sets ordered most selective first (see medtune.safety.gates.selectivity)."""
    return sorted(gate, key=selectivity)


def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(lo <= pos < hi for lo, hi in spans)


def _match_at(regex: re.Pattern[str], text: str, starts: list[int], end: int) -> list[tuple[int, int]]:
    """Non-overlapping matches ending by `end`, tried only at `starts` (sorted): when `starts` holds every
    offset where a match can begin, the same matches as `regex.finditer(text, starts[0], end)`."""
    matches: list[tuple[int, int]] = []
    last_end = last_pos = -1
    for pos in starts:
        if pos < last_end or pos == last_pos:
            continue
        last_pos = pos
        match = regex.match(text, pos, end)
        if match is not None and match.end() > pos:
            matches.append(match.span())
            last_end = match.end()
    return matches


def _back_over_space(text: str, lo: int) -> int:
    """Move a span's start back over the whitespace before it: look-behinds such as (?<=[.!?]) must see
    the end of the previous sentence."""
    while lo > 0 and text[lo - 1].isspace():
        lo -= 1
    return lo


def _anchor_sentences(
    view: TextView, anchor: list[int], within: list[tuple[int, int]] | None
) -> list[tuple[int, int]]:
    """Merged spans of the sentences holding an anchor word (inside `within`, when given)."""
    spans: list[tuple[int, int]] = []
    for index in sorted({view.sentence_index(pos) for pos in anchor}):
        lo, hi = view.unit_span(index, "sentence")
        if within is not None and not _inside(lo, within) and not _inside(hi - 1, within):
            continue
        if spans and spans[-1][1] >= lo:
            spans[-1] = (spans[-1][0], hi)
        else:
            spans.append((lo, hi))
    return spans


class PhiDetector:
    kind = "phi"
    cost = 50

    def __init__(self, types: frozenset[str] | None, min_score: float, on: str | None, label: str) -> None:
        self.types, self.min_score, self.on, self.label = types, min_score, on, label

    def may_fire(self, ctx: CheckContext, field: str) -> bool:
        return True

    def run(self, ctx: CheckContext, field: str, ranges: Ranges = None) -> Fired | None:
        name = self.on or field
        within = ranges[1] if ranges is not None and ranges[0] == name else None
        hits = [
            Hit(s.start, s.end, name, self.label, None, s.type)
            for s in ctx.phi_spans(name)
            if (self.types is None or s.type in self.types)
            and s.score >= self.min_score
            and (within is None or _inside(s.start, within))
        ]
        return Fired(hits) if hits else None


# ------------------------------------------------------------------------------------ combinators


class AllOf:
    """Every child fires. Cheap children run first; with `within`, later children only look at the sentences
    (or paragraphs) where the earlier ones fired."""

    kind = "all_of"

    def __init__(self, children: list[Compiled], within: str, label: str) -> None:
        self.positive = sorted((c for c in children if not isinstance(c, Not)), key=lambda c: c.cost)
        self.negative = [c for c in children if isinstance(c, Not)]
        self.children, self.within, self.label = children, within, label
        self.cost = sum(c.cost for c in children)
        # The word gates of the positive parts, flattened: each group is met when one of its (field, gate
        # bits) is. A part that is an any_of of phrases/regexes is a group of several; other parts add none.
        self.gates: list[list[tuple[str | None, int]]] = []
        self.index: GateIndex | None = None
        for child in self.positive:
            parts = child.children if isinstance(child, AnyOf) else [child]
            gated = [leaf for leaf in parts if isinstance(leaf, TextDetector) and leaf.need]
            if gated and len(gated) == len(parts):
                self.gates.append([(leaf.on, leaf.need) for leaf in gated])
                self.index = gated[0].index

    def may_fire(self, ctx: CheckContext, field: str) -> bool:
        if self.index is None:
            return True
        for group in self.gates:
            for on, need in group:
                if ctx.gate_mask(self.index, on or field) & need == need:
                    break
            else:
                return False
        return True

    def run(self, ctx: CheckContext, field: str, ranges: Ranges = None) -> Fired | None:
        # Test every part's word gate before running any: a cheap part that fires in many answers ("your
        # medicines") is not matched when an expensive one cannot fire at all.
        if len(self.gates) > 1 and not self.may_fire(ctx, field):
            return None
        if self.within == "text":
            result = Fired()
            for child in [*self.positive, *self.negative]:
                fired = child.run(ctx, field, ranges)
                if fired is None:
                    return None
                result.hits += fired.hits
                result.notes += fired.notes
            return result
        units: dict[tuple[str, int], list[Hit]] | None = None
        notes: list[str] = []
        narrowed = ranges
        for child in self.positive:
            fired = child.run(ctx, field, narrowed)
            if fired is None:
                return None
            grouped: dict[tuple[str, int], list[Hit]] = {}
            for hit in fired.hits:
                grouped.setdefault((hit.field, ctx.unit_index(hit.field, hit.start, self.within)), []).append(
                    hit
                )
            units = grouped if units is None else {k: units[k] + grouped[k] for k in units if k in grouped}
            if not units:
                return None
            notes += fired.notes
            narrowed = self._ranges(ctx, units)
        for child in self.negative:
            inner = child.inner.run(ctx, field, narrowed)
            if inner is not None:
                blocked = {(h.field, ctx.unit_index(h.field, h.start, self.within)) for h in inner.hits}
                units = {k: v for k, v in (units or {}).items() if k not in blocked}
                if not units:
                    return None
            notes.append(f"no {child.inner.label} in the same {self.within}")
        hits = [h for key in sorted(units or {}) for h in (units or {})[key]]
        return Fired(hits, notes) if hits else None

    def _ranges(self, ctx: CheckContext, units: dict[tuple[str, int], list[Hit]]) -> Ranges:
        fields = {name for name, _ in units}
        if len(fields) != 1:
            return None
        (name,) = fields
        view = ctx.view(name)
        if view is None:
            return None
        return name, [view.unit_span(index, self.within) for _, index in sorted(units)]


class AnyOf:
    kind = "any_of"

    def __init__(self, children: list[Compiled], label: str) -> None:
        self.children, self.label = children, label
        self.cost = sum(c.cost for c in children)

    def may_fire(self, ctx: CheckContext, field: str) -> bool:
        return any(child.may_fire(ctx, field) for child in self.children)

    def run(self, ctx: CheckContext, field: str, ranges: Ranges = None) -> Fired | None:
        result: Fired | None = None
        for child in self.children:
            fired = child.run(ctx, field, ranges)
            if fired is not None:
                if result is None:
                    result = Fired()
                result.hits += fired.hits
                result.notes += fired.notes
        return result


class Not:
    kind = "not"

    def __init__(self, inner: Compiled, label: str) -> None:
        self.inner, self.label = inner, label
        self.cost = inner.cost

    def may_fire(self, ctx: CheckContext, field: str) -> bool:
        return True

    def run(self, ctx: CheckContext, field: str, ranges: Ranges = None) -> Fired | None:
        if self.inner.run(ctx, field, ranges) is not None:
            return None
        return Fired([], [f"no {self.inner.label}"])


# ----------------------------------------------------------------------------- evidence, structure


class EvidenceDetector:
    kind = "evidence"

    def __init__(
        self,
        claims: Compiled,
        citations: re.Pattern[str] | None,
        context_ids: bool,
        scope: str,
        require: bool,
    ) -> None:
        self.claims, self.citations, self.context_ids = claims, citations, context_ids
        self.scope, self.require_context, self.label = scope, require, "uncited claim"
        self.cost = claims.cost

    def may_fire(self, ctx: CheckContext, field: str) -> bool:
        return True

    def run(self, ctx: CheckContext, field: str, ranges: Ranges = None) -> Fired | None:
        if self.require_context and not ctx.has_context:
            return None
        claims = self.claims.run(ctx, field)
        if claims is None:
            return None
        text = ctx.text(field) or ""
        cited: set[int] = set()
        if self.citations is not None:
            cited.update(ctx.unit_index(field, m.start(), self.scope) for m in self.citations.finditer(text))
        if self.context_ids:
            for doc_id in ctx.context_ids:
                for m in re.finditer(r"(?<![\w-])" + re.escape(doc_id) + r"(?![\w-])", text):
                    cited.add(ctx.unit_index(field, m.start(), self.scope))
        uncited = [h for h in claims.hits if ctx.unit_index(h.field, h.start, self.scope) not in cited]
        if not uncited:
            return None
        units = len({ctx.unit_index(h.field, h.start, self.scope) for h in uncited})
        where = "answer" if self.scope == "answer" else f"{self.scope}{'s' if units > 1 else ''}"
        return Fired(uncited, [f"claims without a citation or context id ({units} {where})"])


class StructureDetector:
    kind = "structure"

    def __init__(
        self, validator: Any, parse: str, max_chars: int | None, max_words: int | None, on: str | None
    ):
        self.validator, self.parse, self.max_chars, self.max_words, self.on = (
            validator,
            parse,
            max_chars,
            max_words,
            on,
        )
        self.label = "structure"
        self.cost = 5

    def may_fire(self, ctx: CheckContext, field: str) -> bool:
        return True

    def run(self, ctx: CheckContext, field: str, ranges: Ranges = None) -> Fired | None:
        name = self.on or field
        text = ctx.text(name)
        if text is None:
            return None
        notes: list[str] = []
        hits: list[Hit] = []
        if self.max_chars is not None and len(text) > self.max_chars:
            notes.append(f"{len(text)} characters, more than the {self.max_chars} allowed")
            hits.append(Hit(self.max_chars, len(text), name, "over length"))
        if self.max_words is not None:
            words = list(_WORD.finditer(text))
            if len(words) > self.max_words:
                notes.append(f"{len(words)} words, more than the {self.max_words} allowed")
                hits.append(Hit(words[self.max_words].start(), len(text), name, "over length"))
        if self.validator is not None:
            problem = self._schema_problem(text)
            if problem:
                notes.append(problem)
        return Fired(hits, notes) if notes else None

    def _schema_problem(self, text: str) -> str | None:
        if self.parse == "first_object":
            start = text.find("{")
            if start < 0:
                return "no JSON object in the text"
            try:
                value, _ = json.JSONDecoder().raw_decode(text[start:])
            except json.JSONDecodeError as exc:
                return f"invalid JSON: {exc.msg} (character {start + exc.pos})"
        else:
            fenced = _CODE_FENCE.match(text)
            body = fenced.group(1) if fenced else text
            try:
                value = json.loads(body)
            except json.JSONDecodeError as exc:
                return f"invalid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})"
        errors = sorted(
            self.validator.iter_errors(value), key=lambda e: (len(e.path), list(map(str, e.path)))
        )
        if not errors:
            return None
        first = errors[0]
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.absolute_path)
        expected = json.dumps(first.validator_value, ensure_ascii=False)
        if len(expected) > 80:
            expected = expected[:77] + "..."
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        # The instance value is not echoed: an output may hold PHI and reasons are logged.
        return f"JSON Schema: {path} fails '{first.validator}' (expected {expected}){more}"


class EmergencyDetector:
    kind = "emergency"

    def __init__(self, symptoms: Compiled, seek_care: Compiled) -> None:
        self.symptoms, self.seek_care, self.label = symptoms, seek_care, "emergency"
        self.cost = symptoms.cost + seek_care.cost

    def may_fire(self, ctx: CheckContext, field: str) -> bool:
        return True

    def run(self, ctx: CheckContext, field: str, ranges: Ranges = None) -> Fired | None:
        if ctx.text("output") is None:
            return None
        symptoms = self.symptoms.run(ctx, "input")
        if symptoms is None or self.seek_care.run(ctx, "output") is not None:
            return None
        return Fired(symptoms.hits, [f"emergency symptoms and no {self.seek_care.label} in the output"])


# ---------------------------------------------------------------------------------------- compile


def compile_detector(
    spec: P.Detector, scope: CompileScope, loc: tuple[str | int, ...], *, default_on: str | None = None
) -> Compiled:
    """Compile one policy detector (recursively). Problems are recorded in `scope`; a stub stands in."""
    kind = spec.kind
    here = (*loc, kind)
    if kind == "phrases":
        assert spec.phrases is not None
        return _compile_phrases(spec.phrases, scope, here, default_on)
    if kind == "regex":
        assert spec.regex is not None
        return _compile_regex(spec.regex, scope, here, default_on)
    if kind == "phi":
        assert spec.phi is not None
        return _compile_phi(spec.phi, scope, here, default_on)
    if kind in ("all_of", "any_of"):
        items = spec.all_of if kind == "all_of" else spec.any_of
        children = [
            compile_detector(child, scope, (*here, i), default_on=default_on)
            for i, child in enumerate(items or [])
        ]
        label = (
            " + ".join(dict.fromkeys(c.label for c in children))
            if kind == "all_of"
            else " or ".join(dict.fromkeys(c.label for c in children))
        )
        if kind == "any_of":
            return AnyOf(children, label)
        within = spec.within or "text"
        if within != "text":
            if not any(not isinstance(c, Not) for c in children):
                scope.problem(here, f"expected at least one positive detector in all_of within {within}")
            for i, child in enumerate(children):
                inner = child.inner if isinstance(child, Not) else child
                if not _has_spans(inner):
                    scope.problem(
                        (*here, i),
                        f"expected detectors that report spans in all_of within {within}, found {inner.kind}",
                    )
        return AllOf(children, within, label)
    if kind == "not":
        assert spec.not_ is not None
        inner = compile_detector(spec.not_, scope, here, default_on=default_on)
        return Not(inner, f"not {inner.label}")
    if kind == "evidence":
        assert spec.evidence is not None
        return _compile_evidence(spec.evidence, scope, here)
    if kind == "structure":
        assert spec.structure is not None
        return _compile_structure(spec.structure, scope, here)
    assert spec.emergency is not None
    symptoms = compile_detector(spec.emergency.symptoms, scope, (*here, "symptoms"), default_on="input")
    seek_care = compile_detector(spec.emergency.seek_care, scope, (*here, "seek_care"), default_on="output")
    if scope.rule.stage != "output":
        scope.problem(
            here,
            f"expected the rule's stage to be output for an emergency detector, found {scope.rule.stage}",
        )
    return EmergencyDetector(symptoms, seek_care)


def _has_spans(detector: Compiled) -> bool:
    if isinstance(detector, TextDetector | PhiDetector):
        return True
    if isinstance(detector, AllOf | AnyOf):
        return all(_has_spans(c.inner if isinstance(c, Not) else c) for c in detector.children)
    return False


def _check_on(on: str | None, scope: CompileScope, loc: tuple[str | int, ...]) -> None:
    stage = scope.rule.stage
    if on == "output" and stage == "input":
        scope.problem(
            (*loc, "on"), "expected input for a rule with stage input (the output does not exist yet)"
        )


def _negation(spec: P.TextOptions, scope: CompileScope) -> CompiledNegation | None:
    chosen = spec.negation or scope.rule.negation or scope.policy.defaults.negation
    cues = list(chosen.cues if chosen.cues is not None else P.DEFAULT_NEGATION_CUES) + chosen.extra_cues
    pseudo = (
        list(chosen.pseudo if chosen.pseudo is not None else P.DEFAULT_PSEUDO_NEGATIONS) + chosen.extra_pseudo
    )
    terminators = list(chosen.terminators if chosen.terminators is not None else P.DEFAULT_TERMINATORS)
    return CompiledNegation.build(chosen.window, cues, pseudo, terminators)


def _ignore_quoted(spec: P.TextOptions, scope: CompileScope) -> bool:
    for value in (spec.ignore_quoted, scope.rule.ignore_quoted):
        if value is not None:
            return value
    return scope.policy.defaults.ignore_quoted


def _flags(case_sensitive: bool) -> int:
    return re.MULTILINE | (0 if case_sensitive else re.IGNORECASE)


def _compile_phrases(
    spec: P.Phrases, scope: CompileScope, loc: tuple[str | int, ...], default_on: str | None
):
    _check_on(spec.on, scope, loc)
    terms = list(spec.terms)
    for i, name in enumerate(spec.lexicons):
        if name in scope.policy.lexicons:
            terms += scope.policy.lexicons[name]
        else:
            _unknown_lexicon(name, scope, (*loc, "lexicons", i))
    source = phrase_alternation(terms, case_sensitive=spec.case_sensitive, word_boundary=spec.word_boundary)
    regexes = [re.compile(source, _flags(spec.case_sensitive))] if source else []
    label = spec.label or (spec.lexicons[0] if spec.lexicons else "phrase")
    fast = spec.word_boundary and scope.fast
    gate, starts_at_gate = phrase_gate(terms) if fast else (None, False)
    rare = rare_gate(terms) if fast else None
    return TextDetector(
        "phrases",
        regexes,
        spec.on or default_on,
        _negation(spec, scope),
        _ignore_quoted(spec, scope),
        label,
        [gate] if gate else None,
        starts_at_gate,
        reject=rare,
        branches=phrase_branches(terms) if fast and len(terms) <= _MAX_PHRASE_BRANCHES else None,
        index=scope.gates,
    )


def phrase_branches(terms: list[str]) -> list[tuple[frozenset[str], list[frozenset[str]]]] | None:
    """Per phrase: the words it starts with, and one word set per whitespace-separated piece (every piece
    yields one of its words in the text; see _chunk_tokens). "no doubt" needs both "no" and "doubt", so a
    text with "no" but without "doubt" is not searched. None if a phrase starts with no word."""
    branches = []
    for term in terms:
        text = term.strip()
        if not text:
            continue
        pieces = [words for chunk in text.split() if (words := frozenset(_chunk_tokens(chunk)))]
        if not pieces or not (text[0].isalnum() or text[0] == "_"):
            return None
        branches.append((pieces[0], pieces))
    return branches or None


def phrase_gate(terms: list[str]) -> tuple[frozenset[str] | None, bool]:
    """First word tokens of whole-word phrases (a match starts with one of them), and whether every phrase
    begins with a word character (then matches can only start where such a token starts)."""
    gate: set[str] = set()
    starts_with_word = True
    for term in terms:
        text = term.strip()
        if not text:
            continue
        words = _chunk_tokens(text.split()[0])
        if not words:
            return None, False
        gate |= words
        if not (text[0].isalnum() or text[0] == "_"):
            starts_with_word = False
    return frozenset(gate), starts_with_word


def rare_gate(terms: list[str]) -> frozenset[str] | None:
    """One word set that every match of a phrase list contains, built from each phrase's least common word."""
    gate: set[str] = set()
    for term in terms:
        chunks = [c for c in term.split() if _chunk_tokens(c)]
        if not chunks:
            return None
        best = min(chunks, key=lambda c: (_is_common(c), -len(c)))
        gate |= _chunk_tokens(best)
    return frozenset(gate) if gate else None


def _is_common(chunk: str) -> bool:
    words = tokens_of(chunk)
    return not words or words[0] in COMMON_WORDS or len(words[0]) < 3


def _chunk_tokens(chunk: str) -> set[str]:
    """Words that one whitespace-free piece of a phrase always yields in a text: its first token, and, since a
    hyphen in a phrase may also match nothing ("follow-up" ~ "followup"), the piece with hyphens dropped."""
    words = tokens_of(chunk)
    if not words:
        return set()
    out = {words[0]}
    if "-" in chunk or "‐" in chunk or "‑" in chunk:
        out.add("".join(tokens_of(re.sub(r"[-‐‑]", "", chunk))))
    return out


def _compile_regex(spec: P.Regex, scope: CompileScope, loc: tuple[str | int, ...], default_on: str | None):
    _check_on(spec.on, scope, loc)
    flags = _flags(spec.case_sensitive)
    sources: list[str] = []
    lexicon_gates: dict[str, frozenset[str] | None] = {}
    first_gates: dict[str, frozenset[str] | None] = {}
    for i, pattern in enumerate(spec.patterns):
        try:
            pattern = expand_fragments(pattern, scope.policy.fragments)
        except KeyError as exc:
            _unknown_name(
                "fragment", str(exc.args[0]), list(scope.policy.fragments), scope, (*loc, "patterns", i)
            )
            continue
        except ValueError as exc:
            scope.problem((*loc, "patterns", i), str(exc))
            continue
        missing = [name for name in lexicon_refs(pattern) if name not in scope.policy.lexicons]
        if missing:
            for name in missing:
                _unknown_lexicon(name, scope, (*loc, "patterns", i))
            continue
        groups: dict[str, list[str]] = {}
        source = expand_lexicons(pattern, scope.lexicon, case_sensitive=spec.case_sensitive, groups=groups)
        try:
            compiled = re.compile(source, flags)
        except re.error as exc:
            scope.problem(
                (*loc, "patterns", i), f"expected a valid regular expression, found {pattern!r} ({exc})"
            )
            continue
        if compiled.match(""):
            scope.problem(
                (*loc, "patterns", i), f"expected a pattern that cannot match empty text, found {pattern!r}"
            )
            continue
        sources.append(source)
        lexicon_gates.update({name: rare_gate(terms) for name, terms in groups.items()})
        first_gates.update({name: phrase_gate(terms)[0] for name, terms in groups.items()})
    regexes = _combine(sources, flags)
    # Each pattern's (and each top-level alternative's) prefix, with the gate that must hold for it to match.
    branches = [b for source in sources for b in branch_gates(source, flags, first_gates, lexicon_gates)]
    prefix: frozenset[str] | None = None
    if branches and all(start is not None for start, _ in branches):
        prefix = frozenset().union(*(start for start, _ in branches if start is not None))
    # A gate for the alternation of all patterns: one word set per pattern would be a disjunction, so the
    # union of each pattern's most selective set is used; any pattern without a gate means no gate.
    union: set[str] = set()
    for source in sources:
        gates = regex_gate(source, flags, lexicon_gates)
        if not gates:
            union = set()
            break
        union |= _order_gate(gates)[0]
    gate = [frozenset(union)] if union and len(regexes) == 1 else None
    if len(sources) == 1 and gate:
        gate = regex_gate(sources[0], flags, lexicon_gates)
    if not scope.fast:
        gate, prefix = None, None
    return TextDetector(
        "regex",
        regexes,
        spec.on or default_on,
        _negation(spec, scope),
        _ignore_quoted(spec, scope),
        spec.label or "regex",
        [_lowered(words) for words in gate] if gate else None,
        prefix=_lowered(prefix) if prefix else None,
        branches=[(_lowered(start), [_lowered(w) for w in g]) for start, g in branches if start is not None]
        if prefix
        else None,
        index=scope.gates,
    )


def _word_set(words: frozenset[str]) -> list[frozenset[str]]:
    """[words] as a gate set when they are all real words (no digit or pinned-offset pseudo-words)."""
    return [words] if words and not any(word.startswith("<") for word in words) else []


def _lowered(words: frozenset[str]) -> frozenset[str]:
    """Gate words as a text's tokens are: lower-cased (a pattern may spell `\\bER\\b` or `You`)."""
    return frozenset(word.lower() for word in words)


def _combine(sources: Sequence[str], flags: int) -> list[re.Pattern[str]]:
    """One alternation for patterns that can share it (no back-references or inline global flags)."""
    if not sources:
        return []
    separate = [s for s in sources if re.search(r"\\\d|\(\?P=|^\(\?[aiLmsux]+\)", s)]
    joinable = [s for s in sources if s not in separate]
    regexes = [re.compile(s, flags) for s in separate]
    if joinable:
        try:
            regexes.insert(0, re.compile("|".join(f"(?:{s})" for s in joinable), flags))
        except re.error:  # e.g. the same named group in two patterns
            regexes[:0] = [re.compile(s, flags) for s in joinable]
    return regexes


def _unknown_lexicon(name: str, scope: CompileScope, loc: tuple[str | int, ...]) -> None:
    _unknown_name("lexicon", name, list(scope.policy.lexicons), scope, loc)


def _unknown_name(
    what: str, name: str, known: list[str], scope: CompileScope, loc: tuple[str | int, ...]
) -> None:
    from medtune.yamlloc import suggest

    close = suggest(name, known) if known else None
    hint = f"; did you mean '{close}'?" if close else (f"; defined: {', '.join(known)}" if known else "")
    scope.problem(loc, f"expected a {what} defined under `{what}s`, found {name!r}{hint}")


def _compile_phi(spec: P.Phi, scope: CompileScope, loc: tuple[str | int, ...], default_on: str | None):
    from medtune.yamlloc import suggest

    _check_on(spec.on, scope, loc)
    scope.uses_phi[0] = True
    wanted: set[str] = set()
    every = False
    for i, name in enumerate(spec.types):
        upper = name.upper()
        if upper == "ALL":
            every = True
        elif upper in PHI_TYPES:
            wanted.add(upper)
        else:
            close = suggest(upper, PHI_TYPES)
            hint = f"; did you mean '{close}'?" if close else f"; known types: {', '.join(PHI_TYPES)}, all"
            scope.problem((*loc, "types", i), f"expected a PHI type, found {name!r}{hint}")
    return PhiDetector(
        None if every else frozenset(wanted), spec.min_score, spec.on or default_on, spec.label or "PHI"
    )


def _compile_evidence(spec: P.Evidence, scope: CompileScope, loc: tuple[str | int, ...]):
    if scope.rule.stage != "output":
        scope.problem(
            loc, f"expected the rule's stage to be output for an evidence detector, found {scope.rule.stage}"
        )
    claims = compile_detector(spec.claims, scope, (*loc, "claims"), default_on="output")
    if not _has_spans(claims):
        scope.problem(
            (*loc, "claims"), f"expected a detector that reports spans for claims, found {claims.kind}"
        )
    sources = []
    for i, pattern in enumerate(spec.citations):
        try:
            re.compile(pattern)
            sources.append(pattern)
        except re.error as exc:
            scope.problem(
                (*loc, "citations", i), f"expected a valid regular expression, found {pattern!r} ({exc})"
            )
    citations = re.compile("|".join(f"(?:{s})" for s in sources), re.IGNORECASE) if sources else None
    return EvidenceDetector(claims, citations, spec.context_ids, spec.scope, spec.require_context)


def _compile_structure(spec: P.Structure, scope: CompileScope, loc: tuple[str | int, ...]):
    _check_on(spec.on, scope, loc)
    schema = spec.json_schema
    if spec.json_schema_file is not None:
        path = Path(spec.json_schema_file)
        path = path if path.is_absolute() else scope.base_dir / path
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            scope.problem(
                (*loc, "json_schema_file"), f"expected an existing JSON Schema file, found {str(path)!r}"
            )
        except (OSError, ValueError) as exc:
            scope.problem(
                (*loc, "json_schema_file"), f"expected a JSON Schema file, found {str(path)!r} ({exc})"
            )
    validator = None
    if schema is not None:
        import jsonschema

        cls = jsonschema.validators.validator_for(schema)
        try:
            cls.check_schema(schema)
            validator = cls(schema)
        except jsonschema.SchemaError as exc:
            where = "json_schema_file" if spec.json_schema_file else "json_schema"
            scope.problem(
                (*loc, where), f"expected a valid JSON Schema, found an invalid one ({exc.message})"
            )
    return StructureDetector(validator, spec.parse, spec.max_chars, spec.max_words, spec.on)
