"""De-identification operators and datasets.

Operators, chosen per identifier type:
- `redact`      remove the text
- `mask`        replace every letter and digit with `*` (separators kept: "(***) ***-****")
- `placeholder` a typed tag: `[NAME]`, `[DATE]`, …
- `surrogate`   a realistic fake, the same for the same original across the dataset: Faker seeded with
                HMAC-SHA256(secret salt, type + original). Names map word by word, so "John Smith", "SMITH,
                JOHN" and "Mr. Smith" stay one (fake) person. Numbers keep their format with new digits; SSNs
                start with 9 (never issued), IPs come from documentation ranges, e-mails and URLs from
                example.org.
- `dateshift`   (DATE) move the date by a per-patient offset in [-max_days, +max_days] derived from
                HMAC(salt, patient id): every interval within a patient is kept; the format is kept.
                A date it cannot parse ("the 3rd", "Christmas") becomes `[DATE]`.

Surrogates and shifted dates are not Safe Harbor de-identification in the strict sense (shifted dates are
still dates): the manifest records the method so a compliance owner can decide. The salt is never written
anywhere; the manifest holds a salt id (an HMAC of a constant) to show which salt was used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from medtune.errors import ConfigError, DataError
from medtune.privacy.spans import TYPES, PhiSpan

Operator = Literal["redact", "mask", "placeholder", "surrogate", "dateshift"]
OPERATORS: tuple[str, ...] = ("redact", "mask", "placeholder", "surrogate", "dateshift")
SALT_ENV = "MEDTUNE_PHI_SALT"


class DeidConfig(BaseModel):
    """How each identifier type is replaced (`medtune phi deid --config FILE`, section `deid`)."""

    model_config = ConfigDict(extra="forbid")
    default: Operator = Field("placeholder", description="Operator for types not listed in `operators`.")
    operators: dict[str, Operator] = Field(default_factory=dict, description="Type -> operator.")
    mask_char: str = Field("*", min_length=1, max_length=1)
    max_shift_days: int = Field(365, ge=1, le=3650, description="Date shift range: ±this many days.")
    patient_field: str = Field(
        "patient_id", description="Record field naming the patient, for date shifting."
    )

    @field_validator("operators")
    @classmethod
    def _check(cls, value: dict[str, str]) -> dict[str, str]:
        for type_, op in value.items():
            if type_ not in TYPES:
                raise ValueError(f"unknown type {type_!r}; known: {', '.join(TYPES)}")
            if op == "dateshift" and type_ != "DATE":
                raise ValueError(f"{type_}: dateshift applies to DATE only")
        return value

    def operator_for(self, type_: str) -> str:
        op = self.operators.get(type_, self.default)
        if op == "dateshift" and type_ != "DATE":
            return "surrogate"
        return op

    def needs_salt(self) -> bool:
        return any(self.operator_for(t) in ("surrogate", "dateshift") for t in TYPES)


def load_salt(salt_file: Path | None = None) -> bytes:
    """The secret salt: a file's content, or the MEDTUNE_PHI_SALT environment variable."""
    if salt_file is not None:
        try:
            raw = salt_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{salt_file}: expected a readable salt file, found {exc.strerror}") from exc
    else:
        raw = os.environ.get(SALT_ENV, "").strip()
    if len(raw) < 16:
        raise ConfigError(
            f"surrogates and date shifting need a secret salt of at least 16 characters; found "
            f"{'none' if not raw else f'{len(raw)} characters'}",
            hint=f"set {SALT_ENV} or pass --salt-file FILE (make one: python -c "
            "'import secrets; print(secrets.token_hex(32))' > salt.txt; chmod 600 salt.txt)",
        )
    return raw.encode("utf-8")


def salt_id(salt: bytes) -> str:
    return hmac.new(salt, b"medtune-phi-salt-id", hashlib.sha256).hexdigest()[:16]


# ------------------------------------------------------------------------------------------ dates

