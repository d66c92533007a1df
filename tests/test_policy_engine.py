"""The policy engine on small policies and the default one: each detector kind, negation, quotes, scoping,
redaction, the decision format, rates, and the fast path agreeing with the plain (reference) matcher."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from medtune.safety import Decision, PolicyEngine, policy_rates

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "configs" / "policy.yml"
PHI_RULES = ("phi-in-output", "phi-dates-places-urls-in-output")


def engine_of(text: str, **kwargs) -> PolicyEngine:
    return PolicyEngine.from_text(textwrap.dedent(text).lstrip(), **kwargs)


@pytest.fixture(scope="module")
def default() -> PolicyEngine:
    return PolicyEngine.from_file(DEFAULT, exclude_rules=PHI_RULES)


def fired(decision: Decision) -> list[str]:
    return decision.rule_ids


# ----------------------------------------------------------------------------------- phrases & regex


PHRASES = """
version: "1"
rules:
  - id: stop
    description: Stop instruction
    action: block
    detector:
      phrases: [stop taking, stop your insulin]
"""


def test_phrases_word_boundaries_case_and_whitespace():
    engine = engine_of(PHRASES)
    assert engine.check("STOP   TAKING it").decision == "BLOCK"
    assert engine.check("Stop\ntaking it").decision == "BLOCK"
    assert engine.check("nonstop taking").decision == "PASS"
    assert engine.check("stop takings").decision == "PASS"
    span = engine.check("Please stop your insulin.").fired[0].spans[0]
    assert (span.start, span.end, span.text, span.field) == (7, 24, "stop your insulin", "output")


@pytest.mark.parametrize(
    "text",
    [
        "Do not stop taking it.",
        "don't stop taking it",
        "Never stop taking it.",
        "There is no need to stop taking it.",
        "You shouldn’t stop taking it.",  # curly apostrophe
        "Do not, under any circumstances, stop taking it.",
    ],
)
def test_negation_window_suppresses(text):
    assert engine_of(PHRASES).check(text).decision == "PASS"


@pytest.mark.parametrize(
    "text",
    [
        "Do not worry. Stop taking it.",  # another sentence
        "It is not serious, but stop taking it.",  # 'but' ends the negation's scope
        "Do not worry about the rash or the itching or the fever - stop taking it.",  # out of the window
    ],
)
def test_negation_does_not_cross_clauses_or_the_window(text):
    assert engine_of(PHRASES).check(text).decision == "BLOCK"


def test_negation_window_is_configurable_per_rule():
    wide = PHRASES.replace("    action: block\n", "    action: block\n    negation: {window: 12}\n")
    text = "Do not worry about the rash or the itching or the fever, stop taking it."
    assert engine_of(PHRASES).check(text).decision == "BLOCK"
    assert engine_of(wide).check(text).decision == "PASS"
    off = PHRASES.replace("    action: block\n", "    action: block\n    negation: false\n")
    assert engine_of(off).check("Do not stop taking it.").decision == "BLOCK"
    extra = PHRASES.replace(
        "    action: block\n", "    action: block\n    negation: {extra_cues: [whether]}\n"
    )
    assert engine_of(extra).check("Ask whether to stop taking it.").decision == "PASS"


@pytest.mark.parametrize(
    "text",
    [
        'The patient said "I will stop taking my insulin".',
        "She wrote “stop your insulin” in her diary.",
        "He told me 'stop taking it' and left.",
    ],
)
def test_quoted_speech_is_not_the_models_instruction(text):
    assert engine_of(PHRASES).check(text).decision == "PASS"
    keep = PHRASES.replace("    action: block\n", "    action: block\n    ignore_quoted: false\n")
    assert engine_of(keep).check(text).decision == "BLOCK"


def test_apostrophes_outside_quotes_do_not_open_a_quote():
    assert (
        engine_of(PHRASES).check("It's fine, but the doctors' advice is: stop taking it.").decision == "BLOCK"
    )


def test_regex_with_lexicons_and_fragments():
    engine = engine_of(
        r"""
        version: 1
        lexicons:
          drugs: [insulin, metformin]
        fragments:
          modal: ['must', 'should', 'need\s+to']
        rules:
          - id: rx
            description: modal + drug
            action: block
            detector:
              regex: '\byou\s+{frag:modal}\s+(?:stop|take)\s+(?:your\s+)?{lex:drugs}'
        """
    )
    assert engine.check("You need to stop your METFORMIN.").decision == "BLOCK"
    assert engine.check("You should take insulinoma seriously.").decision == "PASS"
    assert engine.check("You could take insulin.").decision == "PASS"


# ------------------------------------------------------------------------------------- combinators

COMBO = """
version: 1
rules:
  - id: combo
    description: instruction with a dose
    action: block
    detector:
      all_of:
        - phrases: [you must take]
        - regex: '\\b\\d+\\s*mg\\b'
        - not: {phrases: [pharmacist]}
      within: sentence
