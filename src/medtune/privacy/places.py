"""Places below state level: "City, ST", "lives in City", well-known cities, counties and facilities.

Anchored on cheap signals (a comma before a state, a suffix word such as Hospital or County, a capitalised
word that starts a known city) and then checked against the US place dictionary. Street addresses and ZIP
codes have structure and live in patterns.py.
"""

from __future__ import annotations

import bisect
import re
from typing import Final

from medtune.privacy.dictionaries import Lexicon, fold
from medtune.privacy.exclusions import (
    ABBREVIATIONS,
    CLINICAL,
    COMMON_WORDS,
    DRUGS,
    EPONYM_FOLLOWERS,
    EPONYMS,
    NOT_A_NAME,
    words,
)
from medtune.privacy.patterns import STATE_RE
from medtune.privacy.tokens import (
    AMBIG,
    COMMON,
    FIRST,
    LAST,
    MEDICAL,
    TITLE,
    TOK_END,
    Tok,
    dot_then_blanks,
)

_STATE_AFTER_COMMA: Final = re.compile(
    rf",[ \t]*(?P<st>{STATE_RE})\b(?P<zip>\.?,?[ \t]+\d{{5}}(?:-\d{{4}})?\b)?"
)
_STATE_AFTER_COMMA_UPPER: Final = re.compile(_STATE_AFTER_COMMA.pattern, re.IGNORECASE)
_CONNECTOR_GAP: Final = re.compile(r"[ \t]+(?:of|for|and|&|the|de|la)[ \t]+\Z|[ \t]*&[ \t]*\Z", re.IGNORECASE)
_DEGREES: Final = frozenset(
    {"MD", "DO", "PA", "NP", "RN", "OR", "ME", "IN", "OK", "HI", "MS", "DE", "AL", "CO"}
)
_PLACE_CUES: Final = words(
    """
    lives living lived resides residing moved relocated born from in at near to visiting visited home
    town city hometown residence native outside transferred transfer flew drove returned back works
    working village of
    """
)

# Facility suffixes: (first word, the words that may follow it to complete the suffix)
_FACILITY: Final[dict[str, tuple[str, ...]]] = {
    "hospital": (),
    "clinic": (),
    "infirmary": (),
    "hospice": (),
    "healthcare": (),
    "pharmacy": (),
    "sanatorium": (),
    "sanitarium": (),
    "vamc": (),
    "manor": (),
    "laboratory": (),
    "laboratories": (),
    "university": (),
    "college": (),
    "academy": (),
    "school": (),
    "prison": (),
    "jail": (),
    "shelter": (),
    "medical": ("center", "centre", "ctr", "group", "associates", "clinic"),
    "med": ("ctr", "center"),
    "health": ("center", "system", "care", "services", "clinic", ""),
    "nursing": ("home", "facility", "center"),
    "rehabilitation": ("center", "hospital", "facility", "institute"),
    "rehab": ("center", "hospital", "facility"),
    "care": ("center",),
    "surgery": ("center",),
    "surgical": ("center",),
    "urgent": ("care",),
    "cancer": ("center", "institute"),
    "assisted": ("living",),
    "senior": ("living",),
    "retirement": ("home", "community"),
    "dialysis": ("center", "unit"),
    "family": ("practice", "medicine"),
    "convalescent": ("home",),
    "treatment": ("center",),
    "behavioral": ("health",),
    "psychiatric": ("center", "hospital"),
    "imaging": ("center",),
    "eye": ("institute",),
    "heart": ("institute",),
    "memorial": (),
    "veterans": ("home",),
    "correctional": ("facility",),
}
_GENERIC: Final = words(
    """
    the a an at to from of in general community regional university memorial medical county state city
    national children childrens women womens veterans central north south east west new saint st mount
    mt health care center hospital clinic family senior and for our your his her their this that
    """
)
_REGION: Final = frozenset({"county", "parish", "borough"})
_SUFFIX_WORDS: Final = _REGION | frozenset(_FACILITY)


def _word_gap(text: str, a: int, b: int) -> bool:
    """text[a:b] is one to three spaces or tabs, or a dot and up to two (written out instead of a regex on a
    slice; fuzzed against that regex in tests/test_phi_anchor_filters.py)."""
    return 1 <= b - a <= 3 and dot_then_blanks(text, a, b)


