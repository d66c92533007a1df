"""What every converter shares: its description, its options, what it produced, and the writer that checks,
de-duplicates and writes the converted splits with a dataset manifest.

A converter turns one public (or business) layout into medtune records, split by split. It never raises on a
user's bad row: it appends `file:line: field: expected ..., found ...` to `problems` and skips the row; the
writer then refuses to write anything (unless `--skip-invalid`) and lists every problem.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medtune.artifacts import atomic_write_json
from medtune.data.manifest import parent_ref, write_manifest
from medtune.data.readers import Row, iter_rows
from medtune.data.records import (
    MCQ_INSTRUCTION,
    check_record,
    content_text,
    mcq_prompt,
    schema_output_check,
    show,
    to_instruction,
    type_name,
)
from medtune.data.writers import WRITE_FORMATS, write_records
from medtune.errors import DataError

FORMS = ("native", "instruction")


@dataclass
class ConvertOptions:
    form: str = "native"
    rtype: str | None = None  # generic formats: the record type of the rows
    mapping: dict[str, str] = field(default_factory=dict)
    encoding: str | None = None
    delimiter: str | None = None
    test_ids: Path | None = None  # PubMedQA: the official test PMIDs (test_ground_truth.json)
    option_base: int = 1  # MedMCQA: cop is 1-based in the original files, 0-based on the Hugging Face hub
    id_prefix: str | None = None
    instruction: str | None = None  # override the instruction of the instruction form
    source_dir: str | None = None  # paired folders
    target_dir: str | None = None
    keep_duplicates: bool = False
    skip_invalid: bool = False
    to: str = "jsonl"


@dataclass
class Conversion:
    """Split name -> records (JSON objects in the converter's native type), plus problems and notes."""

    rtype: str
    splits: dict[str, Iterable[dict[str, Any]]]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    output_schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class Converter:
    name: str
    description: str
    rtype: str
    convert: Callable[[list[Path], ConvertOptions], Conversion]
    instruction: Callable[[dict[str, Any], ConvertOptions], dict[str, Any]] | None = None
    source: str | None = None
    license: str | None = None
    deid_method: str | None = None
    dedupe: bool = True  # drop exact duplicates within a split by default (named sources are small)


@dataclass
class ConvertResult:
    out_dir: Path
    rtype: str
    counts: dict[str, int]
    paths: dict[str, Path]
    dropped_duplicates: dict[str, int]
    skipped: int
    manifest_path: Path
    manifest: dict[str, Any]
    notes: list[str]


def split_name(stem: str, names: dict[str, str]) -> str:
    """A file's split: the first key of `names` found in its lower-cased stem, else the stem itself."""
    lowered = stem.lower()
    for key, name in names.items():
        if key in lowered:
            return name
    return lowered


def input_files(
    inputs: list[Path], suffixes: tuple[str, ...], skip: Callable[[Path], bool] = lambda p: False
) -> list[Path]:
    """Files given directly, or the matching files of given directories (sorted)."""
    files: list[Path] = []
    for path in inputs:
        if not path.exists():
            raise DataError(f"{path}: data file not found")
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes and not skip(p))
            if not found:
                raise DataError(f"{path}: expected {' or '.join(suffixes)} files in this folder, found none")
            files.extend(found)
        else:
            files.append(path)
    return files