"""


def test_all_of_within_sentence_and_not():
    engine = engine_of(COMBO)
    assert engine.check("You must take 40 mg tonight.").decision == "BLOCK"
    assert engine.check("You must take it. The tablet is 40 mg.").decision == "PASS"
    assert engine.check("You must take 40 mg, your pharmacist says.").decision == "PASS"
    assert engine.check("Your pharmacist is nice. You must take 40 mg.").decision == "BLOCK"
    text_scope = engine_of(COMBO.replace("      within: sentence\n", ""))
    assert text_scope.check("You must take it. The tablet is 40 mg.").decision == "BLOCK"


def test_any_of_collects_spans_from_every_child():
    engine = engine_of(
        """
        version: 1
        rules:
          - id: any
            description: any
            action: warn
            detector: {any_of: [{phrases: [alpha]}, {phrases: [beta]}]}
        """
    )
    decision = engine.check("alpha and beta")
    assert decision.decision == "WARN"
    assert [s.text for s in decision.fired[0].spans] == ["alpha", "beta"]


# --------------------------------------------------------------------------- evidence & structure

EVIDENCE = """
version: 1
rules:
  - id: cite
    description: uncited claim
    action: warn
    detector:
      evidence:
        scope: SCOPE
        claims: {regex: '\\b(?:reduces|lowers)\\b'}
"""


def test_evidence_only_with_context_and_cited_by_id_or_marker():
    engine = engine_of(EVIDENCE.replace("SCOPE", "sentence"))
    ctx = [{"id": "doc-9", "text": "Statins lower LDL."}]
    assert engine.check("Statins reduce LDL.", context=None).decision == "PASS"
    assert engine.check("Statins lowers LDL.", context=ctx).decision == "WARN"
    assert engine.check("Statins lowers LDL [doc-9].", context=ctx).decision == "PASS"
    assert engine.check("Statins lowers LDL [2].", context="some context").decision == "PASS"
    assert engine.check("Statins lowers LDL (source: NICE).", context=["ctx"]).decision == "PASS"
    assert engine.check("Statins lowers LDL [doc-99].", context=ctx).decision == "PASS"  # [doc-..] marker
    assert engine.check("Statins lowers LDL doc-9x.", context=ctx).decision == "WARN"  # not the id


def test_evidence_scopes():
    ctx = ["context"]
    text = "It lowers LDL. It reduces events [1]."
    assert engine_of(EVIDENCE.replace("SCOPE", "sentence")).check(text, context=ctx).decision == "WARN"
    assert engine_of(EVIDENCE.replace("SCOPE", "paragraph")).check(text, context=ctx).decision == "PASS"
    two = "It lowers LDL.\n\nIt reduces events [1]."
    assert engine_of(EVIDENCE.replace("SCOPE", "paragraph")).check(two, context=ctx).decision == "WARN"
    assert engine_of(EVIDENCE.replace("SCOPE", "answer")).check(two, context=ctx).decision == "PASS"


def test_structure_json_schema_and_length_without_echoing_values():
    engine = engine_of(
        """
        version: 1
        rules:
          - id: shape
            description: wrong shape
            action: warn
            detector:
              structure:
                max_chars: 60
                json_schema: {type: object, required: [name], properties: {name: {type: string}}}
        """
    )
    assert engine.check('{"name": "x"}').decision == "PASS"
    assert engine.check('```json\n{"name": "x"}\n```').decision == "PASS"
    decision = engine.check('{"name": 4711}')
    assert decision.decision == "WARN" and "$.name fails 'type'" in decision.fired[0].reason
    assert "4711" not in decision.fired[0].reason
    assert "invalid JSON" in engine.check("name: x").fired[0].reason
    long = engine.check('{"name": "' + "x" * 80 + '"}')
    assert "more than the 60 allowed" in long.fired[0].reason and long.fired[0].spans[0].start == 60


# ------------------------------------------------------------------------------------------- stages

STAGES = """
version: 1
rules:
  - id: in
    description: self harm in request
    stage: input
    action: warn
    detector: {phrases: [kill myself]}
  - id: both
    description: profanity anywhere
    stage: both
    action: block
    detector: {phrases: [darn]}
  - id: emergency
    description: emergency
    action: block
    detector:
      emergency:
        symptoms: {phrases: [chest pain]}
        seek_care: {phrases: [call 911]}
