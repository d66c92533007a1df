"""The PHI gate: training and evaluation refuse data without a passing PHI scan unless a waiver says so,
and a run's own logs and eval outputs are scanned at the end.

    decision = require_phi_clearance([Path("data/train.jsonl")], waiver=None)   # raises GateFailure (exit 3)
    manifest["phi_gate"] = decision.to_manifest()
    findings = scan_run_outputs(run_dir)          # counts by type, no matched text
    require_clean_run_outputs(run_dir)            # raises GateFailure if a run output holds PHI

A waiver is a YAML (or JSON) file a named person signs off:

    who: Dana Whitfield
    role: Privacy Officer
    reason: IRB 2026-114 approves training on the limited data set under the DUA with Site A
    scope: [data/site_a_notes.jsonl]    # dataset paths or globs, or sha256 values, it covers
    date: 2026-11-20
    expires: 2027-05-20                 # optional

Its sha256 goes into the run manifest with the decision.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medtune.artifacts import sha256_file
from medtune.errors import GateFailure, MedtuneError
from medtune.privacy import records as rec
from medtune.privacy.io import data_files
from medtune.privacy.report import counts_line

log = logging.getLogger("medtune.privacy")

WAIVER_FIELDS = ("who", "role", "reason", "scope", "date")
WAIVER_OPTIONAL = ("expires", "notes")


class WaiverError(MedtuneError):
    """A waiver file that is missing, malformed or incomplete (exit 2)."""


@dataclass
class GateDecision:
    passed: bool
    scans: list[dict[str, Any]] = field(default_factory=list)
    waiver_sha256: str | None = None
    waiver: dict[str, Any] | None = None
    waived: list[str] = field(default_factory=list)

    def to_manifest(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------------------ waivers


def load_waiver(path: Path) -> tuple[dict[str, Any], str]:
    """Validated waiver fields and the file's sha256; WaiverError with file:line on any problem."""
    import yaml

    if not path.is_file():
        raise WaiverError(f"{path}: expected a waiver file, found nothing there")
    raw = path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8")
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise WaiverError(f"{where}: expected a YAML or JSON mapping, found unparsable text") from exc
    if not isinstance(data, dict):
        raise WaiverError(
            f"{path}:1: expected a mapping with {', '.join(WAIVER_FIELDS)}, found {type(data).__name__}"
        )
    lines = {}
    if node is not None and hasattr(node, "value") and isinstance(node.value, list):
        for key_node, _ in node.value:
            lines[str(key_node.value)] = key_node.start_mark.line + 1
    problems = []
    for key in data:
        if key not in WAIVER_FIELDS + WAIVER_OPTIONAL:
            problems.append(
                f"{path}:{lines.get(str(key), 1)}: {key}: unknown field; expected {', '.join(WAIVER_FIELDS)}"
            )
    for key in WAIVER_FIELDS:
        if key not in data or data[key] in (None, "", []):
            problems.append(f"{path}:1: {key}: required, found nothing")
    for key in ("who", "role", "reason"):
        value = data.get(key)
        if value not in (None, "") and not isinstance(value, str):
            problems.append(f"{path}:{lines.get(key, 1)}: {key}: expected text, found {type(value).__name__}")
    reason = data.get("reason")
    if isinstance(reason, str) and 0 < len(reason.strip()) < 10:
        problems.append(
            f"{path}:{lines.get('reason', 1)}: reason: expected a sentence, found {len(reason.strip())} ch"
            f"aracters"
        )
    scope = data.get("scope")
    if isinstance(scope, str):
        scope = [scope]
    if scope not in (None, []) and not (
        isinstance(scope, list) and all(isinstance(s, str) and s for s in scope)
    ):
        problems.append(
            f"{path}:{lines.get('scope', 1)}: scope: expected a list of dataset paths, globs or sha256s"
        )
    today = dt.date.today()
    dates = {}
    for key in ("date", "expires"):
        value = data.get(key)
        if value in (None, ""):
            continue
        try:
            dates[key] = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        except ValueError:
            problems.append(f"{path}:{lines.get(key, 1)}: {key}: expected a date YYYY-MM-DD, found {value!r}")
    if "date" in dates and dates["date"] > today:
        problems.append(
            f"{path}:{lines.get('date', 1)}: date: expected today or earlier, found {dates['date']}"
        )
    if "expires" in dates and dates["expires"] < today:
        problems.append(
            f"{path}:{lines.get('expires', 1)}: expires: the waiver expired on {dates['expires']}"
        )
    if problems:
        raise WaiverError(
            f"{path}: invalid PHI waiver ({len(problems)} problem{'s' if len(problems) > 1 else ''})\n  "
            + "\n  ".join(problems),
            hint="a waiver needs who, role, reason, scope (datasets it covers) and date (YYYY-MM-DD)",
        )
    clean = {k: (str(v) if isinstance(v, dt.date) else v) for k, v in data.items()}
    clean["scope"] = scope
    return clean, sha