def run_convert(
    converter: Converter,
    inputs: list[Path],
    out_dir: Path,
    options: ConvertOptions,
    *,
    source: str | None = None,
    license: str | None = None,
    curator: str | None = None,
    deid_method: str | None = None,
) -> ConvertResult:
    """Convert, check every produced record, drop exact duplicates, write the splits and their manifest."""
    if options.form not in FORMS:
        raise DataError(f"--form: expected one of {', '.join(FORMS)}, found {options.form!r}")
    if options.to not in WRITE_FORMATS:
        raise DataError(f"--to: expected one of {', '.join(WRITE_FORMATS)}, found {options.to!r}")
    meta = {
        "source": source or converter.source,
        "license": license or converter.license,
        "curator": curator or _user(),
        "deid_method": deid_method or converter.deid_method,
    }
    missing = [k for k, v in meta.items() if not v]
    if missing:
        flags = ", ".join(f"--{k.replace('_', '-')}" for k in missing)
        raise DataError(
            f"{flags}: expected a value for the dataset manifest, found none",
            hint="say where the data came from, its license and how it was de-identified",
        )
    conversion = converter.convert(inputs, options)
    rtype = "instruction" if options.form == "instruction" else conversion.rtype
    output_check = schema_output_check(conversion.output_schema) if conversion.output_schema else None
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".convert-", dir=out_dir))
    counts: dict[str, int] = {}
    dropped: dict[str, int] = {}
    paths: dict[str, Path] = {}
    skipped = [0]
    try:
        for name, records in conversion.splits.items():
            dropped[name] = 0
            stream = _checked(converter, conversion, options, records, name, rtype, output_check, dropped)
            path = staging / f"{name}.{options.to}"
            counts[name] = write_records(path, stream, rtype, options.to)
            paths[name] = out_dir / path.name
        if conversion.problems:
            skipped[0] = len(conversion.problems)
            if not options.skip_invalid:
                shown = "\n".join(f"  {p}" for p in conversion.problems[:20])
                more = (
                    f"\n  ... and {len(conversion.problems) - 20} more"
                    if len(conversion.problems) > 20
                    else ""
                )
                raise DataError(
                    f"{converter.name}: {len(conversion.problems)} problem(s) in the input; nothing was "
                    f"written\n{shown}{more}",
                    hint="fix the input, or pass --skip-invalid to convert only the valid records",
                )
        for path in paths.values():
            os.replace(staging / path.name, path)
        if conversion.output_schema is not None:
            atomic_write_json(out_dir / "output-schema.json", conversion.output_schema)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    notes = list(conversion.notes)
    notes += [f"{name}: dropped {n} exact duplicate(s)" for name, n in dropped.items() if n]
    if skipped[0]:
        notes.append(f"skipped {skipped[0]} problem(s) (--skip-invalid)")
    derivation = {
        "command": "convert",
        "from": converter.name,
        "form": options.form,
        "record_type": rtype,
        "inputs": [str(p) for p in inputs],
        "counts": counts,
        "dropped_duplicates": dropped,
        "skipped_problems": skipped[0],
        "notes": notes,
    }
    manifest_path, manifest = write_manifest(
        out_dir, **meta, parents=[parent_ref(p) for p in inputs], derivation=derivation
    )
    return ConvertResult(out_dir, rtype, counts, paths, dropped, skipped[0], manifest_path, manifest, notes)


def _checked(
    converter: Converter,
    conversion: Conversion,
    options: ConvertOptions,
    records: Iterable[dict[str, Any]],
    name: str,
    rtype: str,
    output_check: Any,
    dropped: dict[str, int],
) -> Iterator[dict[str, Any]]:
    """Records in the requested form that pass their type's checks; exact duplicates dropped (counted)."""
    seen: set[bytes] = set()
    dedupe = converter.dedupe and not options.keep_duplicates
    for record in records:
        if options.form == "instruction":
            if converter.instruction is not None:
                record = converter.instruction(record, options)
            else:
                record = to_instruction(record, conversion.rtype, options.instruction)
        found = check_record(record, rtype, output_check=output_check)
        if found:
            where = f"{name} record {record.get('id', '?')}" if isinstance(record, dict) else name
            conversion.problems.extend(f"{where}: {message}" for _, message in found)
            continue
        if dedupe:
            key = hashlib.blake2b(content_text(record, rtype).encode(), digest_size=16).digest()
            if key in seen:
                dropped[name] += 1
                continue
            seen.add(key)
        yield record


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


# ------------------------------------------------------------------------- helpers shared by converters


def required_text(obj: dict[str, Any], key: str, bad: list[str]) -> str | None:
    """obj[key] stripped, or None with a problem appended when it is missing, not text, or empty."""
    value = obj.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if key not in obj:
        found = "the key missing"
    else:
        found = show(value) if isinstance(value, str) else type_name(value)
    bad.append(f"{key}: expected a non-empty string, found {found}")
    return None


