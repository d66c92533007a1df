"""Scanning files and folders: findings per record, reports, and the scan record beside each dataset.

    summary = scan_paths([Path("data/notes.jsonl")], out_dir=Path("reports/phi"))

For a dataset written by `medtune phi deid`, spans that sit exactly on a surrogate or shifted date it inserted
(listed in its `.deid.json`) are not findings: they are the realistic fakes put there on purpose.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from medtune.privacy import records as rec
from medtune.privacy.io import Record, data_files, read_records
from medtune.privacy.report import counts_line, write_reports
from medtune.privacy.scanner import PhiScanner, scanner_version
from medtune.privacy.spans import PhiSpan

log = logging.getLogger("medtune.privacy")


def record_key(record: Record) -> str:
    """Where a record sits in its file, stable across a de-identification (line and field)."""
    return f"{record.line or 0}:{record.field}"


def _covered(text: str, span: PhiSpan, inserted: set[tuple[int, int]]) -> bool:
    """Whether every letter and digit of `span` lies in text that de-identification inserted."""
    parts = [(a, b) for a, b in inserted if a < span.end and span.start < b]
    if not parts:
        return False
    return all(any(a <= i < b for a, b in parts) for i in range(span.start, span.end) if text[i].isalnum())


def config_sha256(scanner: PhiScanner) -> str:
    payload = json.dumps(scanner.config.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def scan_file(
    path: Path, scanner: PhiScanner, field: str = "text"
) -> tuple[list[tuple[Record, list[PhiSpan]]], int]:
    """(record, spans) for every record of one file, and how many inserted surrogates were set aside."""
    deid = rec.read_deid_manifest(path)
    inserted: dict[str, set[tuple[int, int]]] = {}
    if deid is not None:
        for key, spans in deid.get("inserted", {}).items():
            inserted[key] = {(int(s), int(e)) for s, e in spans}
    results = []
    ignored = 0
    for record in read_records(path, field):
        spans = scanner.scan(record.text)
        known = inserted.get(record_key(record))
        if known:
            kept = [s for s in spans if not _covered(record.text, s, known)]
            ignored += len(spans) - len(kept)
            spans = kept
        results.append((record, spans))
    return results, ignored


def scan_and_record(
    path: Path, scanner: PhiScanner, field: str, report_dir: Path | None
) -> tuple[list[tuple[Record, list[PhiSpan]]], dict[str, Any]]:
    """Scan one file and build its scan record (counts by type, status; no PHI); the caller writes it."""
    results, ignored = scan_file(path, scanner, field)
    counts = Counter(span.type for _, spans in results for span in spans)
    record = rec.make_record(
        path,
        records=len(results),
        field=field,
        counts=dict(counts),
        scanner_version=scanner_version(),
        config_sha256=config_sha256(scanner),
        report_dir=report_dir,
        surrogates_ignored=ignored,
    )
    return results, record


def scan_paths(
    paths: list[Path],
    out_dir: Path | None,
    field: str = "text",
    scanner: PhiScanner | None = None,
    write_scan_records: bool = True,
) -> dict[str, Any]:
    """Scan every data file under `paths`; write reports into out_dir (owner-only) and a scan record beside
    each file. Returns the summary (counts only, no PHI)."""
    scanner = scanner or PhiScanner()
    version, cfg_sha = scanner_version(), config_sha256(scanner)
    files = [f for p in paths for f in data_files(p)]
    all_results: list[tuple[Record, list[PhiSpan]]] = []
    summary: dict[str, Any] = {
        "scanner_version": version,
        "scanner_config_sha256": cfg_sha,
        "field": field,
        "records": 0,
        "counts": {},
        "total": 0,
        "files": {},
    }
    for path in files:
        results, record = scan_and_record(path, scanner, field, out_dir)
        counts = record["counts"]
        if write_scan_records:
            rec.write_record(path, record)
        summary["files"][str(path)] = {
            k: record[k] for k in ("sha256", "records", "counts", "total", "status")
        }
        summary["records"] += len(results)
        for t, n in counts.items():
            summary["counts"][t] = summary["counts"].get(t, 0) + n
        summary["total"] += record["total"]
        log.info("phi scan %s: %d records, %s", path, len(results), counts_line(counts))
        all_results.extend(results)
    summary["counts"] = dict(sorted(summary["counts"].items()))
    summary["status"] = "clean" if summary["total"] == 0 else "phi_found"
    if out_dir is not None:
        summary["reports"] = {k: str(v) for k, v in write_reports(out_dir, all_results, summary).items()}
    return summary