_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH_RE = (
    r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_D_ISO = re.compile(r"(?P<y>\d{4})(?P<s>[-/.])(?P<m>\d{1,2})(?P=s)(?P<d>\d{1,2})(?P<rest>[T ].*)?")
_D_COMPACT = re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})")
_D_NUM = re.compile(r"(?P<a>\d{1,2})(?P<s>[/.-])(?P<b>\d{1,2})(?:(?P=s)(?P<y>\d{2}|\d{4}))?")
_D_MY = re.compile(r"(?P<m>\d{1,2})/(?P<y>\d{4})")
_D_MDY = re.compile(
    _MONTH_RE + r"(?P<dot>\.?)(?P<sp>\s+)(?P<the>the\s+)?(?P<d>\d{1,2})(?P<ord>st|nd|rd|th)?"
    r"(?:(?P<ysep>,?\s*'?)(?P<y>\d{4}|\d{2}))?",
    re.IGNORECASE,
)
_D_DMY = re.compile(
    r"(?P<d>\d{1,2})(?P<ord>st|nd|rd|th)?(?P<sp>[\s-]*(?:of\s+)?)" + _MONTH_RE + r"(?P<dot>\.?)"
    r"(?:(?P<ysep>,?[\s-]*)(?P<y>\d{4}|\d{2}))?",
    re.IGNORECASE,
)
_D_MONYEAR = re.compile(_MONTH_RE + r"(?P<dot>\.?)(?P<sep>\s*,?\s*(?:of\s+)?)(?P<y>\d{4})", re.IGNORECASE)


def _ordinal(day: int) -> str:
    return "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _month_like(original: str, month: int) -> str:
    name = _MONTHS[month - 1]
    if len(original) <= 4 and original.lower() != "june" and original.lower() != "july":
        name = name[:3] if not (original.lower().startswith("sept") and len(original) == 4) else name[:4]
    if original.isupper():
        return name.upper()
    if original[0].isupper():
        return name.capitalize()
    return name


def _year_like(original: str, year: int) -> str:
    return f"{year % 100:02d}" if len(original) == 2 else str(year)


def _num_like(original: str, value: int) -> str:
    return (
        f"{value:0{len(original)}d}"
        if original.startswith("0") or (len(original) == 2 and value >= 10)
        else str(value)
    )


def _full_year(y: str | None, default: int = 2000) -> int:
    if y is None:
        return default
    n = int(y)
    return n if len(y) == 4 else (2000 + n if n < 50 else 1900 + n)


def shift_date(value: str, days: int) -> str | None:
    """`value` moved by `days`, in the same format; None if it is not a date medtune can parse."""
    s = value.strip()
    try:
        if m := _D_ISO.fullmatch(s):
            d = dt.date(int(m["y"]), int(m["m"]), int(m["d"])) + dt.timedelta(days=days)
            sep = m["s"]
            return (
                f"{d.year}{sep}{_num_like(m['m'], d.month)}{sep}{_num_like(m['d'], d.day)}{m['rest'] or ''}"
            )
        if m := _D_COMPACT.fullmatch(s):
            d = dt.date(int(m["y"]), int(m["m"]), int(m["d"])) + dt.timedelta(days=days)
            return d.strftime("%Y%m%d")
        if m := _D_MY.fullmatch(s):
            d = dt.date(int(m["y"]), int(m["m"]), 15) + dt.timedelta(days=days)
            return f"{_num_like(m['m'], d.month)}/{d.year}"
        if m := _D_NUM.fullmatch(s):
            a, b = int(m["a"]), int(m["b"])
            month_first = a <= 12
            month, day = (a, b) if month_first else (b, a)
            d = dt.date(_full_year(m["y"]), month, day) + dt.timedelta(days=days)
            p1, p2 = (d.month, d.day) if month_first else (d.day, d.month)
            padded = (
                m["a"].startswith("0") or m["b"].startswith("0") or (len(m["a"]) == 2 and len(m["b"]) == 2)
            )
            out = f"{p1:02d}{m['s']}{p2:02d}" if padded else f"{p1}{m['s']}{p2}"
            if m["y"]:
                out += f"{m['s']}{_year_like(m['y'], d.year)}"
            return out
        if m := _D_MDY.fullmatch(s):
            month = _month_index(m["mon"])
            d = dt.date(_full_year(m["y"]), month, int(m["d"])) + dt.timedelta(days=days)
            out = f"{_month_like(m['mon'], d.month)}{m['dot']}{m['sp']}{m['the'] or ''}"
            out += _num_like(m["d"], d.day)
            if m["ord"]:
                out += _case_like(m["ord"], _ordinal(d.day))
            if m["y"]:
                out += f"{m['ysep']}{_year_like(m['y'], d.year)}"
            return out
        if m := _D_DMY.fullmatch(s):
            month = _month_index(m["mon"])
            d = dt.date(_full_year(m["y"]), month, int(m["d"])) + dt.timedelta(days=days)
            out = _num_like(m["d"], d.day) + (_case_like(m["ord"], _ordinal(d.day)) if m["ord"] else "")
            out += f"{m['sp']}{_month_like(m['mon'], d.month)}{m['dot']}"
            if m["y"]:
                out += f"{m['ysep']}{_year_like(m['y'], d.year)}"
            return out
        if m := _D_MONYEAR.fullmatch(s):
            d = dt.date(int(m["y"]), _month_index(m["mon"]), 15) + dt.timedelta(days=days)
            return f"{_month_like(m['mon'], d.month)}{m['dot']}{m['sep']}{d.year}"
    except ValueError:
        return None
    return None