def _is_place_word(tok: Tok, ambiguous: frozenset[str] = frozenset()) -> bool:
    if tok.cls == TITLE or tok.key in ABBREVIATIONS:
        return False
    return tok.key not in CLINICAL or tok.key in _GENERIC or tok.key in _FACILITY or tok.key in ambiguous


def _walk_back(
    toks: list[Tok], i: int, text: str, limit: int, connectors: bool, ambiguous: frozenset[str] = frozenset()
) -> int:
    """Index of the first token of the capitalised phrase that ends with toks[i-1] (i if none)."""
    k = i
    while k > 0 and i - k < limit:
        prev, cur = toks[k - 1], toks[k] if k < len(toks) else None
        if cur is not None:
            end = prev.end + 2 if prev.possessive else prev.end
            if not (
                (cur.start == end + 1 and text[end] == " ")  # the usual gap, without a call
                or _word_gap(text, end, cur.start)
                or (connectors and _CONNECTOR_GAP.match(text[end : cur.start]) is not None)
            ):
                break
        if not _is_place_word(prev, ambiguous) and prev.key not in ("st", "saint", "mount", "mt"):
            break
        k -= 1
    return k


def _longest_city_suffix(words: list[str], lex: Lexicon) -> int:
    for n in range(min(len(words), lex.max_city_words), 0, -1):
        if fold(" ".join(words[-n:])) in lex.cities:
            return n
    return 0


def _longest_city_prefix(toks: list[Tok], i: int, text: str, lex: Lexicon) -> int:
    best = 0
    key = toks[i].key
    cities, counties = lex.cities, lex.counties
    for n in range(1, lex.max_city_words + 1):
        if n > 1:
            if i + n - 1 >= len(toks) or not _word_gap(text, toks[i + n - 2].end, toks[i + n - 1].start):
                break
            key = f"{key} {toks[i + n - 1].key}"
        if key in cities or key in counties:
            best = n
    return best


# Two-word cues after which a capitalised word is a place even when no US list knows it ("grew up in Oulu").
_STRONG_PLACE_CUES: Final = frozenset(
    f"{a} {b}"
    for a, bs in (
        ("lives", "in at near"),
        ("living", "in at near"),
        ("lived", "in at near"),
        ("resides", "in at"),
        ("residing", "in at"),
        ("up", "in"),
        ("born", "in"),
        ("moved", "to from"),
        ("originally", "from"),
        ("native", "of"),
        ("flew", "to from"),
        ("traveled", "to from"),
        ("travelled", "to from"),
        ("returned", "to from"),
        ("relocated", "to from"),
        ("immigrated", "from to"),
        ("emigrated", "from to"),
        ("trip", "to"),
        ("vacation", "in to"),
        ("visiting", "from"),
        ("based", "in"),
        ("raised", "in"),
        ("stays", "in"),
        ("staying", "in"),
        ("works", "in"),
        ("transferred", "from"),
        ("city", "of"),
        ("town", "of"),
    )
    for b in bs.split()
)
_STRONG_SECOND: Final = frozenset(c.split()[1] for c in _STRONG_PLACE_CUES)
_STRONG_LAST: Final = frozenset(w[-1] for w in _STRONG_SECOND)  # their last letters
_STRONG_NEXT_TO_LAST: Final = frozenset(w[-2] for w in _STRONG_SECOND)


def _prev_word(lower: str, pos: int, colon: bool = False) -> tuple[str, int] | None:
    """The word that ends right before `pos` (one blank between, optionally a colon) and where it starts."""
    if pos < 2 or (lower[pos - 1] != " " and lower[pos - 1] != "\t"):
        return None
    end = pos - 1
    while end > 0 and (lower[end - 1] == " " or lower[end - 1] == "\t"):
        end -= 1
    if colon and end > 0 and lower[end - 1] == ":":
        end -= 1
    start = end
    while start > 0:
        # str.isalpha() with no method call on ASCII (compiled, ord(s[i]) is a plain read of the character)
        c = ord(lower[start - 1])
        if not (97 <= c <= 122 or 65 <= c <= 90 if c < 128 else lower[start - 1].isalpha()):
            break
        start -= 1
    if start == end:
        return None
    return lower[start:end], start


