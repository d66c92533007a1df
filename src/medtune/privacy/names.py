"""Person names: titles, context cues, dictionary first/last names, "LAST, FIRST", initials and signatures.

Decisions per run of capitalised tokens:
- after a title (Dr., Mrs.) or a strong cue ("Patient:", "signed by", "Dear", a signature dash) the run is a
  name even if no dictionary knows it;
- after a weak cue ("wife", "spoke with", "per") it is a name if a token is a known name or, in mixed-case
  text, an unknown capitalised word mid-sentence;
- otherwise it is a name when it holds a dictionary first or last name that is not a medical or common word.
Upper-case text (ICU notes) gives no capitalisation signal, so there only dictionary names and cues count.
"""

from __future__ import annotations

import bisect
import re
from typing import Final

from medtune.privacy.dictionaries import Lexicon, fold
from medtune.privacy.exclusions import ABBREVIATIONS, CLINICAL, DRUGS, EPONYMS, NOT_A_NAME, words
from medtune.privacy.tokens import (
    AMBIG,
    COMMON,
    FIRST,
    INITIAL,
    LAST,
    MEDICAL,
    NAME_LIKE,
    TITLE,
    TOK_END,
    UNKNOWN,
    Tok,
    dot_then_blanks,
)

_PARTICLE_GAP: Final = re.compile(
    r"[ \t]+(?:van|von|der|den|de|del|della|di|da|du|la|le|bin|ben|ibn|al|el|dos|das)[ \t]+\Z"
)
_LABELS: Final = words(
    """
    name patient pt to from attn attention re cc attending resident intern fellow physician surgeon
    provider pcp doctor md nurse rn lpn np pa cna contact nok guarantor subscriber insured informant
    author signed signature cosigner caregiver guardian poa hcp proxy mother father spouse wife husband
    son daughter referring physician by owner driver employer parent sibling relative witness
    interpreter translator caller member client customer recipient sender tech technologist therapist
    pharmacist dentist counselor
    """
)
_STRONG_BIGRAMS: Final = frozenset(
    f"{a} {b}"
    for a in [
        "signed",
        "seen",
        "dictated",
        "transcribed",
        "reviewed",
        "verified",
        "authenticated",
        "entered",
        "performed",
        "examined",
        "evaluated",
        "interpreted",
        "read",
        "accompanied",
        "referred",
        "cosigned",
        "approved",
        "attested",
        "witnessed",
        "prepared",
        "written",
        "documented",
        "completed",
        "discussed",
        "staffed",
        "supervised",
        "reported",
        "covered",
        "called",
        "paged",
        "routed",
        "forwarded",
        "sent",
    ]
    for b in ("by", "with", "to")
)
_STRONG_WORDS: Final = frozenset(
    ["dear", "sincerely", "regards", "respectfully", "thanks", "cordially", "hi", "hello"]
)
# "my name is X", "I'm X", "named X", "call me X": a self-introduction or naming phrase right before.
_NAMING_BIGRAMS: Final = frozenset(
    ["name is", "i'm", "i am", "named", "me", "calls me", "call me", "known as"]
)
_WEAK_WORDS: Final = words(
    """
    patient pt son daughter wife husband mother father mom dad brother sister granddaughter grandson
    grandmother grandfather niece nephew aunt uncle cousin friend neighbor neighbour roommate boyfriend
    girlfriend fiance fiancee partner spouse caregiver guardian colleague coworker with per called paged
    notified informed told asked thanked d/w s/w and for of named nee née aka alias w/
    """
)
_KIN_WORDS: Final = words(
    """
    son daughter wife husband mother father mom dad brother sister granddaughter grandson grandmother
    grandfather niece nephew aunt uncle cousin spouse partner fiance fiancee boyfriend girlfriend
    caregiver guardian
    """
)
_SIGNATURE_LINE: Final = frozenset({"--", "-", "—", "/s/", "---", "----", "e-signed", "esigned", "x"})


_STRIP: Final = ",.;:()[]\"'=-"


