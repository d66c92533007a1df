"""The span a recognizer reports, the identifier types, and the rule that makes spans non-overlapping."""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass
from typing import Any

# HIPAA Safe Harbor identifiers that can appear in free text, as medtune names them.
TYPES: tuple[str, ...] = (
    "NAME",  # patients, relatives, clinicians, initials
    "DATE",  # every element of a date except the year
    "AGE",  # ages over 89
    "PHONE",
    "FAX",
    "EMAIL",
    "SSN",
    "MRN",  # medical record numbers
    "HEALTH_PLAN",  # health-plan beneficiary / member numbers
    "ACCOUNT",  # account, claim, billing, card numbers
    "LICENSE",  # certificate and licence numbers (DEA, NPI, state licence, driver's licence)
    "VEHICLE",  # VINs, plates
    "DEVICE",  # device identifiers and serial numbers
    "URL",
    "IP",
    "ADDRESS",  # street address, PO box, unit
    "ZIP",
    "LOCATION",  # city, county, facility (hospital, clinic, nursing home)
    "ID",  # any other unique identifying number or code
)

# Which type wins when two recognizers claim overlapping text with the same score: the more specific one.
TYPE_PRIORITY: dict[str, int] = {t: i for i, t in enumerate(reversed(TYPES))} | {
    "SSN": 40,
    "EMAIL": 39,
    "URL": 38,
    "IP": 37,
    "FAX": 36,
    "PHONE": 35,
    "MRN": 34,
    "HEALTH_PLAN": 33,
    "ACCOUNT": 32,
    "LICENSE": 31,
    "VEHICLE": 30,
    "DEVICE": 29,
    "ADDRESS": 28,
    "DATE": 27,
    "AGE": 26,
    "ZIP": 25,
    "NAME": 24,
    "LOCATION": 23,
    "ID": 10,
}


@dataclass(frozen=True, order=True)
class PhiSpan:
    """One identifier: character offsets into the original text (end exclusive), its type, text and score."""

    start: int
    end: int
    type: str
    text: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def new_span(start: int, end: int, type_: str, text: str, score: float) -> PhiSpan:
    """PhiSpan(start, end, type_, text, score), built without the frozen dataclass's __init__ (one
    object.__setattr__ call per field): the scanner makes one per finding."""
    span = object.__new__(PhiSpan)
    span.__dict__.update(start=start, end=end, type=type_, text=text, score=score)
    return span


def resolve_overlaps(spans: list[PhiSpan]) -> list[PhiSpan]:
    """Sorted, non-overlapping spans: of two that overlap, keep the higher score, then the more specific type,
    then the longer one. Greedy over candidates ranked best first."""
    kept = resolve_tuples([(s.start, s.end, s.type, s.score) for s in spans])
    by_key = {(s.start, s.end, s.type, s.score): s for s in spans}
    return [by_key[k] for k in kept]


def resolve_tuples(spans: list[tuple[int, int, str, float]]) -> list[tuple[int, int, str, float]]:
    """resolve_overlaps on (start, end, type, score) tuples, sorted by start."""
    if len(spans) < 2:
        return list(spans)
    priority = TYPE_PRIORITY.get
    # Best first: higher score, then more specific type, then longer, then earlier. The rank is decorated
    # onto each span (a plain tuple sort, no key function called per span); equal ranks are equal spans.
    ranked = sorted({(-sc, -priority(t, 0), s - e, s, e, t, sc) for s, e, t, sc in spans})
    starts: list[int] = []  # taken intervals, sorted and disjoint
    ends: list[int] = []
    taken = []
    bisect_left = bisect.bisect_left
    for _, _, _, start, end, type_, score in ranked:
        i = bisect_left(ends, start + 1)  # first taken interval ending after span start
        if i < len(starts) and starts[i] < end:
            continue
        starts.insert(i, start)
        ends.insert(i, end)
        taken.append((start, end, type_, score))
    taken.sort()
    return taken