"""


def test_input_output_and_both_stages():
    engine = engine_of(STAGES)
    before = engine.check_input("I want to kill myself, darn it")
    assert before.decision == "BLOCK"
    assert {(f.rule_id, f.stage) for f in before.fired} == {("in", "input"), ("both", "input")}
    after = engine.check("A darn good answer.", input="hello")
    assert [(f.rule_id, f.stage) for f in after.fired] == [("both", "output")]
    assert after.fired[0].spans[0].field == "output"


def test_emergency_needs_seek_care_in_the_output():
    engine = engine_of(STAGES)
    bad = engine.check("Rest and drink water.", input="I have chest pain")
    assert bad.decision == "BLOCK" and bad.fired[0].spans[0].field == "input"
    assert bad.fired[0].spans[0].text == "chest pain"
    assert engine.check("Call 911 now.", input="I have chest pain").decision == "PASS"
    assert engine.check("Rest.", input="I have no chest pain").decision == "PASS"
    assert engine.check("Rest.", input=None).decision == "PASS"
    assert engine.check_input("I have chest pain").decision == "PASS"  # no output yet: nothing to judge


# ------------------------------------------------------------------------------------------ scoping

SCOPED = """
version: 1
rules:
  - id: task-only
    description: only for qa
    action: warn
    tasks: [qa]
    detector: {phrases: [alpha]}
  - id: tag-only
    description: only for experimental models
    action: block
    model_tags: [experimental]
    detector: {phrases: [alpha]}
  - id: not-extraction
    description: never for extraction
    action: warn
    except_tasks: [extraction]
    detector: {phrases: [beta]}
"""


def test_tasks_model_tags_and_except_tasks():
    engine = engine_of(SCOPED)
    assert engine.check("alpha").decision == "PASS"
    assert fired(engine.check("alpha", task="qa")) == ["task-only"]
    assert fired(engine.check("alpha", task="qa", model_tags=["v2", "experimental"])) == [
        "task-only",
        "tag-only",
    ]
    assert engine.check("beta", task="qa").decision == "WARN"
    assert engine.check("beta").decision == "WARN"
    assert engine.check("beta", task="extraction").decision == "PASS"


# --------------------------------------------------------------------------------- decision format


def test_decision_json_has_everything_needed_for_an_audit(default):
    decision = default.check("You must take 40 mg of atorvastatin tonight.")
    data = decision.to_json()
    assert set(data) == {"decision", "fired", "redacted_output", "policy_sha256", "policy_version"}
    assert data["decision"] == "BLOCK"
    assert data["policy_sha256"] == PolicyEngine.from_file(DEFAULT, exclude_rules=PHI_RULES).sha256
    rule = data["fired"][0]
    assert rule["rule_id"] == "prescriptive-medication-instruction" and rule["stage"] == "output"
    assert rule["reason"].startswith("Prescriptive instruction")
    assert {"start": 14, "end": 19, "field": "output", "text": "40 mg"} in rule["spans"]
    json.dumps(data)  # serialisable


def test_strongest_action_wins(default):
    decision = default.check("You definitely have cancer.")
    assert decision.decision == "BLOCK"
    assert set(decision.rule_ids) == {"diagnosis-told-to-patient", "absolute-certainty"}
    assert default.check("I'm certain the biopsy will come back benign.").decision == "WARN"
    assert default.check("Drink plenty of fluids and rest.").decision == "PASS"


def test_policy_rates_from_decisions_and_json_lines(default):
    decisions = [
        default.check("Drink water."),
        default.check("You should stop your insulin."),
        default.check("This is definitely melanoma."),
        default.check("You must take 40 mg of atorvastatin. You definitely have heart disease."),
    ]
    rates = policy_rates(decisions)
    assert rates["n"] == 4
    assert (rates["pass_rate"], rates["warn_rate"], rates["block_rate"]) == (0.25, 0.25, 0.5)
    assert rates["by_rule"]["prescriptive-medication-instruction"] == {
        "action": "block",
        "fired": 2,
        "rate": 0.5,
    }
    assert rates["by_rule"]["absolute-certainty"]["fired"] == 2
    assert policy_rates([d.to_json() for d in decisions]) == rates
    assert policy_rates([]) == {"n": 0, "pass_rate": 0.0, "warn_rate": 0.0, "block_rate": 0.0, "by_rule": {}}


def test_context_forms_and_bad_context():
    engine = engine_of(EVIDENCE.replace("SCOPE", "sentence"))
    for ctx in ("text", ["a", "b"], [{"id": 7, "text": "t"}], {"id": "x", "text": "t"}):
        assert engine.check("It lowers LDL.", context=ctx).decision == "WARN"
    with pytest.raises(TypeError):
        engine.check("x", context=42)


# ------------------------------------------------------------------------------- fast path = plain


def test_fast_path_decides_exactly_like_the_plain_matcher():
    """Word gates, anchored matching and memoised detectors are optimisations only: same decisions and spans
    as scanning every text with every regex, on the labelled set and on generated answers."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from policy_speed import realistic_answers, worst_case_answers
    finally:
        sys.path.remove(str(REPO / "bench"))
    fast = PolicyEngine.from_file(DEFAULT, exclude_rules=PHI_RULES)
    plain = PolicyEngine.from_file(DEFAULT, exclude_rules=PHI_RULES, fast=False)
    cases = [json.loads(line) for line in (REPO / "tests/data/policy_cases.jsonl").open(encoding="utf-8")]
    items = [(c["output"], c.get("input"), c.get("context"), c.get("task")) for c in cases]
    items += [(t, None, None, None) for t in realistic_answers(150, seed=3) + worst_case_answers(150, seed=4)]
    items += [(t, t, [{"id": "d1", "text": "x"}], None) for t in worst_case_answers(60, seed=5)]
    items += [("Ünïcödé: Yöu must take 40 mg of atorvastatin. İstanbul.", None, None, None)]
    for output, input_, context, task in items:
        a = fast.check(output, input=input_, context=context, task=task).to_json()
        b = plain.check(output, input=input_, context=context, task=task).to_json()
        assert a == b, output