def _month_index(name: str) -> int:
    low = name.lower()[:3]
    return next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(low))


def _case_like(original: str, value: str) -> str:
    return value.upper() if original.isupper() else value


# ------------------------------------------------------------------------------------------ surrogates

_DOC_NET = "192.0.2."


@dataclass
class DeidResult:
    text: str
    replaced: list[tuple[PhiSpan, int, int, str]] = field(
        default_factory=list
    )  # span, new start, new end, op

    @property
    def inserted(self) -> list[tuple[int, int]]:
        """Offsets (in the output) of surrogates and shifted dates: realistic fakes a re-scan will see."""
        return [(s, e) for _, s, e, op in self.replaced if op in ("surrogate", "dateshift")]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for span, *_ in self.replaced:
            out[span.type] = out.get(span.type, 0) + 1
        return out


class Deidentifier:
    """Replaces the spans a scanner finds, per the config's operators. One instance per dataset, so surrogate
    mappings stay consistent within it."""

    def __init__(
        self, config: DeidConfig | None = None, salt: bytes | None = None, scanner: Any = None
    ) -> None:
        self.config = config or DeidConfig()
        if self.config.needs_salt() and not salt:
            raise ConfigError(
                "surrogate and dateshift operators need a secret salt",
                hint=f"set {SALT_ENV} or pass --salt-file FILE",
            )
        self.salt = salt or b""
        if scanner is None:
            from medtune.privacy.scanner import PhiScanner

            scanner = PhiScanner()
        self.scanner = scanner
        self._faker: Any = None
        self._cache: dict[tuple[str, str], str] = {}

    # -- keyed randomness --
    def _digest(self, *parts: str) -> bytes:
        return hmac.new(self.salt, "\x1f".join(parts).encode("utf-8"), hashlib.sha256).digest()

    def _seed(self, *parts: str) -> int:
        return int.from_bytes(self._digest(*parts)[:8], "big")

    def _fake(self, *parts: str) -> Any:
        if self._faker is None:
            from faker import Faker

            self._faker = Faker("en_US")
        self._faker.seed_instance(self._seed(*parts))
        return self._faker

    def shift_days(self, patient: str) -> int:
        span = self.config.max_shift_days
        days = self._seed("dateshift", patient) % (2 * span + 1) - span
        return days or span

    # -- operators --
    def replacement(self, span: PhiSpan, op: str, patient: str) -> str:
        if op == "redact":
            return ""
        if op == "mask":
            return "".join(self.config.mask_char if c.isalnum() else c for c in span.text)
        if op == "placeholder":
            return f"[{span.type}]"
        if op == "dateshift" or (op == "surrogate" and span.type == "DATE"):
            shifted = shift_date(span.text, self.shift_days(patient))
            return shifted if shifted is not None else "[DATE]"
        key = (span.type, " ".join(span.text.lower().split()))
        if key not in self._cache:
            self._cache[key] = self._surrogate(span)
        return self._cache[key]

    def _surrogate(self, span: PhiSpan) -> str:
        t, text = span.type, span.text
        if t == "NAME":
            return self._name(text)
        if t == "AGE":
            return "90+" if text.isdigit() else "ninety or older"
        if t == "EMAIL":
            fk = self._fake("EMAIL", text.lower())
            return f"{fk.first_name().lower()}.{fk.last_name().lower()}@example.org"
        if t == "URL":
            return f"https://example.org/{self._digest('URL', text.lower()).hex()[:8]}"
        if t == "IP":
            if ":" in text:
                h = self._digest("IP", text.lower()).hex()
                return f"2001:db8::{h[:4]}:{h[4:8]}"
            return _DOC_NET + str(1 + self._seed("IP", text) % 254)
        if t == "ADDRESS":
            fk = self._fake("ADDRESS", text.lower())
            out = (
                fk.street_address()
                if not text.lower().startswith(("po", "p.o", "box"))
                else f"PO Box {fk.random_int(1, 9999)}"
            )
            return out.upper() if text.isupper() else out
        if t == "LOCATION":
            return self._location(text)
        if t == "ZIP":
            return self._digits_like(text, "ZIP")
        if t == "SSN":
            out = self._digits_like(text, "SSN")
            return "9" + out[1:] if out[:1].isdigit() else out
        return self._digits_like(text, t)  # PHONE FAX MRN HEALTH_PLAN ACCOUNT LICENSE VEHICLE DEVICE ID

    def _digits_like(self, text: str, type_: str) -> str:
        """Same shape, new characters: digits for digits, letters for letters (case kept), separators kept."""
        stream = self._digest(type_, text.lower())
        out, i = [], 0
        for c in text:
            if c.isdigit() or c.isalpha():
                b = stream[i % len(stream)]
                i += 1
                if i % len(stream) == 0:
                    stream = hashlib.sha256(stream).digest()
                if c.isdigit():
                    out.append(str(b % 10))
                else:
                    letter = "ABCDEFGHJKLMNPRSTUVWXYZ"[b % 23]
                    out.append(letter if c.isupper() else letter.lower())
            else:
                out.append(c)
        return "".join(out)

    def _name(self, text: str) -> str:
        from medtune.privacy.dictionaries import fold

        lex = self.scanner.lexicon

        initials = re.fullmatch(r"(?:[A-Z]\.?\s?){1,3}", text.strip()) is not None

        def word(m: re.Match[str]) -> str:
            w = m.group()
            core, dot = (w[:-1], ".") if w.endswith(".") else (w, "")
            key = fold(core)
            if initials and core.isupper() and len(core) <= 3:
                letters = "ABCDEFGHJKLMNPRSTVW"
                return (
                    "".join(letters[self._seed("INITIAL", key, str(i)) % 19] for i in range(len(core))) + dot
                )
            if len(core) == 1:
                letter = "ABCDEFGHJKLMNPRSTVW"[self._seed("INITIAL", key) % 19]
                return (letter if core.isupper() else letter.lower()) + dot
            cached = self._cache.get(("NAME-WORD", key))
            if cached is None:
                fk = self._fake("NAME", key)
                cached = fk.first_name() if key in lex.first else fk.last_name()
                self._cache[("NAME-WORD", key)] = cached
            return (cached.upper() if core.isupper() else cached) + dot

        return re.sub(r"[^\W\d_]+(?:['’-][^\W\d_]+)*\.?", word, text)

    def _location(self, text: str) -> str:
        fk = self._fake("LOCATION", text.lower())
        words = text.split()
        suffix = []
        from medtune.privacy.places import _FACILITY

        for w in reversed(words[1:]):
            if w.lower().strip(".,") in _FACILITY or w.lower() in (
                "center",
                "home",
                "county",
                "care",
                "living",
            ):
                suffix.insert(0, w)
            else:
                break
        if (words and words[-1].lower() in ("county", "parish", "borough")) or suffix:
            out = f"{fk.last_name()} {' '.join(suffix)}"
        else:
            out = fk.city()
        return out.upper() if text.isupper() else out

    # -- text --
    def deidentify(self, text: str, patient: str = "", spans: list[PhiSpan] | None = None) -> DeidResult:
        """`text` with every span replaced; `patient` keys the date shift (use the patient id)."""
        if spans is None:
            spans = self.scanner.scan(text)
        out: list[str] = []
        pos = 0
        length = 0
        result = DeidResult(text="")
        for span in spans:
            chunk = text[pos : span.start]
            out.append(chunk)
            length += len(chunk)
            op = self.config.operator_for(span.type)
            new = self.replacement(span, op, patient)
            if op in ("dateshift", "surrogate") and new == f"[{span.type}]":
                op = "placeholder"
            out.append(new)
            result.replaced.append((span, length, length + len(new), op))
            length += len(new)
            pos = span.end
        out.append(text[pos:])
        result.text = "".join(out)
        return result