_BIG_FIRST: Final[dict[int, frozenset[str]]] = {}


def _big_first_words(lex: Lexicon) -> frozenset[str]:
    cached = _BIG_FIRST.get(id(lex))
    if cached is None:
        cached = _BIG_FIRST[id(lex)] = frozenset(c.split()[0] for c in lex.big_cities)
    return cached


def find_places(
    text: str, toks: list[Tok], lex: Lexicon, upper: bool, lower: str | None = None
) -> list[tuple[int, int, float]]:
    """LOCATION spans (start, end, score); `lower` is the text lower-cased with the same offsets, if the
    caller has it already."""
    out: list[tuple[int, int, float]] = []
    if not toks:
        return out  # every rule below starts from a capitalised word
    # "City, ST [ZIP]"
    regex = _STATE_AFTER_COMMA_UPPER if upper else _STATE_AFTER_COMMA
    for m in regex.finditer(text) if "," in text else ():
        st = m.group("st")
        if len(st) == 2 and st.upper() not in lex.state_abbr:
            continue
        if len(st) == 2 and not st.isupper():
            continue
        i = bisect.bisect_right(toks, m.start(), key=TOK_END) - 1  # (token ends are sorted)
        if i < 0 or toks[i].end != m.start():
            continue
        first = _walk_back(toks, i, text, 3, connectors=False)
        words = [t.word for t in toks[first : i + 1]]
        has_zip = m.group("zip") is not None
        if not has_zip and all(t.cls == MEDICAL for t in toks[first : i + 1]):
            continue
        n = _longest_city_suffix(words, lex)
        last_key = toks[i].key
        if n == 0:
            if not has_zip and (st.upper() in _DEGREES or last_key in lex.first or last_key in lex.last):
                continue
            n = len(words) if (has_zip or len(st) > 2) else 1
            while n > 1 and (
                toks[i - n + 1].key in NOT_A_NAME
                or toks[i - n + 1].key in COMMON_WORDS
                or (toks[i - n + 1].cls in (FIRST, LAST) and n > 2)
            ):
                n -= 1
        elif not has_zip and st.upper() in _DEGREES and (last_key in lex.first or last_key in lex.last):
            continue
        start = toks[i - n + 1].start
        score = 0.95 if has_zip else (0.85 if len(st) > 2 or n > 1 or last_key in lex.big_cities else 0.75)
        out.append((start, toks[i].end, score))
    # One pass over the capitalised words; each rule below looks only at words that can start or end it
    # (facility and county suffixes and first words of cities: one dictionary look-up per word).
    if lower is None:
        lower = text.lower()
    big_first = _big_first_words(lex)
    roles = _place_roles(lex)
    for i, tok in enumerate(toks):
        role = roles.get(tok.key)
        if role is not None:
            if role & _SUFFIX_ROLE:
                _facility_or_county(toks, i, text, lex, upper, out)
            if role & _CITY_ROLE and tok.cls != TITLE:
                _city(toks, i, text, lower, lex, upper, big_first, out)
        start = tok.start
        # A strong cue's second word ("in", "from") and one blank right before: the two characters before the
        # blank must be letters those words end with (_after_strong_cue checks the words themselves). Single
        # characters: no string is built, and each one's hash is cached.
        if (
            start > 2
            and lower[start - 1] in " \t"
            and lower[start - 2] in _STRONG_LAST
            and lower[start - 3] in _STRONG_NEXT_TO_LAST
        ):
            _after_strong_cue(toks, i, text, lower, out)
    return out


_SUFFIX_ROLE: Final = 1
_CITY_ROLE: Final = 2
# id(lexicon) -> (that lexicon, its roles); holding the lexicon keeps its id from being reused
_ROLES: Final[dict[int, tuple[Lexicon, dict[str, int]]]] = {}


def _place_roles(lex: Lexicon) -> dict[str, int]:
    """Word -> what it can be in a place name: a facility or county suffix, the first word of a city, both."""
    cached = _ROLES.get(id(lex))
    if cached is None or cached[0] is not lex:
        roles = {w: _CITY_ROLE for w in lex.city_first_words}
        for w in _SUFFIX_WORDS:
            roles[w] = roles.get(w, 0) | _SUFFIX_ROLE
        cached = _ROLES[id(lex)] = (lex, roles)
    return cached[1]


