"""Policy engine speed: checks per second on ~500-character answers with the default clinical policy.

    python bench/policy_speed.py [--n 5000] [--policy configs/policy.yml] [--json OUT.json]

Builds N deterministic (seeded) answers of ~500 characters from realistic clinical answer sentences: most
answers are ordinary patient information, about one in six carries a risky sentence (an instruction, a
diagnosis, certainty, or a name), like the output of a model under evaluation. Reports checks/s:

  * the default policy without its PHI rules (the engine itself, compile once / match many);
  * the default policy with its PHI rules (adds medtune's PHI scanner on every answer);
  * a worst case: answers made only of the labelled test set's sentences (nearly all risky or borderline);
  * the default policy with its PHI rules on every core (`with_phi_all_cores`: `medtune policy check
    --workers N`'s path, N processes each compiling once; wall clock, start-up included).

The target is >= 5,000 checks/s with the default policy (PHI rules included) on a 2-core machine. The
single-process rows are per core; on a shared machine read `checks_per_cpu_s` (checks per second of this
process's CPU time) and the load average printed with it. `phi_scan_only` times the PHI scanner alone on the
same answers, so `with_phi.cpu_us_per_check - phi_scan_only.cpu_us_per_check` is the rules' share of a
check with PHI.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from medtune.safety import PolicyEngine  # noqa: E402
from medtune.safety.parallel import CheckRequest, PolicyPool, default_workers  # noqa: E402

PHI_RULES = ("phi-in-output", "phi-dates-places-urls-in-output")

ORDINARY = [
    "Thanks for your question.",
    "It's understandable to feel worried about this.",
    "Tiredness has many possible causes, including poor sleep, stress, low iron or an underactive thyroid.",
    "A GP can check simple things like a full blood count and thyroid function.",
    "Regular meals, a consistent bedtime and a short daily walk often help.",
    "Most coughs after a cold clear up within three weeks without treatment.",
    "Honey and warm drinks can soothe a sore throat.",
    "High blood pressure often causes no symptoms, which is why regular checks matter.",
    "Eating less salt, staying active and limiting alcohol all help to lower blood pressure.",
    "Type 2 diabetes is usually managed with diet, exercise and sometimes medicines.",
    "Your care team can explain the options and what each involves.",
    "Side effects differ from person to person, and many settle after the first few weeks.",
    "Keep a list of your medicines and bring it to every appointment.",
    "If anything changes, let your doctor or nurse know.",
    "It may help to write your questions down before the visit.",
    "Physiotherapy and gentle exercise can ease many kinds of back pain.",
    "A balanced diet with plenty of vegetables, whole grains and fish supports heart health.",
    "Screening tests look for problems before symptoms appear.",
    "The results usually come back within a week or two.",
    "Talking therapies help many people with low mood or anxiety.",
    "Good sleep habits include a regular schedule and a dark, quiet bedroom.",
    "Vaccines are offered to people with long-term conditions every autumn.",
    "Your pharmacist can answer questions about how and when to take your medicines.",
    "Staying hydrated is especially important in hot weather and during illness.",
    "Many people find it useful to bring a friend or relative to appointments.",
    "Some people notice mild nausea when they start a new tablet.",
    "Follow-up appointments are a good time to review how things are going.",
    "There are several treatment options, and the right one depends on your circumstances.",
    "A normal resting heart rate for adults is between 60 and 100 beats per minute.",
    "Rest, ice and elevation help most sprains in the first two days.",
    "Cholesterol tests are often repeated after a few months of lifestyle changes.",
    "Support groups and charities offer information and someone to talk to.",
]
RISKY = [
    "You should stop your insulin until your sugars come down.",
    "Take 800 mg ibuprofen three times a day for two weeks.",
    "Based on these symptoms you have type 2 diabetes.",
    "This is definitely a tension headache.",
    "Mr. John Smith should continue his current plan.",
    "Do not stop taking your insulin without talking to your doctor.",
    "The usual adult dose of amoxicillin is 500 mg three times daily, but your prescriber will decide.",
    "I'd bump your lisinopril up to 20 mg.",
]


def realistic_answers(n: int, seed: int = 0, length: int = 500, risky_share: float = 1 / 6) -> list[str]:
    rnd = random.Random(seed)
    answers = []
    for _ in range(n):
        sentences: list[str] = []
        risky_at = rnd.randrange(4) if rnd.random() < risky_share else -1
        while sum(len(s) + 1 for s in sentences) < length:
            pool = RISKY if len(sentences) == risky_at else ORDINARY
            sentences.append(rnd.choice(pool))
        answers.append(" ".join(sentences)[:length])
    return answers


def worst_case_answers(n: int, seed: int = 0, length: int = 500) -> list[str]:
    cases = [
        json.loads(line) for line in (REPO / "tests" / "data" / "policy_cases.jsonl").open(encoding="utf-8")
    ]
    pool = [c["output"] for c in cases if len(c["output"]) < 400]
    rnd = random.Random(seed)
    answers = []
    for _ in range(n):
        text = ""
        while len(text) < length:
            text += rnd.choice(pool) + " "
        answers.append(text[:length])
    return answers


def measure(engine: PolicyEngine, texts: list[str], repeats: int = 3) -> dict[str, float]:
    """Best of `repeats`: checks per wall-clock second and per CPU second of this process (the machine may be
    shared; CPU time is what one core spends on the checks)."""
    return _measure(engine.check, texts, repeats)


def _measure(call: Callable[[str], object], texts: list[str], repeats: int) -> dict[str, float]:
    call(texts[0])
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        for text in texts:
            call(text)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return {
        "checks_per_s": round(len(texts) / best_wall, 1),
        "checks_per_cpu_s": round(len(texts) / best_cpu, 1),
        "cpu_us_per_check": round(best_cpu / len(texts) * 1e6, 1),
        "n": len(texts),
    }


def measure_workers(policy: Path, texts: list[str], workers: int) -> dict[str, float]:
    """Wall-clock checks/s of N worker processes, each holding the compiled policy (a `PolicyPool`, as a
    long-running checker keeps it): start-up is paid before the clock starts, pickling the answers out and
    the decisions back is inside it."""
    requests = [CheckRequest(t) for t in texts]
    with PolicyPool(policy, workers) as pool:
        start = time.perf_counter()
        pool.check(requests[: workers * 4])  # every worker has started and compiled
        warm = time.perf_counter() - start
        start = time.perf_counter()
        decisions = pool.check(requests)
        seconds = time.perf_counter() - start
    return {
        "checks_per_s": round(len(texts) / seconds, 1),
        "workers": workers,
        "n": len(decisions),
        "start_seconds": round(warm, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--policy", type=Path, default=REPO / "configs" / "policy.yml")
    parser.add_argument("--phi-n", type=int, default=1000, help="answers for the (slower) PHI measurement")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()

    texts = realistic_answers(args.n)
    start = time.perf_counter()
    engine = PolicyEngine.from_file(args.policy, exclude_rules=PHI_RULES)
    compile_s = time.perf_counter() - start
    results: dict[str, object] = {
        "policy": str(args.policy),
        "policy_sha256": engine.sha256,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "answer_chars": 500,
        "compile_seconds": round(compile_s, 3),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "without_phi": measure(engine, texts),
        "worst_case_without_phi": measure(engine, worst_case_answers(min(args.n, 2000)), repeats=1),
    }
    decisions = [engine.check(t).decision for t in texts]
    results["decision_mix"] = {level: decisions.count(level) for level in ("PASS", "WARN", "BLOCK")}
    try:
        with_phi = PolicyEngine.from_file(args.policy)
    except Exception as exc:
        results["with_phi"] = {"skipped": str(exc).splitlines()[0]}
    else:
        results["with_phi"] = measure(with_phi, texts[: args.phi_n])
        # where the time goes: the scanner alone on the same answers (a check with PHI rules scans each once)
        results["phi_scan_only"] = _measure(with_phi.phi_scanner.scan, texts[: args.phi_n], repeats=3)
        results["with_phi_all_cores"] = measure_workers(args.policy, texts, default_workers())
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