def _cue(text: str, start: int) -> int:
    """2: a strong name cue ends right before `start`; 3: a kinship word; 1: a weak one; 0: none."""
    lo = max(0, start - 40)
    # This runs for every run of capitalised words, and nearly always the word before is no cue: look at that
    # word alone first (rsplit ignores trailing blanks, and with maxsplit=1 builds one string fewer).
    parts = text[lo:start].rsplit(None, 1)
    if not parts:
        return 0  # nothing but blanks before
    last = parts[-1].strip(_STRIP).lower()
    if last and last not in _CUE_OR_SIGNATURE_LAST:
        return 0  # the common case: the word before is no cue word nor a signature mark
    if last in _SIGNATURE_LAST:
        # A signature mark alone on its line (that line is then the word `last` came from, so only a word
        # that strips to a mark's stripped form can be one).
        line = text[text.rfind("\n", lo, start) + 1 or lo : start].strip()
        if len(line) <= _LONGEST_SIGNATURE_LINE and line.lower() in _SIGNATURE_LINE:
            return 2
        if last and last not in _CUE_LAST_WORDS:
            return 0
    seg = text[lo:start].rstrip()
    parts = seg.rsplit(None, 2)
    colon = seg[-1] in ":=" or seg.endswith(" -")
    prev = parts[-2].strip(_STRIP).lower() if len(parts) > 1 else ""
    if not last and prev:  # "Patient :" / "by -"
        last, prev = prev, (parts[-3].strip(_STRIP).lower() if len(parts) > 2 else "")
    bigram = f"{prev} {last}"
    if colon:
        return 2 if last in _LABELS or bigram in _STRONG_BIGRAMS else 0
    if bigram in _STRONG_BIGRAMS or last in _STRONG_WORDS:
        return 2
    if bigram in _NAMING_BIGRAMS or last == "named" or (prev, last) == ("i", "am"):
        return 2
    if last in _WEAK_WORDS and seg[-1] not in ".;":
        return 3 if last in _KIN_WORDS else 1
    return 0


# Every word that can end a cue: anything else before a name ends _cue early.
_CUE_LAST_WORDS: Final = (
    _LABELS
    | _STRONG_WORDS
    | _WEAK_WORDS
    | {b.split()[-1] for b in _STRONG_BIGRAMS | _NAMING_BIGRAMS}
    | {"named", "am"}
)
_LONGEST_SIGNATURE_LINE: Final = max(len(s) for s in _SIGNATURE_LINE)
# What `_cue` reads as the last word when the line before is a signature mark (each mark is one word).
_SIGNATURE_LAST: Final = frozenset(s.strip(_STRIP) for s in _SIGNATURE_LINE)
_CUE_OR_SIGNATURE_LAST: Final = _CUE_LAST_WORDS | _SIGNATURE_LAST


_SENTENCE_START: Final = re.compile(r"(?:^|[.!?:;]\s*|\n\s*|[-•*]\s*)\Z")
_COMMA_NAME: Final = re.compile(r",[ \t]*([A-Z][A-Za-z'’-]+)(?:[ \t]+([A-Z]\.?)(?!\w))?")
_INITIALS_VALUE: Final = re.compile(
    r"[ \t]*(?:by\b)?[ \t]*:?[ \t]*(?P<v>[A-Z]\.?[ ]?[A-Z]\.?(?:[ ]?[A-Z]\.?)?)(?=[\s,;)]|$)"
)
_SIGNED_WORDS: Final = ("initials", "initialed", "cosigned", "e-signed", "signed")
_INITIALS_DOTTED: Final = re.compile(r"[A-Z]\.[ ]?[A-Z]\.(?:[ ]?[A-Z]\.)?(?![\w])")
# A necessary part of it that starts with a literal, which the regex engine finds far faster than a capital.
_DOT_CAPITAL_DOT: Final = re.compile(r"\.[ ]?[A-Z]\.")
_NOT_INITIALS: Final = words(
    """
    US AM PM DC NY LA UK EG IE AD BC BID TID QID PO IV DOB NPO OD OS OU MD DO RN PA NP ER ED ICU QHS PRN
    HS SL IM SC SQ GI GU OR PT OT ST DR MR MS VS BP HR RR JR SR II OK NA CC RE PS
    """
)


_CREDENTIALS: Final = frozenset(
    ["RN", "MD", "NP", "PA", "DO", "LPN", "CNA", "PHD", "RPH", "PT", "OT", "DDS", "DPM"]
)


def _initials_key(text: str) -> str:
    return "".join(c for c in text if c.isalpha()).upper()