# ------------------------------------------------------------------------------------------ datasets


def deidentify_file(
    src: Path,
    dst: Path,
    deid: Deidentifier,
    field: str = "text",
) -> dict[str, Any]:
    """Write a de-identified copy of a JSONL, CSV or text dataset and its manifest `<dst>.deid.json`; scan
    the output again and write its scan record. Returns the manifest (counts only, no PHI)."""
    import csv
    import io as _io

    from medtune.artifacts import atomic_write_bytes, now_iso, sha256_file
    from medtune.privacy import records as rec
    from medtune.privacy.batch import config_sha256, record_key, scan_and_record
    from medtune.privacy.io import read_records
    from medtune.privacy.scanner import scanner_version

    if src.resolve() == dst.resolve():
        raise DataError(f"{dst}: expected an output path different from the input, found the same file")
    suffix = src.suffix.lower()
    if suffix == ".json":
        raise DataError(f"{src}: expected JSONL, CSV or plain text to de-identify, found a JSON document")
    counts: dict[str, int] = {}
    inserted: dict[str, list[list[int]]] = {}
    patient_field = deid.config.patient_field
    n_records = 0

    def one(record: Any, patient: str) -> str:
        nonlocal n_records
        n_records += 1
        result = deid.deidentify(record.text, patient=patient)
        for t, n in result.counts().items():
            counts[t] = counts.get(t, 0) + n
        if result.inserted:
            inserted[record_key(record)] = [[s, e] for s, e in result.inserted]
        return result.text

    if suffix == ".jsonl":
        lines = []
        raw_lines = src.read_text(encoding="utf-8").splitlines()
        for record in read_records(src, field):
            obj = json.loads(raw_lines[record.line - 1])  # type: ignore[operator]
            if not isinstance(obj[field], str):
                found = type(obj[field]).__name__
                raise DataError(f"{src}:{record.line}: expected '{field}' to be a string, found {found}")
            patient = str(obj.get(patient_field) or obj.get("id") or record.line)
            obj[field] = one(record, patient)
            lines.append(json.dumps(obj, ensure_ascii=False))
        data = ("\n".join(lines) + "\n").encode("utf-8") if lines else b""
    elif suffix == ".csv":
        with src.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            fieldnames = list(reader.fieldnames or [])
            rows = list(reader)
        recs = list(read_records(src, field))
        buf = _io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fieldnames)
        writer.writeheader()
        for row, record in zip(rows, recs, strict=True):
            patient = str(row.get(patient_field) or row.get("id") or record.line)
            row[field] = one(record, patient)
            writer.writerow(row)
        data = buf.getvalue().encode("utf-8")
    else:
        (record,) = list(read_records(src, field))
        data = one(record, src.name).encode("utf-8")
    atomic_write_bytes(dst, data)
    scanner = deid.scanner
    manifest: dict[str, Any] = {
        "format": rec.DEID_FORMAT,
        "created_at": now_iso(),
        "input": {"path": str(src), "sha256": sha256_file(src)},
        "output": {"path": str(dst), "sha256": sha256_file(dst)},
        "field": field,
        "records": n_records,
        "method": {
            "default": deid.config.default,
            "operators": {t: deid.config.operator_for(t) for t in TYPES},
            "mask_char": deid.config.mask_char,
            "date_shift": {
                "max_days": deid.config.max_shift_days,
                "patient_field": patient_field,
                "key": "HMAC-SHA256(salt, patient id)",
            },
            "surrogates": "Faker en_US seeded with HMAC-SHA256(salt, type + original)",
            "salt_id": salt_id(deid.salt) if deid.salt else None,
        },
        "scanner_version": scanner_version(),
        "scanner_config_sha256": config_sha256(scanner),
        "replaced": dict(sorted(counts.items())),
        "inserted": inserted,
    }
    atomic_write_bytes(rec.deid_manifest_path(dst), (json.dumps(manifest, indent=1) + "\n").encode("utf-8"))
    # second scan of the output: only inserted surrogates may look like PHI
    _, record = scan_and_record(dst, scanner, field, None)
    rec.write_record(dst, record)
    manifest["rescan"] = {
        "counts": record["counts"],
        "total": record["total"],
        "status": record["status"],
        "surrogates_ignored": record["surrogates_ignored"],
    }
    atomic_write_bytes(rec.deid_manifest_path(dst), (json.dumps(manifest, indent=1) + "\n").encode("utf-8"))
    return manifest