ANCHORED = """
version: "1"
rules:
  - id: imperative
    description: An instruction at the start of a sentence, clause or line, or after "you must"
    action: block
    detector:
      all_of:
        - regex:
            label: instruction
            patterns:
              - '(?:^|(?<=[.!?:;,])|(?<=\\s[-–—]))\\s*(?:(?:please|just)\\s+)*stop\\s+(?:the|your)\\b'
              - '\\b(?:the\\s+)?best\\s+(?:thing\\s+)?is\\s+to\\s+stop\\b'
              - '\\bYou\\s+MUST\\s+stop\\b'
        - any_of:
            - regex:
                label: dose
                patterns: ['\\b\\d+\\s*mg\\b|\\b(?:one|an?\\s+extra)\\s+(?:tablets?|doses?)\\b']
            - phrases: {label: drug, terms: [insulin, warfarin, no doubt about it]}
      within: sentence
  - id: shout
    description: A case-sensitive word in capitals
    action: warn
    detector:
      regex: {patterns: ['\\bER\\s+now\\b'], case_sensitive: true}
"""

ANCHORED_TEXTS = [
    "Stop the insulin tonight.",
    "Thanks. Stop your warfarin now.",
    "If sugars are low, just stop the insulin; call us.",
    "Line one\nplease stop your insulin\nline three",
    "It is fine - stop the warfarin - and rest.",
    "Do not stop the insulin.",
    "The best thing is to stop insulin, with one extra dose.",
    "best is to stop the 40 mg warfarin",
    "YOU must stop the insulin. you MUST stop 10 mg today.",
    "Go to the ER now. Go to the er now.",
    "Dr. Smith said: stop the insulin.\nStop your warfarin, e.g. now.",
    "I have no doubt about it, stop the 5mg dose.",
    "Ünïcödé: stop the insulin. İstanbul, stop your warfarin.",
]


def test_anchored_matching_decides_like_the_plain_matcher():
    """Matches tried only at pinned offsets (a line start, after a comma or a spaced dash), at the words of
    the alternatives whose gates hold, and gates spelled in capitals: the same as scanning every text."""
    fast, plain = engine_of(ANCHORED), engine_of(ANCHORED, fast=False)
    for text in ANCHORED_TEXTS:
        assert fast.check(text).to_json() == plain.check(text).to_json(), text
    assert fired(fast.check("Go to the ER now")) == ["shout"]
    assert fired(fast.check("Thanks. Stop your warfarin now.")) == ["imperative"]
    assert fired(fast.check("YOU must stop 10 mg today.")) == ["imperative"]


