"""medtune's PHI scanner vs Presidio's AnalyzerEngine on the same texts: characters/s, recall, precision.

    .venv/bin/pip install -e '.[bench]' torch==2.13.0
    .venv/bin/python bench/phi_speed.py [--notes 500] [--seed 2026] [--repeats 3] [--out results.json]

Texts: medtune's synthetic clinical notes (seeded) and, when ../shared/data/presidio_synth_pii/ is present,
Presidio research's own synthetic PII set. Both tools are scored by the same code (medtune.privacy.evaluate:
a gold span is found when a prediction overlaps it; Presidio entities are mapped to medtune types).

Presidio runs offline as ../shared/STACK.md describes: a blank spaCy English pipeline saved locally (no NER
model can be downloaded here, so Presidio finds no names or street addresses without one), a small lemma
component so its context words work, and tldextract with an empty suffix-list URL list. One process each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PRESIDIO_SET = REPO.parent / "shared" / "data" / "presidio_synth_pii" / "synth_dataset_v2.json"
ONCOLOGY = (
    REPO / "data" / "oncology_ie"
)  # bundled synthetic oncology narratives: realistic PHI density, no gold

# Presidio entity -> medtune type (None: not a Safe Harbor identifier, not scored)
PRESIDIO_TO_MEDTUNE = {
    "PERSON": "NAME",
    "LOCATION": "LOCATION",
    "DATE_TIME": "DATE",
    "PHONE_NUMBER": "PHONE",
    "EMAIL_ADDRESS": "EMAIL",
    "US_SSN": "SSN",
    "IP_ADDRESS": "IP",
    "URL": "URL",
    "CREDIT_CARD": "ACCOUNT",
    "IBAN_CODE": "ACCOUNT",
    "US_BANK_NUMBER": "ACCOUNT",
    "US_DRIVER_LICENSE": "LICENSE",
    "MEDICAL_LICENSE": "LICENSE",
    "US_PASSPORT": "ID",
    "US_ITIN": "ID",
    "UK_NHS": "ID",
    "CRYPTO": "ID",
    "NRP": None,
}


class _Span:
    __slots__ = ("end", "start", "type")

    def __init__(self, start: int, end: int, type_: str) -> None:
        self.start, self.end, self.type = start, end, type_


def presidio_engine(workdir: Path) -> Any:
    import spacy
    import tldextract
    from spacy.language import Language

    @Language.component("medtune_lower_lemma")
    def lower_lemma(doc: Any) -> Any:  # context words need lemmas; a blank pipeline has none
        for token in doc:
            token.lemma_ = token.lower_
        return doc

    model_dir = workdir / "blank_en"
    nlp = spacy.blank("en")
    nlp.add_pipe("medtune_lower_lemma")
    nlp.to_disk(model_dir)

    import presidio_analyzer.predefined_recognizers.generic.email_recognizer as email_recognizer

    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)  # no network fetch
    email_recognizer.tldextract.extract = offline  # type: ignore[attr-defined]

    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": str(model_dir)}],
        }
    )
    return AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])


def run_tools(tools: dict[str, Any], gold: list[dict[str, Any]], repeats: int) -> dict[str, dict[str, Any]]:
    """Scan every text with each tool, `repeats` rounds, the tools taking turns within a round; keep each
    tool's fastest pass. Taking turns matters on a shared machine: both tools see the same background load,
    so their ratio is steadier than either number. CPU time (this process) is the primary clock because it
    is robust to other load on the machine; wall time is reported beside it."""
    from medtune.privacy.evaluate import score

    chars = sum(len(item["text"]) for item in gold)
    best_cpu = dict.fromkeys(tools, float("inf"))
    best_wall = dict.fromkeys(tools, float("inf"))
    predictions: dict[str, list[Any]] = {}
    for scan in tools.values():
        for item in gold[:20]:  # warm-up (caches, lazy loads)
            scan(item["text"])
    for _ in range(repeats):
        for name, scan in tools.items():
            c0, w0 = time.process_time(), time.perf_counter()
            predictions[name] = [scan(item["text"]) for item in gold]
            best_cpu[name] = min(best_cpu[name], time.process_time() - c0)
            best_wall[name] = min(best_wall[name], time.perf_counter() - w0)
    return {
        name: {
            "tool": name,
            "chars": chars,
            "cpu_seconds": round(best_cpu[name], 3),
            "wall_seconds": round(best_wall[name], 3),
            "chars_per_s": round(chars / best_cpu[name]),
            "chars_per_s_wall": round(chars / best_wall[name]),
            "by_type": score(gold, predictions[name]),
        }
        for name in tools
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--notes", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--repeats", type=int, default=3, help="rounds (tools take turns); fastest pass counts"
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args()

    from medtune.privacy import _native
    from medtune.privacy.evaluate import load_gold
    from medtune.privacy.scanner import PhiScanner, scanner_version
    from medtune.privacy.synth import generate_corpus

    sets: dict[str, list[dict[str, Any]]] = {}
    notes = generate_corpus(n=args.notes, seed=args.seed)
    for note in notes:
        note["ignore"] = []
    sets[f"medtune synthetic notes (n={args.notes}, seed {args.seed})"] = notes
    if PRESIDIO_SET.is_file():
        sets["presidio-research synth_dataset_v2 (n=1500)"] = load_gold(PRESIDIO_SET)
    else:
        print(f"note: {PRESIDIO_SET} not found; benchmarking on the synthetic notes only", file=sys.stderr)

    narratives = []
    for path in sorted(ONCOLOGY.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            narratives.append({"text": record.get("input") or "", "spans": [], "ignore": []})
    if narratives:
        sets[f"bundled oncology narratives (n={len(narratives)}, no gold: speed and finding counts only)"] = (
            narratives
        )

    medtune = PhiScanner()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            engine = presidio_engine(Path(tmp))
    except ImportError as exc:
        print(f"Presidio is not installed ({exc}); install medtune[bench]", file=sys.stderr)
        return 2

    def presidio_scan(text: str) -> list[_Span]:
        out = []
        for r in engine.analyze(text=text, language="en"):
            mapped = PRESIDIO_TO_MEDTUNE.get(r.entity_type, "ID")
            if mapped is not None:
                out.append(_Span(r.start, r.end, mapped))
        return out

    results: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "medtune_scanner": scanner_version(),
        # the hot modules compiled by mypyc (setup.py) or pure Python (no build, or MEDTUNE_PURE_PYTHON=1)
        "medtune_compiled": _native.NATIVE,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "sets": {},
    }
    for set_name, gold in sets.items():
        timed = run_tools({"medtune": medtune.scan, "presidio": presidio_scan}, gold, args.repeats)
        m, p = timed["medtune"], timed["presidio"]
        results["sets"][set_name] = {
            "medtune": m,
            "presidio": p,
            "speed_ratio": round(m["chars_per_s"] / p["chars_per_s"], 1),
        }
        print(f"\n## {set_name}: {m['chars']:,} characters")
        print(
            f"{'':10} {'chars/s (CPU)':>14} {'chars/s (wall)':>15} {'recall':>8} {'precision':>10} {'F2':>7}"
        )
        has_gold = any(item["spans"] for item in gold)
        if not has_gold:
            print("(no gold spans: recall and precision undefined; predicted spans are unconfirmed)")

        def g(x: Any) -> str:
            return "-" if x is None else f"{x:.3f}"

        for r in (m, p):
            a = r["by_type"].get("ALL", {})
            prec, f2 = (a.get("precision"), a.get("f2")) if has_gold else (None, None)
            print(
                f"{r['tool']:10} {r['chars_per_s']:>14,} {r['chars_per_s_wall']:>15,}"
                f" {g(a.get('recall')):>8} {g(prec):>10} {g(f2):>7}   predicted spans: {a.get('pred', 0)}"
            )
        print(f"speed ratio medtune/presidio: {results['sets'][set_name]['speed_ratio']}x")
        print(
            f"{'type':12} {'gold':>6} {'medtune R':>10} {'presidio R':>11} {'medtune P':>10}"
            f" {'presidio P':>11}"
        )
        for t in sorted(set(m["by_type"]) - {"ALL"}) if any(item["spans"] for item in gold) else []:
            mt, pt = m["by_type"][t], p["by_type"].get(t, {})

            def f(x: Any) -> str:
                return "-" if x is None else f"{x:.3f}"

            print(
                f"{t:12} {mt['gold']:>6} {f(mt['recall']):>10} {f(pt.get('recall')):>11} "
                f"{f(mt['precision']):>10} {f(pt.get('precision')):>11}"
            )
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    loads = results["load_average_start"], results["load_average_end"]
    print(f"\nload average (1, 5, 15 min): start {loads[0]}, end {loads[1]}")
    print(f"medtune hot modules: {'compiled (mypyc)' if _native.NATIVE else 'pure Python'}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