def _gap_ok(text: str, a: int, b: int) -> bool:
    """text[a:b] is a dot, or an optional dot then one to three spaces or tabs (written out instead of a
    regex on a slice; fuzzed against that regex in tests/test_phi_anchor_filters.py)."""
    n = b - a
    if n == 1:
        c = text[a]
        return c == " " or c == "\t" or c == "."
    if n < 2 or n > 4 or (n == 4 and text[a] != "."):
        return False
    return dot_then_blanks(text, a, b)


def _name_like(tok: Tok) -> bool:
    return tok.cls in NAME_LIKE


def _known(tok: Tok) -> bool:
    return tok.cls in (FIRST, LAST)


def _after_title_ok(tok: Tok, ambiguous: frozenset[str] = frozenset()) -> bool:
    return tok.cls in NAME_LIKE or (
        tok.cls in (MEDICAL, COMMON) and (tok.key in EPONYMS or tok.key in DRUGS or tok.key in ambiguous)
    )


_EPONYMS_DRUGS: Final = EPONYMS | DRUGS


def _runs(toks: list[Tok], text: str, upper: bool, ambiguous: frozenset[str]) -> list[tuple[int, int]]:
    """Index ranges [i, j) of consecutive capitalised name-like tokens joined by short gaps on one line."""
    runs: list[tuple[int, int]] = []
    i, n = 0, len(toks)
    while i < n:
        tok = toks[i]
        cls = tok.cls
        # _after_title_ok(tok), or with `ambiguous` after a title; inlined: this runs for every token (a class
        # outside NAME_LIKE is TITLE, MEDICAL or COMMON)
        if cls not in NAME_LIKE and (
            cls == TITLE
            or (
                tok.key not in _EPONYMS_DRUGS
                and not (i and toks[i - 1].cls == TITLE and tok.key in ambiguous)
            )
        ):
            i += 1
            continue
        j = i + 1
        while j < n and not toks[j - 1].possessive:
            tok = toks[j]
            if tok.cls not in NAME_LIKE:
                break
            end = toks[j - 1].end
            if not (
                (tok.start == end + 1 and text[end] == " ")  # the usual gap, without a call
                or _gap_ok(text, end, tok.start)
                or (not upper and _PARTICLE_GAP.match(text[end : tok.start]) is not None)
            ):
                break
            j += 1
        runs.append((i, j))
        i = j
    return runs


def _span(toks: list[Tok], i: int, j: int, score: float) -> tuple[int, int, float]:
    return toks[i].start, toks[j - 1].end, score


def find_names(
    text: str, toks: list[Tok], lex: Lexicon, upper: bool, lower: str | None = None
) -> list[tuple[int, int, float]]:
    """NAME spans (start, end, score); `lower` is the text lower-cased with the same offsets, if the caller
    has it already."""
    out: list[tuple[int, int, float]] = []
    for i, j in _runs(toks, text, upper, lex.ambiguous):
        first = toks[i]
        prev = toks[i - 1] if i > 0 else None
        titled = prev is not None and prev.cls == TITLE and _gap_ok(text, prev.end, first.start)
        cue = 2 if titled else _cue(text, first.start)
        strong = cue == 2
        weak = cue in (1, 3)
        if titled and not _name_like(first):
            if first.key in lex.ambiguous or first.key in EPONYMS or first.key in DRUGS:
                k = 1
                while i + k < j and k < 3 and toks[i + k].cls in (FIRST, LAST, UNKNOWN, AMBIG, INITIAL):
                    k += 1
                out.append(_span(toks, i, i + k, 0.95))  # Dr. Ward, Dr. Foley
                continue
            strong, cue = False, 0
        if strong:
            run = toks[i:j]
            k = _accept_cued(run, upper)
            if k:
                out.append(_span(toks, i, i + k, 0.95 if titled else 0.9))
                if k < len(run):
                    out.extend(_uncued(toks, i + k, j, text, upper))
                continue
        if weak:
            run = toks[i:j]
            k = _accept_cued(run, upper, kin=cue == 3)
            unknown_start = run[0].cls == UNKNOWN or (
                run[0].cls == INITIAL and len(run) > 1 and run[1].cls == UNKNOWN
            )
            if k and (any(_known(t) for t in run[:k]) or (unknown_start and (not upper or cue == 3))):
                out.append(_span(toks, i, i + k, 0.75))
                if k < len(run):
                    out.extend(_uncued(toks, i + k, j, text, upper))
                continue
        out.extend(_uncued(toks, i, j, text, upper))
    out.extend(_last_first(text, toks, lex, upper))
    out.extend(_initials(text, text.lower() if lower is None else lower))
    return out