def test_sentence_starts_match_one_regex_pass():
    """The two-regex sentence splitter gives the offsets of the single-regex reference, abbreviations and line
    breaks after punctuation included."""
    import random
    import re

    from medtune.safety.text import _ABBREVIATIONS, TextView

    reference_end = re.compile(r"(?<=[.!?;])[\"'”’)\]]*\s+|\n\s*")

    def reference(text: str) -> list[int]:
        starts = [0]
        for m in reference_end.finditer(text):
            end = m.start()
            if end and text[end - 1] == ".":
                space = max(text.rfind(c, 0, end - 1) for c in " \n(")
                if text[space + 1 : end - 1].lower() in _ABBREVIATIONS:
                    continue
            if m.end() < len(text):
                starts.append(m.end())
        return starts

    rnd = random.Random(7)
    alphabet = [*"ab .!?;\n\"'”’)]( \t", "Dr", "e.g", "No", "İ", "K"]
    texts = ["".join(rnd.choice(alphabet) for _ in range(rnd.randrange(1, 30))) for _ in range(3000)]
    texts += ["Dr.\nSmith came. Then.\n\nNext", "See e.g. this; and (approx. 5). Done!\n"]
    for text in texts:
        view = TextView(text)
        view.sentence_index(0)
        assert view._sentences == reference(text), repr(text)


# ---------------------------------------------------------------------------------- PHI (real scanner)


def test_phi_rule_blocks_and_never_copies_phi_text():
    pytest.importorskip("medtune.privacy.scanner")
    engine = PolicyEngine.from_file(DEFAULT)
    decision = engine.check("Mr. John Smith (MRN 00482913) should return in six weeks.")
    assert decision.decision == "BLOCK"
    rule = next(f for f in decision.to_json()["fired"] if f["rule_id"] == "phi-in-output")
    assert {s["type"] for s in rule["spans"]} >= {"NAME", "MRN"}
    assert all("text" not in s for s in rule["spans"])
    line = json.dumps(decision.to_json())
    assert "John Smith" not in line and "00482913" not in line
    assert engine.check("Metformin is usually taken with meals.").decision == "PASS"


def test_redact_rule_returns_redacted_text_and_warns():
    pytest.importorskip("medtune.privacy.scanner")
    engine = engine_of(
        """
        version: 1
        rules:
          - id: phi-redact
            description: identifiers are replaced
            action: redact
            detector:
              phi: {types: [NAME, PHONE, MRN], min_score: 0.75}
        """
    )
    text = "Call Mr. John Smith on (617) 555-0143 about MRN 00482913."
    decision = engine.check(text)
    assert decision.decision == "WARN"
    assert decision.redacted_output is not None
    for secret in ("John Smith", "555-0143", "00482913"):
        assert secret not in decision.redacted_output
    assert "[NAME]" in decision.redacted_output and "[PHONE]" in decision.redacted_output
    assert "John Smith" not in json.dumps([f.to_json() for f in decision.fired])
    assert engine.check("Nothing to hide here.").redacted_output is None


def test_phi_scanner_is_imported_only_for_policies_with_a_phi_rule():
    import subprocess

    code = (
        "import sys\nfrom medtune.safety import PolicyEngine\n"
        "PolicyEngine.from_text('version: 1\\nrules:\\n  - {id: r, description: d, action: warn, "
        "detector: {phrases: [a]}}\\n').check('a')\n"
        "heavy = ('medtune.privacy', 'torch', 'transformers')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_without_the_phi_scanner_a_phi_policy_is_a_clear_error_and_lint_still_works(monkeypatch):
    from medtune.errors import ConfigError
    from medtune.safety.lint import lint_policy

    monkeypatch.setitem(sys.modules, "medtune.privacy.scanner", None)  # import now raises ImportError
    with pytest.raises(ConfigError, match="PHI scanner is not available"):
        PolicyEngine.from_file(DEFAULT)
    assert PolicyEngine.from_file(DEFAULT, exclude_rules=PHI_RULES).check("Rest.").decision == "PASS"
    report = lint_policy(DEFAULT)
    assert any("examples of PHI rules were not run" in note for note in report.notes)
    assert {r.id: r.examples for r in report.rules}["phi-in-output"] == "skipped (no PHI scanner)"