def _covers(waiver: dict[str, Any], dataset: Path, sha: str | None) -> bool:
    for pattern in waiver["scope"]:
        if pattern == "*" or (sha is not None and pattern.lower() == sha):
            return True
        for candidate in (str(dataset), dataset.as_posix(), dataset.name, str(dataset.resolve())):
            if fnmatch.fnmatch(candidate, pattern) or candidate == pattern:
                return True
    return False


# ------------------------------------------------------------------------------------------ datasets


def _check_dataset(path: Path) -> tuple[dict[str, Any], str | None]:
    """(scan summary for the manifest, problem or None)."""
    sha = sha256_file(path)
    info: dict[str, Any] = {"path": str(path), "sha256": sha}
    record = rec.read_record(path)
    if record is None:
        return info | {"status": "not_scanned"}, "no PHI scan record"
    info |= {
        k: record.get(k) for k in ("status", "counts", "total", "scanner_version", "scanned_at", "records")
    }
    info["scan_record"] = str(rec.record_path(path))
    if record.get("sha256") != sha:
        info["status"] = "stale"
        return info, "changed since it was scanned (sha256 differs)"
    deid = rec.read_deid_manifest(path)
    if deid is not None:
        info["deid"] = {
            "input_sha256": deid["input"]["sha256"],
            "operators": deid["method"]["operators"],
            "salt_id": deid["method"].get("salt_id"),
        }
    if record.get("status") != "clean":
        return (
            info,
            f"its scan found {record.get('total')} identifiers ({counts_line(record.get('counts') or {})})",
        )
    return info, None


_ANNOUNCED_WAIVERS: set[tuple[str, str | None, str | None]] = set()


def require_phi_clearance(data_paths: list[Path], waiver: Path | None = None) -> GateDecision:
    """Pass when every dataset has a clean, current scan record, or a valid waiver covers it; otherwise raise
    GateFailure naming each dataset, its problem and the commands that fix it."""
    waiver_data, waiver_sha = load_waiver(waiver) if waiver is not None else (None, None)
    decision = GateDecision(passed=True, waiver_sha256=waiver_sha, waiver=waiver_data)
    failures = []
    for given in data_paths:
        for path in data_files(Path(given)):
            info, problem = _check_dataset(path)
            decision.scans.append(info)
            if problem is None:
                continue
            if waiver_data is not None and _covers(waiver_data, path, info.get("sha256")):
                decision.waived.append(str(path))
                info["waived"] = True
                announcement = (str(path), info.get("sha256"), waiver_sha)
                if announcement not in _ANNOUNCED_WAIVERS:  # a run re-checks at each stage: say it once
                    _ANNOUNCED_WAIVERS.add(announcement)
                    log.warning(
                        "phi gate: %s %s; waived by %s (%s)",
                        path,
                        problem,
                        waiver_data["who"],
                        waiver_data["role"],
                    )
                continue
            failures.append((path, problem, info.get("status")))
    if failures:
        decision.passed = False
        lines = [f"PHI gate: {len(failures)} dataset{'s' if len(failures) > 1 else ''} not cleared for use"]
        for path, problem, status in failures:
            lines.append(f"  {path}: {problem}")
            deid_out = path.with_name(f"{path.stem}.deid{path.suffix}")
            if status in ("not_scanned", "stale"):
                lines.append(f"    run: medtune phi scan {path} --out reports/phi/")
            lines.append(f"    then, if it holds PHI: medtune phi deid {path} --out {deid_out}")
            lines.append(
                f"    and train or evaluate on {deid_out} (deid scans its output and records the result)"
            )
        if waiver is not None:
            lines.append(
                f"  the waiver {waiver} does not cover these datasets (its scope: {waiver_data['scope']})"
            )
        else:
            lines.append(
                "  or, if someone accountable accepts the risk: pass a waiver file (who, role, reason, "
                "scope, date); see docs/phi.md"
            )
        raise GateFailure("\n".join(lines))
    log.info(
        "phi gate: passed for %d dataset(s)%s",
        len(decision.scans),
        f", {len(decision.waived)} waived" if decision.waived else "",
    )
    return decision