def _title_shaped(word: str) -> bool:
    for p in word.split("-"):
        if not (p[:1].isupper() and (len(p) == 1 or p[1:2].islower() or p[1:2] in "'’")):
            return False
    return True


def _accept_cued(run: list[Tok], upper: bool, kin: bool = False) -> int:
    """How many tokens of a cued run form the name."""
    if not run or not _after_title_ok(run[0]) or (run[0].cls == INITIAL and len(run) == 1):
        return 0 if not run or run[0].cls != INITIAL else 1
    if not upper:
        k = 1
        while k < len(run) and k < 4 and run[k].cls != MEDICAL:
            k += 1
        return k
    k = 1
    while k < len(run) and k < 4:
        tok = run[k]
        if tok.cls in (FIRST, LAST, INITIAL) or (
            tok.cls in (UNKNOWN, AMBIG) and k == 1 and (run[0].cls in (FIRST, INITIAL, UNKNOWN, LAST) or kin)
        ):
            k += 1
        else:
            break
    return k


def _uncued(toks: list[Tok], i: int, j: int, text: str, upper: bool) -> list[tuple[int, int, float]]:
    out: list[tuple[int, int, float]] = []
    for k in range(i, j):
        if _known(toks[k]):
            break
    else:
        return out  # every rule below keeps only spans around a known name (most runs hold none)
    if upper:
        k = i
        while k < j:
            if not _known(toks[k]):
                k += 1
                continue
            m = k + 1
            while m < j and m - k < 4:
                tok = toks[m]
                if (
                    tok.cls in (FIRST, LAST)
                    or (tok.cls == INITIAL and m + 1 < j and _known(toks[m + 1]))
                    or (tok.cls == AMBIG and toks[m - 1].cls == FIRST)
                ):
                    m += 1
                else:
                    break
            if m - k >= 2 or len(toks[k].word) >= 3:
                out.append(_span(toks, k, m, 0.85 if m - k >= 2 else 0.6))
            k = m
        return out
    # mixed case: trim a capitalised sentence opener that is not a known name
    while (
        i < j
        and toks[i].cls in (UNKNOWN, AMBIG)
        and _SENTENCE_START.search(text[max(0, toks[i].start - 3) : toks[i].start])
    ):
        if i + 1 < j and _known(toks[i + 1]):
            i += 1
            continue
        break
    # (the trim stops at a known name, so the run still holds one)
    if j - i > 4:  # a long capitalised heading: keep windows around known names
        k = i
        while k < j:
            if _known(toks[k]):
                m = min(j, k + 3)
                out.append(_span(toks, k, m, 0.7))
                k = m
            else:
                k += 1
        return out
    score = 0.85 if j - i >= 2 else 0.7
    if j - i == 1 and (toks[i].cls == INITIAL or _ordinary_opener(toks[i], text)):
        return out
    out.append(_span(toks, i, j, score))
    return out


_AFTER_LABEL: Final = re.compile(r":[ \t]*\Z")
_LABEL_WORD: Final = re.compile(r"([A-Za-z]+)[ \t]*:[ \t]*\Z")


def _ordinary_opener(tok: Tok, text: str) -> bool:
    """A lone dictionary name that opens a sentence with nothing else saying it is a name, used as an
    everyday word: the value after a "Label:" that names no person ("Neck: Supple", "Extremities: Trace
    edema"), or a word the same text also writes in lower case ("Grant approved. ... the grant ...").
    A comma after it says nothing ("Hence, she ..." but "Leif, can I ..."), and neither does a colon
    ("Nicole: Remember me" in a dialogue)."""
    before = text[max(0, tok.start - 3) : tok.start]
    if not _SENTENCE_START.search(before):
        return False
    if _AFTER_LABEL.search(before):
        label = _LABEL_WORD.search(text, max(0, tok.start - 40), tok.start)
        # An exam or section heading ("Neck:", "Extremities:", "Plan:") is followed by findings; after any
        # other label ("Where:", "User:", "They had 6:") a name is as likely as not.
        return label is not None and label.group(1).lower() in CLINICAL
    return _has_word(text, tok.word.lower())


def _letter(c: str) -> bool:
    """`c` is in the regex class [^\\W\\d_]: a letter, or a numeric character that is no decimal digit."""
    return c.isalnum() and not c.isdecimal()