def object_rows(path: Path, options: ConvertOptions, problems: list[str]) -> list[Row]:
    """The rows of a JSON/JSONL/CSV file that are objects; everything else becomes a problem."""
    rows = []
    for item in iter_rows(path, encoding=options.encoding, delimiter=options.delimiter, hygiene=False):
        if not isinstance(item, Row):
            problems.append(str(item))
        elif not isinstance(item.value, dict):
            problems.append(f"{item.where}: expected a JSON object, found {type_name(item.value)}")
        else:
            rows.append(item)
    return rows


def csv_rows(
    inputs: list[Path], options: ConvertOptions, names: dict[str, str], columns: tuple[str, ...]
) -> tuple[dict[str, list[Row]], list[str]]:
    """Split name -> CSV rows whose `columns` are all non-empty (`*_metadata.csv` files skipped)."""
    problems: list[str] = []
    out: dict[str, list[Row]] = {}
    for path in input_files(inputs, (".csv",), skip=lambda p: p.stem.endswith("_metadata")):
        rows = out.setdefault(split_name(path.stem, names), [])
        for item in iter_rows(
            path, "csv", encoding=options.encoding, delimiter=options.delimiter, hygiene=False
        ):
            if not isinstance(item, Row):
                problems.append(str(item))
                continue
            bad = []
            for column in columns:
                value = item.value.get(column)
                if value is None:
                    bad.append(f"{column}: expected a value, found the column missing")
                elif not value.strip():
                    bad.append(f"{column}: expected a non-empty string, found {show(value)}")
            if bad:
                problems.extend(f"{item.where}: {b}" for b in bad)
            else:
                rows.append(item)
    return out, problems


def clean_text(text: str) -> str:
    """LF line endings, stripped; nothing else changed."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


@dataclass
class McqFields:
    """What one source row of a multiple-choice file says, in medtune's MCQ terms."""

    question: str
    options: dict[str, str]  # letter -> text
    answer: str  # a letter of `options`
    meta: dict[str, Any]  # empty values are dropped
    source_id: Any = None  # the row's own id, if any: the record id is PREFIX-SOURCE_ID


McqParser = Callable[[dict[str, Any], list[str]], McqFields | None]

MCQ_SPLITS = {"train": "train", "dev": "validation", "valid": "validation", "test": "test"}


def convert_mcq(
    inputs: list[Path], options: ConvertOptions, default_prefix: str, parse: McqParser
) -> Conversion:
    """The loop every JSONL multiple-choice layout shares: one split per input file, one record per row;
    `parse` appends what is wrong with a row to its list (and returns None) or returns the row's fields."""
    prefix = options.id_prefix or default_prefix
    problems: list[str] = []
    splits: dict[str, list[dict[str, Any]]] = {}
    for path in input_files(inputs, (".jsonl", ".json")):
        name = split_name(path.stem, MCQ_SPLITS)
        records = splits.setdefault(name, [])
        for row in object_rows(path, options, problems):
            bad: list[str] = []
            fields = parse(row.value, bad)
            if bad or fields is None:
                problems.extend(f"{row.where}: {b}" for b in bad)
                continue
            sid = fields.source_id
            meta = {"source_id": sid, **fields.meta}
            records.append(
                {
                    "id": f"{prefix}-{sid}" if sid not in (None, "") else f"{prefix}-{name}-{row.line:06d}",
                    "question": fields.question,
                    "options": fields.options,
                    "answer": fields.answer,
                    "meta": {k: v for k, v in meta.items() if v not in (None, "")},
                }
            )
    return Conversion("mcq", dict(splits), problems)


def mcq_instruction(record: dict[str, Any], options: ConvertOptions) -> dict[str, Any]:
    """Instruction form of an MCQ record: lettered options in, the answer letter out."""
    return {
        "id": record["id"],
        "instruction": options.instruction or MCQ_INSTRUCTION,
        "input": mcq_prompt(record),
        "output": record["answer"],
        "meta": record.get("meta", {}),
    }


def summarization_instruction(text: str) -> Callable[[dict[str, Any], ConvertOptions], dict[str, Any]]:
    """Instruction form of a summarization record with a fixed instruction (--instruction overrides it)."""

    def make(record: dict[str, Any], options: ConvertOptions) -> dict[str, Any]:
        out = {
            "id": record["id"],
            "instruction": options.instruction or text,
            "input": record["source"],
            "output": record["target"],
        }
        if record.get("meta"):
            out["meta"] = record["meta"]
        return out

    return make