# ------------------------------------------------------------------------------------------ run outputs

RUN_OUTPUT_GLOBS = (
    "train/log_history.json",
    "eval/samples.jsonl",
    "eval/results.json",
    "**/*.log",
    "**/*.txt",
    "**/samples*.jsonl",
    "**/predictions*.jsonl",
)


def _run_files(run_dir: Path) -> list[Path]:
    from medtune.privacy.io import SKIP_DIRS

    seen: dict[Path, None] = {}
    for pattern in RUN_OUTPUT_GLOBS:
        for p in sorted(run_dir.glob(pattern)):
            rel = p.relative_to(run_dir).parts
            if p.is_file() and not any(part in SKIP_DIRS or part.startswith(".") for part in rel[:-1]):
                seen.setdefault(p, None)
    return list(seen)


def scan_run_outputs(run_dir: Path, scanner: Any = None) -> dict[str, Any]:
    """Scan a run's training logs and eval samples. Counts by type and file, never the matched text.
    JSONL records are scanned field by field (every string value); log timestamps are not dates of care."""
    import json

    from medtune.privacy.io import Record, _strings, read_records
    from medtune.privacy.scanner import PhiScanner, ScannerConfig, scanner_version

    scanner = scanner or PhiScanner(ScannerConfig(ignore_machine_timestamps=True))
    counts: dict[str, int] = {}
    files: dict[str, dict[str, int]] = {}
    for path in _run_files(run_dir):
        per_file: dict[str, int] = {}
        if path.suffix == ".jsonl":
            records = []
            for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    records.append(Record(path, str(lineno), "line", line, lineno))
                    continue
                records.extend(Record(path, str(lineno), ptr, s, lineno) for ptr, s in _strings(obj, ""))
        else:
            records = list(read_records(path))
        for record in records:
            for span in scanner.scan(record.text):
                per_file[span.type] = per_file.get(span.type, 0) + 1
        rel = path.relative_to(run_dir).as_posix()
        files[rel] = dict(sorted(per_file.items()))
        for t, n in per_file.items():
            counts[t] = counts.get(t, 0) + n
    total = sum(counts.values())
    log.info("phi run-output scan %s: %d files, %s", run_dir, len(files), counts_line(counts))
    return {
        "run_dir": str(run_dir),
        "scanner_version": scanner_version(),
        "files": files,
        "counts": dict(sorted(counts.items())),
        "total": total,
        "passed": total == 0,
    }


def require_clean_run_outputs(
    run_dir: Path, scanner: Any = None, clearance: GateDecision | None = None
) -> dict[str, Any]:
    """scan_run_outputs, raising GateFailure (exit 3) if any identifier turned up — unless the run's data went
    in under a waiver (`clearance.waived`): then the findings are recorded as waived and the run passes, since
    the waiver accepted that PHI in that data and eval samples echo it."""
    findings = scan_run_outputs(run_dir, scanner)
    if findings["passed"]:
        return findings
    if clearance is not None and clearance.waived:
        findings["waived_by"] = {"waiver_sha256": clearance.waiver_sha256, "datasets": clearance.waived}
        log.warning("phi run-output scan: %d findings accepted under waiver %s", findings["total"],
                    (clearance.waiver_sha256 or "")[:12])  # fmt: skip
        return findings
    bad = [f"  {f}: {counts_line(c)}" for f, c in findings["files"].items() if c]
    raise GateFailure(
        f"PHI gate: the run's outputs hold {findings['total']} possible identifiers\n"
        + "\n".join(bad)
        + f"\n  review: medtune phi scan {run_dir} --out reports/phi/ (owner-only report)"
    )