def _has_word(text: str, word: str) -> bool:
    """Whether `word` occurs in `text` (case as given) with no letter right before or after it. A literal
    find per occurrence: a regex built per word would be compiled (or fetched from re's cache) per call."""
    n, size = len(word), len(text)
    i = text.find(word)
    while i >= 0:
        if (i == 0 or not _letter(text[i - 1])) and (i + n == size or not _letter(text[i + n])):
            return True
        i = text.find(word, i + 1)
    return False


def _last_first(text: str, toks: list[Tok], lex: Lexicon, upper: bool) -> list[tuple[int, int, float]]:
    """ "SMITH, JOHN", "Smith, John A." — known names, or any two name-like words after a name cue.
    Anchored on the comma: the surname is the token that ends right before it."""
    out: list[tuple[int, int, float]] = []
    if "," not in text:
        return out
    first_names, last_names, ambiguous, common = lex.first, lex.last, lex.ambiguous, lex.common
    states = lex.states
    for m in _COMMA_NAME.finditer(text):
        # Token ends are sorted (bisect on them with a key: no list of them built per text); a possessive
        # token never ends at a comma (its 's follows).
        pos = m.start()
        i = bisect.bisect_left(toks, pos, key=TOK_END)
        if i == len(toks) or toks[i].end != pos:
            continue
        tok = toks[i]
        last, first = tok.word, m.group(1)
        if not last[:1].isupper() or "." in last:
            continue
        kl = tok.key
        kf = first.lower() if first.isascii() else fold(first)  # fold() is lower() on ASCII
        if kl in NOT_A_NAME or kf in NOT_A_NAME or kl in states or kf in states:
            continue
        if len(first) == 2 and first.upper() in lex.state_abbr:
            continue
        known = (kf in first_names) + (kl in last_names or kl in first_names or kl in ambiguous)
        weak = known == 0 or (upper and known == 1 and kf not in first_names)
        if weak and (not _cue(text, tok.start) or kl in common or kf in common):
            continue
        shaped = upper or (_title_shaped(last) and _title_shaped(first))
        if not shaped and not (last.isupper() and first.isupper() and _cue(text, tok.start)):
            continue
        out.append((tok.start, m.end(), 0.9))
    return out


def _signature_points(text: str, low: str) -> list[tuple[int, bool]]:
    """Positions right after a signature mark ("--", "/s/", a dash opening a line, "signed:", "initials"),
    and whether the mark was a dash or /s/ (then even "CC" or "BP" are someone's initials)."""
    points: list[tuple[int, bool]] = []
    # (an ASCII text has no em dash: one scan of the text fewer)
    for mark in ("--", "/s/") if text.isascii() else ("--", "—", "/s/"):
        i = text.find(mark)
        while i >= 0:
            j = i + len(mark)
            while mark == "--" and j < len(text) and text[j] == "-":
                j += 1
            points.append((j, True))
            i = text.find(mark, j)
    i = text.find("\n-")
    while i >= 0:
        points.append((i + 2, True))
        i = text.find("\n-", i + 2)
    if text.startswith("-"):
        points.append((1, True))
    if "signed" not in low and "initial" not in low:
        return points  # every word of _SIGNED_WORDS contains one of the two
    for word in _SIGNED_WORDS:
        i = low.find(word)
        while i >= 0:
            end = i + len(word)
            if (i == 0 or not low[i - 1].isalpha()) and (end >= len(low) or not low[end].isalpha()):
                points.append((end, False))
            i = low.find(word, end)
    return points


def _initials(text: str, low: str) -> list[tuple[int, int, float]]:
    out: list[tuple[int, int, float]] = []
    for pos, dashed in _signature_points(text, low):
        m = _INITIALS_VALUE.match(text, pos)
        if m is None:
            continue
        value = m.group("v")
        key = _initials_key(value)
        if key in _CREDENTIALS or (not dashed and (key in _NOT_INITIALS or key.lower() in ABBREVIATIONS)):
            continue
        start = m.start("v")
        out.append((start, start + len(value.rstrip()), 0.8))
    for m in _INITIALS_DOTTED.finditer(text) if _DOT_CAPITAL_DOT.search(text) else ():
        if m.start() and (text[m.start() - 1].isalnum() or text[m.start() - 1] in "._"):
            continue
        key = _initials_key(m.group())
        if key in _NOT_INITIALS or key.lower() in ABBREVIATIONS:
            continue
        out.append((m.start(), m.end(), 0.55))
    return out