def _facility_or_county(
    toks: list[Tok], i: int, text: str, lex: Lexicon, upper: bool, out: list[tuple[int, int, float]]
) -> None:
    """Facilities and counties, anchored on their suffix word ("Mercy General Hospital", "Essex County")."""
    tok = toks[i]
    key = tok.key
    if key in _REGION:
        first = _walk_back(toks, i, text, 3, connectors=False)
        words = [t.key for t in toks[first:i]]
        n = next((n for n in range(len(words), 0, -1) if " ".join(words[-n:]) in lex.counties), 0)
        if n == 0 and words and (not upper or toks[i - 1].cls in (FIRST, LAST, AMBIG)):
            n = 1  # an unknown county: the word right before "County"
        if n and any(t.key not in CLINICAL and t.cls != COMMON for t in toks[i - n : i]):
            out.append((toks[i - n].start, tok.end, 0.9))
        return
    follow = _FACILITY[key]
    last = i
    if follow:
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if nxt is not None and nxt.key in follow and _word_gap(text, tok.end, nxt.start):
            last = i + 1
        elif "" not in follow:
            return
    first = _walk_back(toks, i, text, 5, connectors=True, ambiguous=lex.ambiguous)
    specific = [
        t
        for k, t in enumerate(toks[first:i], first)
        if t.key in lex.ambiguous
        or (t.key not in _GENERIC and t.key not in CLINICAL)
        or (k > first and toks[k - 1].key in ("st", "saint", "mount", "mt"))
    ]
    if not specific:
        return
    while first < i and toks[first].key in _GENERIC and toks[first].key not in ("st", "saint", "mount", "mt"):
        first += 1
    out.append((toks[first].start, toks[last].end, 0.9))


def _after_strong_cue(
    toks: list[Tok], i: int, text: str, lower: str, out: list[tuple[int, int, float]]
) -> None:
    """ "grew up in Oulu": a strong place cue makes any capitalised, non-medical word a place."""
    tok = toks[i]
    prev = _prev_word(lower, tok.start)
    if prev is None or prev[0] not in _STRONG_SECOND:
        return
    before = _prev_word(lower, prev[1])
    if before is None or f"{before[0]} {prev[0]}" not in _STRONG_PLACE_CUES:
        return
    if tok.cls == TITLE or tok.key in CLINICAL or tok.key in ABBREVIATIONS or tok.key in COMMON_WORDS:
        return
    if tok.cls == MEDICAL and (tok.key in EPONYMS or tok.key in DRUGS):
        return
    j = i + 1
    while j < len(toks) and j - i < 3 and _word_gap(text, toks[j - 1].end, toks[j].start):
        if toks[j].key in CLINICAL or toks[j].key in ABBREVIATIONS or toks[j].key in COMMON_WORDS:
            break
        j += 1
    out.append((tok.start, toks[j - 1].end, 0.75))


def _city(
    toks: list[Tok],
    i: int,
    text: str,
    lower: str,
    lex: Lexicon,
    upper: bool,
    big_first: frozenset[str],
    out: list[tuple[int, int, float]],
) -> None:
    """ "lives in City", "from City", and well-known cities on their own (mixed-case text)."""
    tok = toks[i]
    prev = _prev_word(lower, tok.start, colon=True)
    cue = prev is not None and prev[0] in _PLACE_CUES
    if not cue and (upper or tok.key not in big_first or tok.cls == MEDICAL):
        return
    n = _longest_city_prefix(toks, i, text, lex)
    if n == 0:
        return
    phrase = " ".join([t.key for t in toks[i : i + n]])
    if n == 1 and phrase in lex.states:
        return
    if tok.cls == MEDICAL and (not cue or EPONYM_FOLLOWERS.match(text, tok.end)):
        return
    known_name = tok.cls in (FIRST, LAST)
    if cue:
        out.append((tok.start, toks[i + n - 1].end, 0.6 if known_name and n == 1 else 0.8))
    elif phrase in lex.big_cities and not (known_name and n == 1):
        out.append((tok.start, toks[i + n - 1].end, 0.6))
