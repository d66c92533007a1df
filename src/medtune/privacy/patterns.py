"""Regular-expression recognizers for structured identifiers, with context words where the value alone is
ambiguous ("MRN 0045-221", "member ID W123456789", "fax (617) 555-0199").

A recognizer's `v` group, when present, is the identifier (the context words around it are not). Validators
reject look-alikes (Luhn for card numbers, the DEA check digit, real calendar dates). Everything compiles at
import, once per process.

How a scan stays fast (`run`): few Python steps per candidate, and no rule scans text where it cannot match.
- one pass finds every *digit token* (letters and digits joined by - . / :); the numeric rules that must
  match a whole token (dates, SSNs, IPs, VINs, long codes) are chosen by the token's shape (one to four
  fit) and matched whole against that short string;
- context-word identifiers are found value-first: a digit token, then a dictionary look-up of the words
  right before it (`_CTX_PHRASES`);
- the rules anchored at a number (phones, ages, street addresses, ZIPs after a state ...) are tried with
  one `match` per digit-token start of a combined regex (`_Combined`: each rule an optional capturing
  lookahead, so one C-level call reports every rule that matches there), holding only the rules that can
  start with the token's leading digit run (`_LEADING_RUN`: an age is 9x or 1xx, an SSN starts with 3);
- what the token rules make of a token value is cached per value (`_value_cache`: HER2, V600E, 110/60
  repeat across notes);
- rules that need a word ("plate", "zip", a month name, "http") run only at those words: one pass finds every
  trigger word of every rule (`_trigger_positions`), and each rule is matched there (or in a window
  around it), never across the whole text;
- e-mails and domains are grown from "@" and a top-level domain;
- case-insensitive rules run case-sensitively on a lower-cased copy of the text (same offsets).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from faker.providers.address.en_US import Provider as _UsAddress

from medtune.privacy.dictionaries import fold, lexicon
from medtune.privacy.exclusions import ABBREVIATIONS, CLINICAL, words


def _trie_pattern(words: frozenset[str]) -> str:
    """A regex alternation of `words` factored by common prefixes: the engine tries one branch per letter
    instead of every word at every position (about 3x faster than a flat alternation here)."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for c in word:
            node = node.setdefault(c, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(c) + build(sub) for c, sub in sorted(node.items()) if c]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


# ------------------------------------------------------------------------------------------- fragments
# Lower-case fragments: they run on the lower-cased text.
_SEP = r"[ \t]*(?:(?:no|num|number|nbr|#|id)\b\.?[ \t]*)?(?:[:#=]|\bis\b)?[ \t]*#?[ \t]*"

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_MONTH_FULL = r"(?:January|February|March|April|June|July|August|September|October|November|December)"
_ORD = r"(?:st|nd|rd|th)"
# One prefix-factored alternation of state names and USPS abbreviations (tried after every comma).
_STATES = (
    frozenset(_UsAddress.states)
    | set(getattr(_UsAddress, "known_usps_abbr", _UsAddress.states_abbr))
    | {"DC", "PR", "GU", "VI"}
)
STATE_RE = "(?:" + _trie_pattern(_STATES) + ")"

# USPS street suffixes as Faker's en_US address provider lists them, plus their usual abbreviations.
_SUFFIX_ABBR = [
    "st",
    "ave",
    "av",
    "rd",
    "blvd",
    "dr",
    "ln",
    "ct",
    "pl",
    "ter",
    "cir",
    "hwy",
    "pkwy",
    "sq",
    "trl",
    "rte",
    "plz",
    "aly",
    "xing",
    "rdg",
    "hts",
    "tpke",
    "expy",
    "fwy",
    "cres",
    "gdns",
    "ctr",
    "jct",
    "crk",
    "hbr",
    "cv",
    "pt",
    "mtn",
]
_STREET_SUFFIX = (
    "(?:"
    + _trie_pattern(frozenset({w.lower() for w in _UsAddress.street_suffixes} | set(_SUFFIX_ABBR)))
    + ")"
)
# Words that never start a street name ("2 tabs by mouth", "5 days ago").
_STREET_STOP = (
    "(?!(?:"
    + _trie_pattern(
        words(
            """
            by of to for and with the at in on per mg mcg ml times day days week weeks month months year
            years hour hours hr hrs min mins minute minutes x q tab tabs tablet tablets unit units dose
            doses puff puffs drop drops liter liters l cm mm kg lb lbs am pm is was a an or from after
            before than more less out up down yo y/o year-old
            """
        )
    )
    + r")\b)"
)
_UNIT = (
    r"(?:,?[ \t]*(?:apt|apartment|unit|suite|ste|room|rm|bldg|building|floor|fl|lot|space|trlr|#)\.?[ \t]*"
    r"#?[ \t]*"
    r"[a-z0-9-]{1,6}\b)?"
)


@dataclass(frozen=True)
class Recognizer:
    name: str
    type: str
    regex: re.Pattern[str]
    score: float
    validate: Callable[[str], bool] | None = None
    lower: bool = False  # runs on the lower-cased text
    left: bool = False  # the match must start at a word boundary
    digits: bool = False  # needs a digit somewhere in the text
    triggers: tuple[str, ...] = ()  # lower-case literals: skip the rule when none occurs in the text
    upper_only: bool = False  # only for upper-case text
    mixed_only: bool = False
    token: bool = False  # matched whole against each digit-bearing token instead of searched in the text
    anchor: bool = False  # tried only where a digit-bearing token starts (or at a "(" / "+" just before it)
    near: re.Pattern[str] | None = None  # searched only in windows around matches of this (on lower text)
    words: frozenset[str] = frozenset()  # skip the rule when none of these whole words is in the text
    before: re.Pattern[str] | None = None  # must match (search, ending with \\Z) the 24 characters before
    # `before` can only match when the word right before the match (`_word_ending`) is one of these (a set
    # look-up that spares most regex searches)
    cue_words: frozenset[str] = frozenset()


# ------------------------------------------------------------------------------------------- validators


def luhn(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    if not 12 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def dea_check(value: str) -> bool:
    d = [int(c) for c in value[2:]]
    return len(d) == 7 and (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]


def compact_date(value: str) -> bool:
    try:
        dt.date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return False
    return 1900 <= int(value[:4]) <= 2099


_ANY_DIGIT: Final = re.compile(r"\d")
_ASCII_DIGITS: Final = tuple("0123456789")


def _text_has_digit(text: str) -> bool:
    """Any digit in a whole text. On ASCII text ten memchr scans beat one regex testing every character."""
    if text.isascii():
        return any(map(text.__contains__, _ASCII_DIGITS))
    return _ANY_DIGIT.search(text) is not None


_ANY_LETTER: Final = re.compile(r"[^\W\d_]")
_HEX: Final = re.compile(r"[0-9a-fA-F]+")
_DROP_DIGITS: Final = str.maketrans("", "", "0123456789")


# Validators run on every candidate: counted with C-level string methods, not per-character Python loops.
def has_digit(value: str) -> bool:
    return _ANY_DIGIT.search(value) is not None


def _digit_count(value: str) -> int:
    return len(value) - len(value.translate(_DROP_DIGITS))


def _mixed_alnum(value: str) -> bool:
    digits = _digit_count(value)
    letters = len(_ANY_LETTER.findall(value))
    return digits >= 3 and letters >= 2


def _long_id(value: str) -> bool:
    if _digit_count(value) < 5:
        return False
    return not (len(value) >= 24 and _HEX.fullmatch(value))  # content hashes are not PHI


def _not_compact_date(value: str) -> bool:
    return not (len(value) == 8 and compact_date(value))


def _ipv4(value: str) -> bool:
    parts = value.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) <= 255 and (p == "0" or p[0] != "0") for p in parts)


_STREET_WORDS = re.compile(r"[A-Za-z][A-Za-z'’.-]*")


def _street_ok(value: str) -> bool:
    """Reject "2 UNITS PRBC RUN" look-alikes: the street name must hold a non-clinical word."""
    words = _STREET_WORDS.findall(value)
    core = words[:-1] if len(words) > 1 else words
    return len(words) <= 1 or any(
        w.lower().strip(".") not in CLINICAL and w.lower().strip(".") not in ABBREVIATIONS for w in core[:4]
    )


def _plate(value: str) -> bool:
    """A plate or VIN: holds a digit, and every space-separated part is a code ("7ABC123", "YFQ M57"), not a
    word ("tag was placed", "tag 123 noted"). Vanity plates without a digit are not told apart from words."""
    if not has_digit(value):
        return False
    return all(has_digit(part) or (part.isupper() and len(part) <= 4) for part in value.split())


# ------------------------------------------------------------------------------------------- recognizers

_R: list[Recognizer] = []


def _add(name: str, type_: str, pattern: str, score: float, **kw: object) -> None:
    _R.append(Recognizer(name, type_, re.compile(pattern), score, **kw))  # type: ignore[arg-type]


# --- contact ---
_add(
    "url",
    "URL",
    r"(?:https?://|ftp://|www\.)[^\s<>\"'\]\[)(]+[^\s<>\"'\]\[)(.,;:!?]",
    0.95,
    lower=True,
    left=True,
    triggers=("http", "www.", "ftp:"),
)
_add(
    "ipv4",
    "IP",
    r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\d|\.\d)",
    0.9,
    validate=lambda v: _ipv4(v),
    left=True,
    digits=True,
)
_add(
    "ipv6",
    "IP",
    r"(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}:){1,7}:(?:[0-9a-f]{1,4}"
    r"(?::[0-9a-f]{1,4}){0,6})?|::(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4})(?![\w:])",
    0.85,
    lower=True,
    left=True,
    # No trigger list: run() counts colons and searches only near ":x:" groups.
)
_add(
    "phone",
    "PHONE",
    r"(?:\+?1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?:[ \t]*(?:x|ext\.?|extension)[ \t]*\d{"
    r"1,6})?"
    r"(?![\w-]|\.\d)",
    0.9,
    lower=True,
    left=True,
    digits=True,
)
_add(
    "phone_intl",
    "PHONE",
    r"\+\d{1,3}[ .-]?(?:\(?\d{1,4}\)?[ .-]?){1,4}\d{2,4}(?![\w-])",
    0.85,
    digits=True,
    triggers=("+",),
)
_add(
    "phone_ctx",
    "PHONE",
    r"(?P<v>(?:\(?\d{2,4}\)?[ .-]?)?\d{2,4}[ .-]?\d{2,4}(?:[ .-]\d{2,4})?|\d{4,5})(?![\w-]|\.\d)",
    0.75,
    lower=True,
    digits=True,
    before=re.compile(
        r"\b(?:phone|ph|tel|telephone|cell|cellphone|mobile|pager|pgr|beeper|home|work|contact|call(?:ed)?|"
        r"reach(?:ed)?[ \t]+at|fax|facsimile|callback|call[ \t]+back|ext|extension|text|"
        r"(?:call|text|reach|page|phone|ring)[ \t]+(?:me|us|him|her|them|back)(?:[ \t]+(?:at|on))?)"
        r"[ \t]*(?:(?:no|number|#)\b\.?[ \t]*)?(?:[:#=]|\bat\b|\bis\b|\bon\b)?\s*\(?\Z"
    ),
)
# --- government and institutional numbers ---
_add("ssn", "SSN", r"\d{3}-\d{2}-\d{4}(?![\w-])", 0.9, left=True, digits=True)
_add("ssn_spaced", "SSN", r"\d{3} \d{2} \d{4}(?![\w-])", 0.6, left=True, digits=True)
_add(
    "ssn_ctx",
    "SSN",
    r"(?:ssn|ss#|ss[ \t]+no|social[ \t]+security(?:[ \t]+(?:number|no|#))?|soc[ \t]+sec)"
    + _SEP
    + r"(?P<v>\d{3}[- .]?\d{2}[- .]?\d{4}|\*{3}-?\*{2}-?\d{4}|x{3}-?x{2}-?\d{4})(?![\w-])",
    0.95,
    lower=True,
    left=True,
    triggers=("ss", "soc"),
)
# Context phrases for identifiers whose value alone is ambiguous; the phrase gives the type. A value with a
# digit is found first, then the words right before it are looked up here (a dictionary look-up per value,
# instead of a regex that tries every word of a note). Phrases are written as their words ("mr #" for MR#).
_CTX_PHRASES: Final[dict[str, str]] = {}
for _type, _phrases in (
    (
        "MRN",
        "mrn | mr # | mr no | mr number | medical record | medical record number | medical records | med r"
        "ec | "
        "med rec no | medical rec | hospital no | hospital number | hospital # | hospital id | unit no | "
        "unit number | unit # | chart | chart no | chart number | chart # | patient id | patient identifie"
        "r | "
        "patient number | patient no | patient # | pt id | pt # | empi | emr | emr # | mpi | record # | mr",
    ),
    (
        "HEALTH_PLAN",
        "member id | member # | member no | member number | membership id | membership number | "
        "subscriber | subscriber id | subscriber # | subscriber no | subscriber number | policy | "
        "policy id | policy # | policy no | policy number | policyholder id | insurance id | "
        "insurance # | insurance no | insurance number | plan id | plan # | plan no | plan number | "
        "group id | group # | group no | group number | beneficiary | beneficiary id | "
        "beneficiary number | medicaid | medicaid id | medicaid # | medicaid no | medicaid number | "
        "medicare | medicare id | medicare # | medicare no | medicare number | mbr id | mbr # | mbr | "
        "mbi | hicn | hic # | health plan | health plan id | bcbs | bcbs id | payer id | insured id | "
        "insured's id | coverage id | rx bin | rxbin | rx pcn | rx grp | member",
    ),
    (
        "DEVICE",
        "serial | serial # | serial no | serial number | s/n | sn | device | device id | device identifier | "
        "device # | device no | device number | device serial | udi | device udi | lot | lot # | lot no | "
        "lot number | model | model # | model no | model number | catalog | catalog # | ref | "
        "pacemaker | pacemaker id | pacemaker serial | implant id | implant serial | imei | esn | "
        "pump | pump id | pump serial | pump serial # | monitor id | monitor serial | meter id | "
        "meter serial | icd serial | generator serial | asset tag | equipment | equipment id",
    ),
    (
        "ACCOUNT",
        "acct | acct # | acct no | account | account # | account no | account number | account id | "
        "billing | billing # | billing account | billing acct | billing acct # | billing no | clm | "
        "clm # | claim | claim # | claim no | claim number | claim id | invoice | invoice # | "
        "invoice no | encounter | encounter # | encounter no | encounter id | encounter number | visit # | "
        "visit no | visit id | visit number | fin | fin # | har | csn | icn | dcn | card | card # | "
        "card no | card number | credit card | debit card | routing | routing # | routing number | iban | "
        "check # | check no | check number | bank account | statement # | guarantor | guarantor #",
    ),
    (
        "LICENSE",
        "license | license # | license no | license number | licence | licence no | lic | lic # | "
        "lic no | dea | dea # | dea no | dea number | npi | npi # | npi no | upin | certificate | "
        "certificate # | certificate no | certificate number | cert | cert # | cert no | dl | dl # | "
        "dl no | driver's license | drivers license | driver license | driver's license # | "
        "board certification | registration # | registration no | permit | permit # | credential | "
        "state license | cdl | tin | ein | ptan | npi/lic",
    ),
    (
        "ID",
        "id | id # | identifier | case | case # | case no | case number | study id | study # | subject id | "
        "specimen | specimen id | specimen # | accession | accession # | accession no | accession number | "
        "order | order # | order no | requisition | requisition # | req | req # | badge | badge # | "
        "employee id | employee # | student id | passport | passport # | passport no | passport number | "
        "reference | reference # | reference no | ref # | confirmation | confirmation # | ticket | ticket "
        "# | "
        "tracking | tracking # | barcode | wristband | armband | bracelet | sample id | participant id | "
        "enrollment id | trial id | protocol | protocol # | voucher | authorization | authorization # | au"
        "th | "
        "auth # | prior auth | referral | referral # | document | document # | form | form # | file | file"
        " # | "
        "record id | client id | customer id | user id | username | login | token | code",
    ),
):
    for _phrase in _phrases.split("|"):
        _CTX_PHRASES.setdefault(" ".join(_phrase.split()), _type)
_CTX_PHRASES.update(
    {
        p: "SSN"
        for p in (
            "ssn",
            "ss #",
            "social security",
            "social security number",
            "social security no",
            "ssn on file",
            "soc sec",
            "ssn on file is",
            "social security #",
        )
    }
)
_CTX_SCORES: Final = {
    "SSN": 0.95,
    "MRN": 0.95,
    "HEALTH_PLAN": 0.9,
    "DEVICE": 0.9,
    "ACCOUNT": 0.85,
    "LICENSE": 0.85,
    "ID": 0.7,
}
_CTX_WORDS: Final = frozenset(w for phrase in _CTX_PHRASES for w in phrase.split()) | {
    "no",
    "num",
    "number",
    "nbr",
    "id",
    "is",
}
_CTX_FILLERS: Final = frozenset({"no", "num", "number", "nbr", "#", "id", "is"})
_CTX_WORD = re.compile(r"[a-z][a-z/']*|#")
_CTX_SEP: Final = re.compile(
    r"[ \t]*(?:(?:no|num|number|nbr|#|id)\b\.?[ \t]*)?(?:[:#=.]|\bis\b)?[ \t]*#?[ \t]*\Z"
)
_ALNUM: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


_VALUE_PARTS: Final = re.compile(r"[-./:]")


# The last word of each context phrase -> the word counts of the phrases it ends, longest first (a phrase
# longer than four words is never looked up).
_ctx_lengths: dict[str, set[int]] = {}
for _phrase in _CTX_PHRASES:
    _words = _phrase.split()
    if len(_words) <= 4:
        _ctx_lengths.setdefault(_words[-1], set()).add(len(_words))
_CTX_ENDINGS: Final = {w: tuple(sorted(ns, reverse=True)) for w, ns in _ctx_lengths.items()}


def _word_before(lower: str, lo: int, k: int) -> str:
    """The word (letters, / and ') right before the separators before `k`, not reaching below `lo`."""
    j = k
    while j > lo and lower[j - 1] in " \t:#=.-":
        j -= 1
    i2 = j
    while i2 > lo and (lower[i2 - 1].isalpha() or lower[i2 - 1] in "/'"):
        i2 -= 1
    return lower[i2:j]


def _context_id(lower: str, k: int, end: int) -> str | None:
    """The type of the value lower[k:end] if a context phrase ends right before it ("MRN: 00452211")."""
    lo = max(0, k - 40)
    # The word right before the value: past the separators " \t:#=.-", the characters that are a letter, a
    # numeric character other than a decimal digit, "/" or "'" (read one by one: cheaper than a regex here).
    j = k
    while j > lo:
        o = ord(lower[j - 1])
        if o == 32 or o == 58 or o == 46 or o == 45 or o == 35 or o == 61 or o == 9:
            j -= 1
        else:
            break
    i = j
    ascii_word = True
    while i > lo:
        o = ord(lower[i - 1])
        if 97 <= o <= 122 or o == 47 or o == 39 or 65 <= o <= 90:
            i -= 1
        elif o >= 128 and lower[i - 1].isalnum() and not lower[i - 1].isdecimal():
            i -= 1
            ascii_word = False
        else:
            break
    if lower[i:j] not in _CTX_WORDS and (ascii_word or _word_before(lower, lo, k) not in _CTX_WORDS):
        return None  # the word before the value is no context word: most numbers end here
    # The words before the value as `_CTX_WORD` finds them in lower[lo:k], last first: the last one alone
    # first (most values end here), then up to six (a phrase has at most four words, and at most two fillers
    # follow it).
    starts: list[int] = []
    ends: list[int] = []
    e = _ctx_words_back(lower, lo, k, starts, ends, 1)
    if not starts or (
        lower[starts[0] : ends[0]] not in _CTX_ENDINGS and lower[starts[0] : ends[0]] not in _CTX_FILLERS
    ):
        return None
    _ctx_words_back(lower, lo, e, starts, ends, 6)
    starts.reverse()
    ends.reverse()
    words = [lower[a : ends[n]] for n, a in enumerate(starts)]
    for drop in (0, 1, 2):
        if drop > len(words) or (drop and words[-drop] not in _CTX_FILLERS):
            break
        last = len(words) - drop
        if not last:
            continue
        for n in _CTX_ENDINGS.get(words[last - 1], ()):
            if n > last:
                continue
            type_ = _CTX_PHRASES.get(" ".join(words[last - n : last]))
            if type_ is None:
                continue
            first_word_start = starts[last - n]
            if first_word_start and lower[first_word_start - 1] in _ALNUM:
                continue
            if _ctx_sep(lower, ends[last - 1], k):
                # "68-year-old", "5-fu/leucovorin": words, not an identifier
                return None if _has_word_part(lower, k, end) else type_
    return None


_ctx_sep_cache: Final[dict[str, bool]] = {}


def _ctx_sep(lower: str, pos: int, k: int) -> bool:
    """Whether lower[pos:k] separates a context phrase from its value (`_CTX_SEP`), `pos` > 0. Cached: the
    separators repeat ("MRN: ", "acct # "); the match depends on them and, through \\b, on whether the
    character before them is a word character."""
    c = lower[pos - 1]
    key = ("w" if c.isalnum() or c == "_" else "n") + lower[pos:k]
    hit = _ctx_sep_cache.get(key)
    if hit is None:
        if len(_ctx_sep_cache) > 10_000:
            _ctx_sep_cache.clear()
        hit = _ctx_sep_cache[key] = _CTX_SEP.match(lower, pos, k) is not None
    return hit


def _ctx_words_back(lower: str, lo: int, e: int, starts: list[int], ends: list[int], count: int) -> int:
    """Add the words of lower[lo:e] to `starts` and `ends`, last first, until there are `count`, as
    `_CTX_WORD` finds them (a run of a-z / and ' is a word from its first letter; "#" is one); where the
    reading stopped."""
    while e > lo and len(starts) < count:
        o = ord(lower[e - 1])
        if o == 35:  # "#"
            starts.append(e - 1)
            ends.append(e)
            e -= 1
        elif 97 <= o <= 122 or o == 47 or o == 39:
            b = e - 1
            while b > lo:
                o = ord(lower[b - 1])
                if 97 <= o <= 122 or o == 47 or o == 39:
                    b -= 1
                else:
                    break
            first = b
            while first < e and not 97 <= ord(lower[first]) <= 122:
                first += 1
            if first < e:
                starts.append(first)
                ends.append(e)
            e = b
        else:
            e -= 1
    return e


def _has_word_part(lower: str, k: int, end: int) -> bool:
    """Whether a part of lower[k:end] between - . / : is four letters or more."""
    letters = 0  # in the current part so far; -1 once it holds anything else
    for i in range(k, end):
        o = ord(lower[i])
        if o == 45 or o == 46 or o == 47 or o == 58:
            if letters >= 4:
                return True
            letters = 0
        elif letters >= 0 and (97 <= o <= 122 or 65 <= o <= 90 or (o >= 128 and lower[i].isalpha())):
            letters += 1
        else:
            letters = -1
    return letters >= 4


_add(
    "vehicle",
    "VEHICLE",
    # Runs on the text as written: the cue is matched in any case, the value's case tells a code from a word.
    r"(?i:vin|vehicle(?:[ \t]+identification)?(?:[ \t]*(?:no|number|#|id))?|"
    r"(?:licen[cs]e|registration|tag)[ \t]+plate(?:[ \t]*(?:no|number|#))?|plates?|tag(?:[ \t]*(?:no|numbe"
    r"r|#))?)"
    r"(?![A-Za-z])"  # whole words only: "tags", "vintage", "plateau" are no cue
    r"[ \t]*(?:[:#=]|\b(?i:is)\b)?[ \t]*#?[ \t]*"
    # The value: a code, and at most one more space-separated part that holds a digit or is 1-3 capitals
    # ("YFQ M57", "APB 499"); a following word ("tag 123 noted", "7ABC123 in lot") is not part of it.
    r"(?P<v>[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){2,16}"
    r"(?:[ ](?:[A-Za-z0-9]{0,6}\d[A-Za-z0-9]{0,6}|[A-Z]{1,3})(?![A-Za-z0-9]))?)(?![\w-])",
    0.9,
    validate=_plate,
    left=True,
    triggers=("vin", "vehicle", "plate", "tag"),
)
_add(
    "mbi",
    "HEALTH_PLAN",
    r"[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?"
    r"[AC-HJKMNP-RT-Y]{2}\d{2}(?![\w-])",
    0.8,
    left=True,
    digits=True,
)
_add("card_plain", "ACCOUNT", r"\d{12,19}", 0.85, validate=lambda v: luhn(v), digits=True)
_add(
    "card",
    "ACCOUNT",
    r"\d{4}[ -]\d{4}[ -]\d{4}[ -]\d{1,7}(?![\w-])|\d{4}[ -]\d{6}[ -]\d{4,5}(?![\w-])",
    0.85,
    validate=luhn,
    digits=True,
)
_add(
    "iban",
    "ACCOUNT",
    r"[a-z]{2}\d{2}(?:[ ]?[a-z0-9]{4}){2,7}(?:[ ]?[a-z0-9]{1,4})?\b",
    0.8,
    lower=True,
    left=True,
    digits=True,
    validate=lambda v: v[:2].upper() in _IBAN_COUNTRIES and sum(c.isdigit() for c in v) >= 8,
)
_add(
    "dea",
    "LICENSE",
    r"[ABCDEFGHJKLMPRSTUX][A-Z9]\d{7}(?![\w-])",
    0.85,
    validate=dea_check,
    left=True,
    digits=True,
)
_add(
    "vin",
    "VEHICLE",
    r"[A-HJ-NPR-Z0-9]{17}(?![\w-])",
    0.8,
    validate=_mixed_alnum,
    left=True,
    digits=True,
)
_add("udi", "DEVICE", r"\(01\)\d{14}(?:\(\d{2}\)[A-Za-z0-9-]+)*", 0.95, digits=True, triggers=("(01)",))
_add(
    "mac", "DEVICE", r"[0-9a-f]{2}(?:[:-][0-9a-f]{2}){5}(?![\w:-])", 0.85, lower=True, left=True, digits=True
)
_add(
    "long_code",
    "ID",
    r"[A-Z0-9]{1,6}(?:-?[A-Z0-9]){4,24}(?![\w-])",
    0.45,
    left=True,
    digits=True,
    validate=lambda v: _long_id(v) and _ANY_LETTER.search(v) is not None,
)
_add(
    "long_number",
    "ID",
    r"\d{7,}(?![\w,/-]|\.\d)",
    0.45,
    left=True,
    digits=True,
    validate=_not_compact_date,
)
_add(
    "dash_number",
    "ID",
    r"\d{2,6}(?:-\d{2,8}){2,4}(?![\w/-]|\.\d)",
    0.4,
    left=True,
    digits=True,
    validate=lambda v: _digit_count(v) >= 7,
)

# --- ages over 89 ---
_AGE_NUM = r"(?P<v>9\d|1[01]\d|12[0-5])"
_add(
    "age_unit",
    "AGE",
    rf"{_AGE_NUM}\+?[ \t]*(?:-[ \t]*)?(?:y/?o\b|yo[mf]?\b|y\.o\.?|yrs?\b(?:[ -]old)?|"
    r"years?(?:[ -]old|[ \t]+of[ \t]+age)\b|-?year-old|-?yr-old|[ \t]*(?:year|yr)s?[ \t]+old)",
    0.95,
    lower=True,
    left=True,
    digits=True,
)
_add(
    "age_ctx",
    "AGE",
    rf"{_AGE_NUM}(?![\w.])",
    0.9,
    lower=True,
    digits=True,
    before=re.compile(r"\b(?:age[ds]?|aged|age:)[ \t]*:?[ \t]*\Z"),
)
_add(
    "age_sex",
    "AGE",
    rf"{_AGE_NUM}[ \t]?(?:m|f|male|female)\b",
    0.85,
    lower=True,
    left=True,
    digits=True,
    before=re.compile(r"(?:(?:^|[(\[;:])[ \t]*|\b(?:is[ \t]+an?|a|an|pt|patient)[ \t]+)\Z", re.M),
)
_add(
    "age_is",
    "AGE",
    rf"{_AGE_NUM}\b(?![ \t]*(?:%|mg|kg|lbs?|cm|mm|bpm|beats|breaths|/|\.\d|degrees|units|percent|"
    r"mmhg|f\b|c\b))",
    0.85,
    lower=True,
    digits=True,
    before=re.compile(
        r"\b(?:he|she|they|patient|pt|who|mother|father|mom|dad)[ \t]+(?:is|was|turned|turns|"
        r"will[ \t]+be)[ \t]+(?:now[ \t]+)?\Z"
    ),
)
_add(
    "age_decade",
    "AGE",
    r"in[ \t]+(?:his|her|their)[ \t]+(?P<v>(?:(?:late|mid|early)[ -])?(?:9|10)0'?s|nineties)\b",
    0.85,
    lower=True,
    left=True,
    triggers=("0s", "0's", "nineties"),
)
_add(
    "age_words",
    "AGE",
    r"(?P<v>ninety(?:[ -](?:one|two|three|four|five|six|seven|eight|nine))?|one[ \t]+hundred(?:[ \t]+and)?"
    r"(?:[ -]\w+)?)[ -](?:year|yr)s?[ -]old\b|(?P<w>nonagenarian|centenarian)\b",
    0.9,
    lower=True,
    left=True,
    triggers=("ninety", "hundred", "genarian"),
)

# --- dates ---
_add(
    "date_iso",
    "DATE",
    r"(?:19|20)\d{2}-(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12]\d|3[01])(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?)?(?![\w-])",
    0.95,
    left=True,
    digits=True,
)
_add(
    "date_ymd_slash",
    "DATE",
    r"(?:19|20)\d{2}[/.](?:0?[1-9]|1[0-2])[/.](?:0?[1-9]|[12]\d|3[01])(?![\w/])",
    0.95,
    left=True,
    digits=True,
)
_add(
    "date_compact",
    "DATE",
    r"(?:19|20)\d{6}(?![\w-]|\.\d)",
    0.6,
    validate=compact_date,
    left=True,
    digits=True,
)
_add(
    "date_numeric_y",
    "DATE",
    r"\d{1,2}([/.-])\d{1,2}\1(?:19|20)?\d{2}(?![\w/-]|\.\d)",
    0.95,
    validate=lambda v: _valid_numeric(v),
    left=True,
    digits=True,
)
_add(
    "date_md",
    "DATE",
    r"(?:1[0-2]|0?[1-9])/(?:3[01]|[12]\d|0?[1-9])(?![\w/]|\.\d)",
    0.7,
    left=True,
    digits=True,
)
_add("date_my", "DATE", r"(?:1[0-2]|0?[1-9])/(?:19|20)\d{2}(?![\w/]|\.\d)", 0.8, left=True, digits=True)
_add(
    "date_month_day",
    "DATE",
    rf"{_MONTH}\.?[ \t]+(?:the[ \t]+)?\d{{1,2}}{_ORD}?\b(?:,?[ \t]*(?:19|20)\d{{2}}\b|,[ \t]*'?\d{{2}}\b|["
    rf" \t]+'\d{{2}}\b)?",
    0.9,
    lower=True,
    left=True,
    digits=True,
)
_add(
    "date_day_month",
    "DATE",
    rf"\d{{1,2}}{_ORD}?[ \t-]*(?:of[ \t]+)?{_MONTH}\b\.?(?:,?[ \t-]*(?:19|20)?\d{{2}}\b)?",
    0.9,
    lower=True,
    left=True,
    digits=True,
)
_add(
    "date_month_year",
    "DATE",
    rf"{_MONTH}\.?[ \t]*,?[ \t]*(?:of[ \t]+)?(?:19|20)\d{{2}}\b",
    0.85,
    lower=True,
    left=True,
    digits=True,
)
_add(
    "date_ordinal",
    "DATE",
    rf"(?P<v>\d{{1,2}}{_ORD})\b(?![ \t]+(?:day|week|month|year|dose|time|attempt|cycle|trimester|"
    r"floor|degree|percentile|generation|line|toe|finger|rib|ventricle|nerve|intercostal|digit|"
    r"metatarsal|metacarpal|decade|grade|party|visit|session|round|course|stage|lumbar|cervical|"
    r"thoracic|sacral|interspace|space|postoperative|post-op|hospital|pod|hd|icu))",
    0.8,
    lower=True,
    digits=True,
    before=re.compile(
        r"\b(?:on|since|until|till|by|from|before|after|of|through|thru|starting|beginning|admitted|seen)"
        r"[ \t]+the[ \t]+\Z"
    ),
)
_add(
    "date_holiday",
    "DATE",
    r"(?:christmas(?:[ \t]+(?:day|eve))?|thanksgiving(?:[ \t]+day)?|new[ \t]+year'?s(?:[ \t]+(?:day|eve))?|"
    r"easter(?:[ \t]+sunday)?|independence[ \t]+day|fourth[ \t]+of[ \t]+july|memorial[ \t]+day|labor[ \t]+"
    r"day|"
    r"halloween|valentine'?s[ \t]+day|veterans[ \t]+day|mother'?s[ \t]+day|father'?s[ \t]+day|yom[ \t]+kip"
    r"pur|"
    r"rosh[ \t]+hashanah|martin[ \t]+luther[ \t]+king(?:,?[ \t]+jr\.?)?[ \t]+day|mlk[ \t]+day|"
    r"presidents'?[ \t]+day|columbus[ \t]+day|juneteenth)\b",
    0.7,
    lower=True,
    left=True,
    triggers=(
        "christmas",
        "thanksgiving",
        "new year",
        "easter",
        " day",
        "halloween",
        "yom",
        "rosh",
        "juneteenth",
    ),
)
_add("month_alone", "DATE", rf"{_MONTH_FULL}\b(?![ \t]+(?:\d|Hospital|Clinic|Medical))", 0.55, left=True)
_add(
    "month_alone_upper",
    "DATE",
    r"(?:JANUARY|FEBRUARY|MARCH|APRIL|JUNE|JULY|AUGUST|SEPTEMBER|OCTOBER|NOVEMBER|"
    r"DECEMBER)\b",
    0.55,
    left=True,
    upper_only=True,
)
_add(
    "may_alone",
    "DATE",
    r"(?:in|since|during|until|till|early|late|mid|last|next|this|of|through|by)[ -]+(?P<v>May)\b",
    0.6,
    left=True,
    triggers=("may",),
)

# --- addresses ---
_add(
    "street",
    "ADDRESS",
    rf"\d{{1,6}}[A-Za-z]?(?:-\d{{1,4}})?[ \t]+(?:[NSEW]\.?[ \t]+|(?:North|South|East|West|NE|NW|SE|SW)[ \t"
    rf"]+)?"
    rf"(?:{_STREET_STOP}[A-Z0-9][A-Za-z0-9'’.-]*[ \t]+){{1,4}}(?i:{_STREET_SUFFIX})\b\.?"
    rf"(?:[ \t]+(?:[NSEW]|NE|NW|SE|SW)\b\.?)?(?i:{_UNIT})",
    0.9,
    validate=_street_ok,
    left=True,
    digits=True,
    mixed_only=True,
)
_add(
    "street_upper",
    "ADDRESS",
    rf"\d{{1,6}}[a-z]?(?:-\d{{1,4}})?[ \t]+(?:[nsew]\.?[ \t]+)?(?:{_STREET_STOP}[a-z0-9][a-z0-9'’.-]*[ \t]"
    rf"+){{1,4}}"
    rf"{_STREET_SUFFIX}\b\.?(?:[ \t]+(?:[nsew]|ne|nw|se|sw)\b\.?)?{_UNIT}",
    0.85,
    validate=_street_ok,
    lower=True,
    left=True,
    digits=True,
    upper_only=True,
)
_add(
    "po_box",
    "ADDRESS",
    r"(?:p\.?[ ]?o\.?[ \t]*box|post[ \t]+office[ \t]+box|box)[ \t]+#?\d{1,7}\b",
    0.9,
    lower=True,
    left=True,
    triggers=("box",),
)
_add(
    "rural_route",
    "ADDRESS",
    r"(?:(?:RR|R\.R\.|HC)[ \t]*#?[ \t]*\d{1,4},?[ \t]+Box[ \t]+\d{1,5}|(?:Rural|Star)[ \t]+"
    r"Route[ \t]*#?[ \t]*\d{1,4}(?:,?[ \t]+Box[ \t]+\d{1,5})?)\b",
    0.8,
    left=True,
    triggers=("box", "route"),
)
_add(
    "unit",
    "ADDRESS",
    r"(?:apt|apartment|suite|ste|unit)\.?[ \t]*#?[ \t]*(?=[a-z]?\d)[a-z0-9-]{1,6}\b",
    0.7,
    lower=True,
    left=True,
    triggers=("apt", "apartment", "suite", "ste", "unit"),
)
_add(
    "street_named",
    "ADDRESS",
    r"[A-Z][a-z]+(?:[ \t]+[A-Z][a-z]+){0,2}[ \t]+(?:Street|Avenue|Road|Boulevard|Lane|Drive|"
    r"Parkway|Terrace|Highway)\b",
    0.6,
    left=True,
    mixed_only=True,
    triggers=("street", "avenue", "road", "boulevard", "lane", "drive", "parkway", "terrace", "highway"),
)
_add(
    "zip_state",
    "ZIP",
    r"(?P<v>\d{5}(?:-\d{4})?)(?![\w-])",
    0.95,
    digits=True,
    before=re.compile(rf"\b{STATE_RE}\.?,?[ \t]+\Z"),
)
_add(
    "zip_ctx",
    "ZIP",
    r"(?:zip(?:[ \t]*code)?|postal[ \t]+code|zipcode|post[ \t]*code)[ \t]*[:#]?[ \t]*"
    r"(?P<v>\d{5}(?:-\d{4})?|\d{3,6}(?:[ -]\d{2,4})?)\b",
    0.95,
    lower=True,
    left=True,
    triggers=("zip", "postal"),
)
_add("zip4", "ZIP", r"\d{5}-\d{4}(?![\w-])", 0.7, left=True, digits=True)
_add(
    "saint_place",
    "LOCATION",
    r"(?P<v>(?:St\.?|Saint|ST\.?|SAINT)[ \t]+[A-Z][A-Za-z]+(?:'s|’s|'S)?)(?=[ \t]+(?:Hospital|Medical|Clin"
    r"ic|Health|"
    r"Regional|Mercy|Memorial|HOSPITAL|MEDICAL|CLINIC)|[ \t]*[,.;)]|[ \t]+(?:ED|ER|ICU|on|in|for|and|where"
    r"|with|"
    r"last|yesterday|today)\b)(?![ \t]+wort)",
    0.9,
    left=True,
    triggers=("st", "saint"),
)

# --- lower-case names right after a strong cue ("spoke with john smith", "pt's daughter mary", "dr. healey")
# The name logic in names.py reads capitalised words only; these two rules take lower-case words that the
# name dictionaries hold (everyday and medical words are not in them) after a cue that says a person follows.
_LOWER_NAME_CUE = (
    r"(?i:(?:spoke|talked|discussed|met|seen|signed|called|evaluated|examined)[ \t]+(?:with|by)|"
    r"(?:son|daughter|wife|husband|mother|father|mom|dad|brother|sister|granddaughter|grandson|niece|"
    r"nephew|caregiver|guardian|fiance|fiancee|spouse)(?:[ \t]*,)?|(?:dr|mr|mrs|ms)\.?)[ \t]+"
)
_LOWER_NAME_WORD = r"[a-z][a-z'-]{1,20}"


def _dictionary_names(value: str) -> bool:
    """Every word of `value` is a first name or surname in the dictionaries (never an everyday word)."""
    lex = lexicon()
    return all(fold(w) in lex.first or fold(w) in lex.last for w in value.split())


_add(
    "name_lower_pair",
    "NAME",
    _LOWER_NAME_CUE + rf"(?P<v>{_LOWER_NAME_WORD}[ \t]+{_LOWER_NAME_WORD})(?![A-Za-z'-])",
    0.75,
    validate=_dictionary_names,
    left=True,
)
_add(
    "name_lower",
    "NAME",
    _LOWER_NAME_CUE + rf"(?P<v>{_LOWER_NAME_WORD})(?![A-Za-z'-])",
    0.75,
    validate=_dictionary_names,
    left=True,
)

_IBAN_COUNTRIES: frozenset[str] = frozenset(  # annotated: a validator above refers to it
    [
        "AD",
        "AE",
        "AL",
        "AT",
        "AZ",
        "BA",
        "BE",
        "BG",
        "BH",
        "BR",
        "BY",
        "CH",
        "CR",
        "CY",
        "CZ",
        "DE",
        "DK",
        "DO",
        "EE",
        "EG",
        "ES",
        "FI",
        "FO",
        "FR",
        "GB",
        "GE",
        "GI",
        "GL",
        "GR",
        "GT",
        "HR",
        "HU",
        "IE",
        "IL",
        "IQ",
        "IS",
        "IT",
        "JO",
        "KW",
        "KZ",
        "LB",
        "LC",
        "LI",
        "LT",
        "LU",
        "LV",
        "MC",
        "MD",
        "ME",
        "MK",
        "MR",
        "MT",
        "MU",
        "NL",
        "NO",
        "PK",
        "PL",
        "PS",
        "PT",
        "QA",
        "RO",
        "RS",
        "SA",
        "SC",
        "SE",
        "SI",
        "SK",
        "SM",
        "ST",
        "SV",
        "TL",
        "TN",
        "TR",
        "UA",
        "VA",
        "VG",
        "XK",
    ]
)

# Words right before a date-like fraction that make it a score or a dose ("pain 3/10", "take 1/2"); a space
# stands for \s+.
_FRACTION_WORDS = (
    *sorted(
        words(
            """
            pain strength power score scale grade motor gcs murmur reflex reflexes tab tabs tablet dose take
            takes taking give given inject apply use about approx approximately half of ratio bp b/p x rated
            rates /
            """
        )
    ),
    "blood pressure",
)
_FRACTION_CTX: Final = re.compile(
    "(?:" + "|".join(re.escape(w).replace("\\ ", r"\s+") for w in _FRACTION_WORDS) + r")\W*$", re.IGNORECASE
)
# The same read backwards from the fraction: matched once on the reversed window instead of searched at
# each of its positions (`_fraction_before`).
_FRACTION_CTX_REVERSED: Final = re.compile(
    r"\W*(?:" + "|".join(re.escape(w[::-1]).replace("\\ ", r"\s+") for w in _FRACTION_WORDS) + ")",
    re.IGNORECASE,
)


def _fraction_before(lower: str, lo: int, k: int) -> bool:
    """Whether `_FRACTION_CTX` matches lower[lo:k] (ending at k)."""
    return _FRACTION_CTX_REVERSED.match(lower[lo:k][::-1]) is not None


_FRACTION_AFTER: Final = re.compile(
    r"\s*(?:pain|strength|power|tab|tabs|tablet|of|on\s+the|scale|murmur|reflex|in\s+\w+\s+extremit|"
    r"bilat|bilateral|throughout|mmhg|ns|normal\s+saline|dose|strength)",
    re.IGNORECASE,
)


def _valid_numeric(value: str) -> bool:
    parts = _VALUE_PARTS.split(value)
    a, b = int(parts[0]), int(parts[1])
    return (1 <= a <= 12 and 1 <= b <= 31) or (1 <= b <= 12 and 1 <= a <= 31)


# Rules over "digit tokens" (a run of letters and digits joined by - . / :, holding a digit): one regex pass
# finds the tokens, then each rule is a fullmatch on a short string. Far cheaper than one text pass per rule.
_TOKEN_RULES = {
    "ipv4": r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}",
    "ssn": r"\d{3}-\d{2}-\d{4}",
    "mbi": (
        r"[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?"
        r"[AC-HJKMNP-RT-Y]{2}\d{2}"
    ),
    "dea": r"[ABCDEFGHJKLMPRSTUX][A-Z9]\d{7}",
    "vin": r"[A-HJ-NPR-Z0-9]{17}",
    "mac": r"[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}",
    "long_code": r"[A-Z0-9]{1,6}(?:-?[A-Z0-9]){4,24}",
    "long_number": r"\d{7,}",
    "card_plain": r"\d{12,19}",
    "dash_number": r"\d{2,6}(?:-\d{2,8}){2,4}",
    "date_iso": (
        r"(?:19|20)\d{2}-(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12]\d|3[01])"
        r"(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?"
    ),
    "date_ymd_slash": r"(?:19|20)\d{2}(?P<sep>[/.])(?:0?[1-9]|1[0-2])(?P=sep)(?:0?[1-9]|[12]\d|3[01])",
    "date_compact": r"(?:19|20)\d{6}",
    "date_numeric_y": r"\d{1,2}(?P<sep>[/.-])\d{1,2}(?P=sep)(?:19|20)?\d{2}",
    "date_md": r"(?:1[0-2]|0?[1-9])/(?:3[01]|[12]\d|0?[1-9])",
    "date_my": r"(?:1[0-2]|0?[1-9])/(?:19|20)\d{2}",
    "zip4": r"\d{5}-\d{4}",
}
_R = [
    Recognizer(r.name, r.type, re.compile(_TOKEN_RULES[r.name]), r.score, r.validate, token=True)
    if r.name in _TOKEN_RULES
    else r
    for r in _R
]
_ANCHORED = {
    "phone",
    "card",
    "ssn_spaced",
    "age_unit",
    "age_sex",
    "date_day_month",
    "street",
    "street_upper",
    "zip_state",
    "iban",
    "phone_ctx",
    "age_ctx",
    "age_is",
    "date_ordinal",
}
_MONTH_WORDS = frozenset(
    [
        "jan",
        "january",
        "feb",
        "february",
        "mar",
        "march",
        "apr",
        "april",
        "may",
        "jun",
        "june",
        "jul",
        "july",
        "aug",
        "august",
        "sep",
        "sept",
        "september",
        "oct",
        "october",
        "nov",
        "november",
        "dec",
        "december",
    ]
)
_MONTHS_FULL = frozenset(
    [
        "january",
        "february",
        "march",
        "april",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ]
)
_LOWER_NAME_TRIGGERS = words(
    """
    spoke talked discussed met seen signed called evaluated examined son daughter wife husband mother father
    mom dad brother sister granddaughter grandson niece nephew caregiver guardian fiance fiancee spouse dr mr
    mrs ms
    """
)
# Rules that need a word in the text, and where a match sits relative to that word: 0 = the match starts at
# the word (tried there with one `match`); n > 0 = it starts at most n characters before the word (searched
# in a window around it). `_trigger_positions` finds every trigger word of every rule at once.
_WORD_TRIGGERS: Final[dict[str, tuple[frozenset[str], int]]] = {
    "vehicle": (words("vin plate plates tag vehicle license licence registration"), 0),
    "date_holiday": (
        words(
            """christmas thanksgiving new easter independence fourth memorial labor halloween valentine
            valentines veterans mother father yom rosh martin mlk presidents columbus juneteenth"""
        ),
        0,
    ),
    "saint_place": (words("st saint"), 0),
    "street_named": (words("street avenue road boulevard lane drive parkway terrace highway"), 80),
    "unit": (words("apt apartment suite ste unit"), 0),
    "po_box": (words("box"), 24),
    "rural_route": (words("box route"), 24),
    "zip_ctx": (words("zip postal zipcode post postcode"), 0),
    "ssn_ctx": (words("ssn ss social soc"), 0),
    "may_alone": (words("may"), 16),
    "month_alone": (_MONTHS_FULL, 0),
    "month_alone_upper": (_MONTHS_FULL, 0),
    "url": (words("http https www ftp"), 0),
    "date_month_day": (_MONTH_WORDS, 0),
    "date_month_year": (_MONTH_WORDS, 0),
    "age_words": (words("ninety hundred nonagenarian centenarian"), 16),
    "name_lower_pair": (_LOWER_NAME_TRIGGERS, 0),
    "name_lower": (_LOWER_NAME_TRIGGERS, 0),
}
# The words a rule's `before` pattern can end with (its last word, then only white space or the characters
# of `_CUE_SKIP` before the match): `Recognizer.cue_words`.
_PHONE_CUES = words(  # the last words of the phone rule's cues
    """
    phone ph tel telephone cell cellphone mobile pager pgr beeper home work contact call called at fax
    facsimile callback back ext extension text me us him her them on
    """
)
_BEFORE_CUES: dict[str, frozenset[str]] = {
    # "phone: ", "call me at (", "cell no. ", "fax # ", "phonenumber " (the pattern allows no space there)
    "phone_ctx": _PHONE_CUES
    | words("no number is")
    | {c + no for c in _PHONE_CUES for no in ("no", "number")},
    "age_ctx": words("age ages aged"),  # "age: "
    "age_is": words("is was turned turns be now"),
    "date_ordinal": words("the"),
    "zip_state": frozenset(state.split()[-1].lower() for state in _STATES),  # "Rhode Island, "
}
_CUE_SKIP = "(:#=.,"  # and white space (`_word_ending` reads these as character codes)
# For some rules that start at their trigger word: the characters one of which comes first after the word,
# past spaces, tabs, "." and "," (`_run_triggered` skips the other places without a regex call).
_AFTER_TRIGGER: Final[dict[str, str]] = {
    # "spoke with john", "Spoke WITH john", "dr. healey", "daughter, mary": a small letter, but for the cue
    "name_lower_pair": "abcdefghijklmnopqrstuvwxyzWB",
    "name_lower": "abcdefghijklmnopqrstuvwxyzWB",
    "ssn_ctx": "0123456789#:=*xnis",  # "ssn: 123", "ss# ***", "ssn no ...", "ssn is ...", "social security"
    "date_month_day": "0123456789t",  # "march 3", "march the 3rd"
    "date_month_year": "0123456789o",  # "march 2021", "march of 2021"
}
_WINDOW_AFTER: Final = 60  # characters after a trigger word that a windowed rule's match can reach
_IPV6_MIN_COLONS: Final = 3  # an IPv6 address has at least two colons; "::1" aside, real ones have more
_IPV6_NEAR: Final = re.compile(r":[0-9a-f]{0,4}:")
_R = [
    dataclasses.replace(
        r,
        anchor=r.name in _ANCHORED,
        near=_IPV6_NEAR if r.name == "ipv6" else None,
        words=_WORD_TRIGGERS[r.name][0] if r.name in _WORD_TRIGGERS else frozenset(),
        triggers=() if r.name in _WORD_TRIGGERS else r.triggers,
        cue_words=_BEFORE_CUES.get(r.name, frozenset()),
    )
    if not r.token
    else r
    for r in _R
]
RECOGNIZERS: tuple[Recognizer, ...] = tuple(r for r in _R if not r.token)
TOKEN_RECOGNIZERS: Final[tuple[Recognizer, ...]] = tuple(r for r in _R if r.token)


@dataclass(frozen=True)
class _Combined:
    """Several rules tried at one position with one `match` call: each rule is an optional lookahead that
    captures what the rule would match there, so `m.regs` holds every rule's match (or -1) at once. A
    position where no rule matches costs one C-level call (`m.lastindex is None`) instead of one per rule."""

    regex: re.Pattern[str]
    # rule index, rule, its group, its v group, its w group (0: none), in group order
    rules: tuple[tuple[int, Recognizer, int, int, int], ...]


_UNBUILT: Final = _Combined(re.compile(""), ())  # a cache slot not filled yet


def _combine(rules: list[Recognizer], indices: list[int] | None = None) -> _Combined | None:
    """`rules` in one regex; `indices` numbers them (default 0, 1, ...)."""
    if not rules:
        return None
    parts = []
    for r in rules:
        # Prefix the rule's own group names with the rule's name so that rules do not clash.
        body = re.sub(r"\(\?P([<=])(\w+)", rf"(?P\1{r.name}__\2", r.regex.pattern)
        if re.search(r"\\\d", body.replace("\\\\", "")):
            raise ValueError(f"rule {r.name}: numbered back-references cannot be combined")
        parts.append(f"(?=(?P<{r.name}>{body}))?")
    regex = re.compile("".join(parts))
    gi = regex.groupindex
    return _Combined(
        regex,
        tuple(
            (i, r, gi[r.name], gi.get(f"{r.name}__v", 0), gi.get(f"{r.name}__w", 0))
            for i, r in zip(indices or range(len(rules)), rules, strict=True)
        ),
    )


def _age_run(first: str, run: int) -> bool:
    return (first == "9" and run == 2) or (first == "1" and run == 3)


# Which digit runs each digit-anchored rule can start with, as (first digit if "1" or "9" else "", length of
# the run of decimal digits at the token start, 13 for 13 or more) -> possible. Read off each rule: what
# follows its leading digits is no digit ("92 yo", "617-555-0199": a run of 3). At a token, only the rules
# that can start with its run, be followed by the character after it (`_AFTER_RUN`) and, for a rule with
# cue words, have one before it, are tried (`_AnchorSet.for_key`).
_LEADING_RUN: dict[str, Callable[[str, int], bool]] = {
    "phone": lambda first, run: run == 3 or (first == "1" and run in (1, 4)),  # 617-, 1 617, 1617-
    "phone_ctx": lambda first, run: 2 <= run <= 12,
    "age_unit": _age_run,
    "age_ctx": _age_run,
    "age_sex": _age_run,
    "age_is": _age_run,
    "date_day_month": lambda first, run: 1 <= run <= 2,
    "date_ordinal": lambda first, run: 1 <= run <= 2,
    "ssn_spaced": lambda first, run: run == 3,
    "card": lambda first, run: run == 4,
    "street": lambda first, run: 1 <= run <= 6,
    "street_upper": lambda first, run: 1 <= run <= 6,
    "zip_state": lambda first, run: run == 5,
}
# The class of the character right after a token's leading digit run (`_next_class`): " " a space or tab,
# "-" "." "/" ")" "+" themselves, "a" a letter (any case, any script), "o" anything else or the end of the
# text (a newline, ",", ";", ":", "(", "%" ...).
_NEXT_CLASSES = " -./)+ao"


def _next_class(c: str) -> int:
    """The class of `c` (one character, or "" at the end of the text), as its index in `_NEXT_CLASSES`."""
    if not c:
        return 7
    o = ord(c)
    if o == 32 or o == 9:
        return 0
    if 45 <= o <= 47:  # - . /
        return o - 44
    if o == 41:  # )
        return 4
    if o == 43:  # +
        return 5
    if 97 <= o <= 122 or 65 <= o <= 90 or (o >= 128 and c.isalpha()):
        return 6
    return 7


# What can follow each digit-anchored rule's leading digit run, as (length of the run as in `_LEADING_RUN`,
# class of the character after it as in `_NEXT_CLASSES`, what comes after the token as in `_AFTER_CLASSES`)
# -> possible. Read off each rule: a BP "110/60" or a dose "5mg" starts no phone number, an age is followed
# by a letter only in "92yo", a street number by a capitalised word ("12 Main St", not "12 tabs").
_AFTER_RUN: dict[str, Callable[[int, str, str], bool]] = {
    # 617-555-0199, 617 555 0199, 1 617 555 0199, 1 (617) 555-0199, 1617-555-0199, 1(617) 555-0199
    "phone": lambda run, nxt, after: (
        nxt in ".-" or (nxt == " " and after in "do") or (run == 1 and nxt == "o")
    ),
    # 617) 555-0199, 617 555 0199, 6175550199 / 12345 followed by no word character
    "phone_ctx": lambda run, nxt, after: (
        nxt in ".-)" or (nxt == " " and (run >= 4 or after == "d")) or (run >= 4 and nxt in "/+o")
    ),
    "age_unit": lambda run, nxt, after: (
        nxt in "+-a" or (nxt == " " and after in "aAo")
    ),  # 92+ yo, 92-year-old
    "age_ctx": lambda run, nxt, after: nxt != "a" and nxt != ".",
    "age_sex": lambda run, nxt, after: nxt == "a" or (nxt == " " and after in "aA"),  # 92F, 92 F
    "age_is": lambda run, nxt, after: nxt != "a" and nxt != "/",
    # 5th of january, 5jan, 5-jan, 5 jan, 5 - jan
    "date_day_month": lambda run, nxt, after: nxt in "-a" or (nxt == " " and after in "aAo"),
    "date_ordinal": lambda run, nxt, after: nxt == "a",  # 5th
    "ssn_spaced": lambda run, nxt, after: nxt == " " and after == "d",
    "card": lambda run, nxt, after: nxt == "-" or (nxt == " " and after == "d"),
    # 12 Main St, 12-14 N Main St, 12B Main St: a space, then a capital or a digit, right after the token
    "street": lambda run, nxt, after: nxt in " -a" and after in "Ad",
    # on the lower-cased text, where a letter right after the run may have become a-z (the Kelvin sign)
    "street_upper": lambda run, nxt, after: nxt in " -a" and (after != "n" or nxt == "a"),
    "zip_state": lambda run, nxt, after: nxt != "a",
}
# The characters other than a digit that a digit-anchored rule can start with, one or two before a token:
# "(617) 555-0199", "+1 617 555 0199". Every other rule starts with a digit.
_OPENERS: dict[str, str] = {"phone": "(+", "phone_ctx": "("}
_RUN_FIRSTS = ("", "1", "9")
# What comes after a token (`_after_class`): "n" no space or tab right after it; past the spaces and tabs
# right after it, "d" a digit, "A" an ASCII capital, "a" an ASCII small letter, "o" anything else or the end.
_AFTER_CLASSES = "ndAao"


def _after_class(text: str, end: int) -> int:
    """What comes after a token that ends at `end`, as its index in `_AFTER_CLASSES`."""
    n = len(text)
    j = end
    while j < n and (text[j] == " " or text[j] == "\t"):
        j += 1
    if j == end:
        return 0
    if j == n:
        return 4
    o = ord(text[j])
    if 48 <= o <= 57:
        return 1
    if 65 <= o <= 90:
        return 2
    if 97 <= o <= 122:
        return 3
    return 4


def _run_shape(text: str, start: int, end: int) -> int:
    """The digit run the token text[start:end] starts with, the class of the character after the run and
    what comes after the token, as `_LEADING_RUN` and `_AFTER_RUN` read them, in one small int (`_shape_parts`
    reads it back); -1 when a non-ASCII digit could extend the run (then every rule is tried)."""
    i = start
    while i < end and 48 <= ord(text[i]) <= 57:
        i += 1
    nxt = 7  # "o": the end of the text
    if i < len(text):
        o = ord(text[i])
        if 48 <= o <= 57 or (o >= 128 and text[i].isdecimal()):
            return -1
        nxt = _next_class(text[i])
    o = ord(text[start])
    first = 1 if o == 49 else 2 if o == 57 else 0
    return ((first * 14 + min(i - start, 13)) * 8 + nxt) * 5 + _after_class(text, end)


_SHAPE_COUNT: Final = 3 * 14 * 8 * 5  # the values of `_run_shape` (but -1)


def _shape_parts(shape: int) -> tuple[str, int, str, str]:
    """(first digit if "1" or "9" else "", run length up to 13, class of the character after the run, what
    comes after the token)."""
    rest, after = divmod(shape, 5)
    rest, nxt = divmod(rest, 8)
    first, run = divmod(rest, 14)
    return _RUN_FIRSTS[first], run, _NEXT_CLASSES[nxt], _AFTER_CLASSES[after]


def _fits(name: str, shape: int) -> bool:
    """Whether rule `name` can match at a token of this shape (`_run_shape`)."""
    first, run, nxt, after = _shape_parts(shape)
    return _LEADING_RUN[name](first, run) and _AFTER_RUN[name](run, nxt, after)


# The rules with cue words (`Recognizer.cue_words`), one bit each: which of them can match at a token is
# known from the word before it (`_CUE_MASKS`), so that the others are left out of the regex tried there.
_CUE_RULES = tuple(_BEFORE_CUES)
_CUE_SPAN: Final = 1 << len(_CUE_RULES)
_CUE_MASKS: Final[dict[str, int]] = {}
for _bit, (_name, _cues) in enumerate(_BEFORE_CUES.items()):
    for _cue in _cues:
        _CUE_MASKS[_cue] = _CUE_MASKS.get(_cue, 0) | 1 << _bit


def _token_key(text: str, lower: str, start: int, end: int) -> int:
    """What decides which digit-anchored rules can match at a token: its shape (`_run_shape`) and which rules
    its cue word allows (`_CUE_MASKS`), in one int; -1 when every rule must be tried."""
    shape = _run_shape(text, start, end)
    if shape < 0:
        return -1
    return shape * _CUE_SPAN + _CUE_MASKS.get(_word_ending(lower, max(0, start - 24), start), 0)


class _AnchorSet:
    """The digit-anchored rules for one subject: all in one regex (`full`), and per token key (`_token_key`)
    only those that can match there (built on first use; None when no rule can)."""

    def __init__(self, rules: list[Recognizer]) -> None:
        full = _combine(rules)
        assert full is not None
        self.full = full
        self.rules = rules
        self._by_key: list[_Combined | None] = [_UNBUILT] * (_SHAPE_COUNT * _CUE_SPAN)  # indexed by key
        self._by_opener: dict[str, _Combined | None] = {}
        self._by_rules: dict[tuple[int, ...], _Combined | None] = {}

    def _subset(self, indices: list[int]) -> _Combined | None:
        """The rules at `indices`, combined (once per subset: many keys share one)."""
        key = tuple(indices)
        if key not in self._by_rules:
            self._by_rules[key] = _combine([self.rules[i] for i in indices], indices)
        return self._by_rules[key]

    def for_key(self, key: int) -> _Combined | None:
        combined = self._by_key[key]
        if combined is _UNBUILT:
            shape, mask = divmod(key, _CUE_SPAN)
            combined = self._by_key[key] = self._subset(
                [
                    i
                    for i, r in enumerate(self.rules)
                    if _fits(r.name, shape) and (not r.cue_words or mask >> _CUE_RULES.index(r.name) & 1)
                ]
            )
        return combined

    def for_opener(self, c: str) -> _Combined | None:
        """The rules that can start with `c`, a character other than a digit (`_OPENERS`)."""
        combined = self._by_opener.get(c, self)
        if combined is self:
            combined = self._by_opener[c] = self._subset(
                [i for i, r in enumerate(self.rules) if c in _OPENERS.get(r.name, "")]
            )
        return combined  # type: ignore[return-value]


def _anchor_sets(upper: bool) -> tuple[tuple[_AnchorSet, bool], ...]:
    """The digit-anchored rules for upper- or mixed-case text, combined per subject (lower-cased or not)."""
    rules = [
        r
        for r in RECOGNIZERS
        if r.anchor and r.name != "iban" and not (r.mixed_only if upper else r.upper_only)
    ]
    missing = {r.name for r in rules} - (set(_LEADING_RUN) & set(_AFTER_RUN))
    if missing:
        raise ValueError(
            f"digit-anchored rules without _LEADING_RUN and _AFTER_RUN entries: {sorted(missing)}"
        )
    unknown = (set(_OPENERS) | set(_BEFORE_CUES)) - {r.name for r in RECOGNIZERS if r.anchor}
    unknown |= {name for name in _AFTER_TRIGGER if _WORD_TRIGGERS[name][1] != 0}
    if unknown:
        raise ValueError(
            f"_OPENERS, _BEFORE_CUES or _AFTER_TRIGGER name rules they cannot fit: {sorted(unknown)}"
        )
    out = []
    for on_lower in (True, False):
        subset = [r for r in rules if r.lower == on_lower]
        if subset:
            out.append((_AnchorSet(subset), on_lower))
    return tuple(out)


_ANCHOR_SETS: Final = {True: _anchor_sets(True), False: _anchor_sets(False)}
_IBAN: Final = next(r for r in RECOGNIZERS if r.name == "iban")
_WORD_RULES = {
    upper: tuple(r for r in RECOGNIZERS if r.words and not (r.mixed_only if upper else r.upper_only))
    for upper in (True, False)
}
_OTHER_RULES: Final = {
    upper: tuple(
        r
        for r in RECOGNIZERS
        if not r.words and not r.anchor and not (r.mixed_only if upper else r.upper_only)
    )
    for upper in (True, False)
}
# Possessive (no backtracking: none could change a match) and, on ASCII text, [0-9] for \d (a range test
# per character instead of a Unicode-database call): the regex engine's cost is in this scan of every text.
_DIGIT_TOKEN: Final = re.compile(r"\d[A-Za-z0-9]*+(?:[-./:][A-Za-z0-9]++)*+")
_DIGIT_TOKEN_ASCII: Final = re.compile(r"[0-9][A-Za-z0-9]*+(?:[-./:][A-Za-z0-9]++)*+")


def digit_tokens(text: str) -> list[tuple[int, int]]:
    """(start, end) of every run of letters/digits joined by - . / : that holds a digit."""
    out: list[tuple[int, int]] = []
    last_end = 0
    for m in (_DIGIT_TOKEN_ASCII if text.isascii() else _DIGIT_TOKEN).finditer(text):
        start, end = m.span()
        if start < last_end:
            continue
        if not start or text[start - 1] in " \t\n\r(,;:/=#$<>[\"'*":  # common: nothing to extend over
            out.append((start, end))
            last_end = end
            continue
        k = start
        while k > last_end and start - k < 8 and text[k - 1].isalnum():
            k -= 1
        if k > last_end + 1 and text[k - 1] == "-" and text[k - 2].isalpha():  # "WNU-3735-91"
            j = k - 1
            while j > last_end and k - j < 8 and text[j - 1].isalpha():
                j -= 1
            k = j
        if k > 0 and (text[k - 1].isalnum() or text[k - 1] == "_"):
            last_end = end
            continue  # glued to a longer word
        out.append((k, end))
        last_end = end
    return out


# Which token rules can match a token of a given shape: (digits only, length, has / - . :).
_TOKEN_SHAPES: Final[dict[str, tuple[int, int, bool | None, str]]] = {
    # name: (min length, max length, digits only (None: either), one of these characters required)
    "ipv4": (7, 15, False, "."),
    "ssn": (11, 11, False, "-"),
    "mbi": (11, 13, False, ""),
    "dea": (9, 9, False, ""),
    "vin": (17, 17, False, ""),
    "mac": (17, 17, False, ":-"),
    "long_code": (5, 40, False, ""),
    "long_number": (7, 99, True, ""),
    "card_plain": (12, 19, True, ""),
    "dash_number": (9, 40, False, "-"),
    "date_iso": (8, 40, False, "-"),
    "date_ymd_slash": (8, 10, False, "/."),
    "date_compact": (8, 8, True, ""),
    "date_numeric_y": (5, 10, False, "/.-"),
    "date_md": (3, 5, False, "/"),
    "date_my": (6, 7, False, "/"),
    "zip4": (10, 10, False, "-"),
}
_shape_cache: Final[dict[tuple[bool, int, bool, bool, bool, bool], tuple[Recognizer, ...]]] = {}


def _rules_for(value: str) -> tuple[Recognizer, ...]:
    """The token rules that can match a token shaped like `value` (cached per shape)."""
    digits_only = value.isdigit()
    key = (digits_only, min(len(value), 41), "/" in value, "-" in value, "." in value, ":" in value)
    rules = _shape_cache.get(key)
    if rules is None:
        seps = {c for c, present in zip("/-.:", key[2:], strict=True) if present}
        rules = _shape_cache[key] = tuple(
            r
            for r in TOKEN_RECOGNIZERS
            if (shape := _TOKEN_SHAPES[r.name])[0] <= key[1] <= shape[1]
            and (shape[2] is None or shape[2] == digits_only)
            and (not shape[3] or any(c in seps for c in shape[3]))
        )
    return rules


def _token_hits(value: str) -> list[Recognizer]:
    """The token rules that match all of `value` and whose validator accepts it. (One to four rules fit a
    shape; separate fullmatch calls measured slightly faster here than one combined regex.)"""
    return [
        rec
        for rec in _rules_for(value)
        if rec.regex.fullmatch(value) is not None and (rec.validate is None or rec.validate(value))
    ]


# What the token rules make of a token value: the hits (type, score, whether it is a date_md hit, which
# is dropped in a fraction context) and the date parts of a range, as (offset, end offset, type, score),
# used when no hit is kept. Computed once per distinct value: values repeat across notes (HER2, V600E).
_ValueHits = tuple[tuple[tuple[str, float, bool], ...], tuple[tuple[int, int, str, float], ...]]
_value_cache: Final[dict[str, _ValueHits]] = {}


def _value_hits(value: str) -> _ValueHits:
    hits = tuple((r.type, r.score, r.name == "date_md") for r in _token_hits(value))
    parts: list[tuple[int, int, str, float]] = []
    if "-" in value and "/" in value:  # date ranges: "3/4/21-3/9/21", "7/22-7/25"
        pos = 0
        for part in value.split("-"):
            if len(part) >= 3:
                rec = next((r for r in _token_hits(part) if r.type == "DATE"), None)
                if rec is not None:
                    parts.append((pos, pos + len(part), rec.type, rec.score))
            pos += len(part) + 1
    if len(_value_cache) > 100_000:
        _value_cache.clear()
    result = _value_cache[value] = (hits, tuple(parts))
    return result


def _token_matches(
    text: str, lower: str, start: int, end: int, out: list[tuple[int, int, str, float]]
) -> None:
    value = text[start:end]
    if len(value) < 7 and value.isdigit():
        return  # doses, vitals, counts: no token rule matches a short plain number
    cached = _value_cache.get(value)
    hits, parts = cached if cached is not None else _value_hits(value)
    found = False
    for type_, score, md in hits:
        if md and (
            _fraction_before(lower, max(0, start - 24), start) or _FRACTION_AFTER.match(lower, end, end + 24)
        ):
            continue
        found = True
        out.append((start, end, type_, score))
    if not found:
        for a, b, type_, score in parts:
            out.append((start + a, start + b, type_, score))


_FAX_CUE: Final = re.compile(
    r"(?:\bfax|facsimile|\bf\W{1,3})(?![^\n.;]*\b(?:phone|tel|cell|call|mobile|pager)\b)[^\n.;]{0,20}\Z"
)


def _may_be_fax(lower: str, lo: int, k: int) -> bool:
    """Whether lower[lo:k] holds the start of a fax cue (`_FAX_CUE`): "fa" ("fax", "facsimile"), or an "f"
    with a word boundary before it and no word character after it ("f: ", "(f) ")."""
    i = lower.find("f", lo, k)
    while 0 <= i < k - 1:
        c = lower[i + 1]
        if c == "a":
            return True
        if not (c.isalnum() or c == "_") and (i == 0 or not (lower[i - 1].isalnum() or lower[i - 1] == "_")):
            return True
        i = lower.find("f", i + 1, k)
    return False


def lower_copy(text: str) -> str:
    """text.lower() with the same length (a few characters lower-case to two; those stay as they are)."""
    lower = text.lower()
    if len(lower) == len(text):
        return lower
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _emit(
    rec: Recognizer,
    subject: str,
    text: str,
    lower: str,
    m_start: int,
    start: int,
    end: int,
    out: list[tuple[int, int, str, float]],
) -> bool:
    """Apply a rule's checks to one match (that starts at `m_start`; the identifier is [start, end)) and
    keep it; whether it was kept."""
    if rec.left and m_start and (subject[m_start - 1].isalnum() or subject[m_start - 1] == "_"):
        return False
    before = rec.before
    if before is not None:
        lo = max(0, m_start - 24)
        if rec.cue_words and _word_ending(lower, lo, m_start) not in rec.cue_words:
            return False
        if not before.search(subject, lo, m_start):
            return False
    if rec.validate is not None and not rec.validate(text[start:end]):
        return False
    type_ = rec.type
    if (
        type_ == "PHONE"
        and _may_be_fax(lower, max(0, start - 24), start)  # most phone numbers: no regex search
        and _FAX_CUE.search(lower, max(0, start - 24), start)
    ):
        type_ = "FAX"
    out.append((start, end, type_, rec.score))
    return True


def _word_ending(lower: str, lo: int, k: int) -> str:
    """The a-z letters that end right before `k`, past white space and the characters of `_CUE_SKIP`, not
    reaching below `lo`."""
    j = k
    while j > lo:
        o = ord(lower[j - 1])
        skip = o == 32 or o == 40 or o == 58 or o == 35 or o == 61 or o == 46 or o == 44 or 9 <= o <= 13
        if not (skip or ((28 <= o <= 31 or o >= 128) and lower[j - 1].isspace())):
            break
        j -= 1
    i = j
    while i > lo and 97 <= ord(lower[i - 1]) <= 122:
        i -= 1
    return lower[i:j]


def _where(m: re.Match[str]) -> tuple[int, int, int]:
    """Match start and the identifier's span: the `v` group, else the `w` group, else the whole match."""
    groups = m.re.groupindex
    if "v" in groups and m.group("v") is not None:
        return (m.start(), *m.span("v"))
    if "w" in groups and m.group("w") is not None:
        return (m.start(), *m.span("w"))
    return (m.start(), m.start(), m.end())


def _run_anchored(
    anchors: _AnchorSet,
    subject: str,
    text: str,
    lower: str,
    starts: list[int],
    keys: list[int],
    out: list[Any],
) -> None:
    """Every digit-anchored rule at every digit-token start (or at a "(" / "+" right before it); `keys` says
    which rules can match at each token (`_token_key`)."""
    full = anchors.full
    last_end = [-1] * len(full.rules)  # per rule: where its last match ended (a rule's matches never overlap)
    for k, key in zip(starts, keys, strict=True):
        combined = full if key < 0 else anchors.for_key(key)
        if k and subject[k - 1] in "(+":  # "(617) 555-0199", "+1 617 ...": a rule may start one or two back
            tries = [(anchors.for_opener(subject[k - 1]), k - 1), (combined, k)]
            if k > 1 and subject[k - 2] == "+":
                tries.insert(1, (anchors.for_opener("+"), k - 2))
            _take_first(tries, k, last_end, subject, text, lower, out)
            continue
        if combined is None:
            continue  # no rule can match here ("2", "1500000000000", "110/60")
        m = combined.regex.match(subject, k)
        last = m.lastindex  # type: ignore[union-attr]
        if last is None:
            continue  # no rule matches here: the common case, one C call
        regs = m.regs  # type: ignore[union-attr]
        for i, rec, group, v, w in combined.rules:
            if group > last:
                break  # `last` is the group of the last rule that matched (or one inside it)
            m_start, m_end = regs[group]
            if m_start < 0 or k < last_end[i]:
                continue
            last_end[i] = m_end
            start, end = (
                regs[v] if v and regs[v][0] >= 0 else regs[w] if w and regs[w][0] >= 0 else regs[group]
            )
            _emit(rec, subject, text, lower, m_start, start, end, out)


def _take_first(
    tries: list[tuple[_Combined | None, int]],
    k: int,
    last_end: list[int],
    subject: str,
    text: str,
    lower: str,
    out: list[Any],
) -> None:
    """Each rule's first match among `tries` (rules and where to try them: k-1, k-2, k), as if the rule were
    tried alone at each."""
    done: set[int] = set()
    for combined, pos in tries:
        if combined is None:
            continue
        m = combined.regex.match(subject, pos)
        if m is None or m.lastindex is None:
            continue
        regs = m.regs
        for i, rec, group, v, w in combined.rules:
            m_start, m_end = regs[group]
            if m_start < 0 or i in done or k < last_end[i]:
                continue
            done.add(i)
            last_end[i] = m_end
            start, end = (
                regs[v] if v and regs[v][0] >= 0 else regs[w] if w and regs[w][0] >= 0 else regs[group]
            )
            _emit(rec, subject, text, lower, m_start, start, end, out)


def _trigger_positions(lower: str, upper: bool) -> dict[str, list[tuple[int, int]]]:
    """(start, end) of each rule's trigger words (whole words: no a-z on either side) in the text, by rule
    name."""
    out: dict[str, list[tuple[int, int]]] = {}
    # Most texts hold few trigger words: find which with C-level byte operations (every character but a-z
    # becomes a space, a non-ASCII one by way of "?"; split; intersect), then locate only those.
    present = _TRIGGER_WORDS[upper].intersection(
        lower.encode("ascii", "replace").translate(_LETTERS_ONLY).split()
    )
    for raw in present:
        word, names = _TRIGGER_RULES[upper][raw]
        spans = []
        n, i = len(word), lower.find(word)
        while i >= 0:
            end = i + n
            if (i and 97 <= ord(lower[i - 1]) <= 122) or (end < len(lower) and 97 <= ord(lower[end]) <= 122):
                i = lower.find(word, i + 1)  # inside a longer word
            else:
                spans.append((i, end))
                i = lower.find(word, end)
        for name in names:
            out.setdefault(name, []).extend(spans)
    return out


_LETTERS_ONLY: Final = bytes(c if 97 <= c <= 122 else 32 for c in range(256))


def _run_triggered(
    rec: Recognizer, subject: str, text: str, lower: str, hits: list[tuple[int, int]], out: list[Any]
) -> None:
    back = _WORD_TRIGGERS[rec.name][1]
    hits.sort()
    last_end = -1
    if back == 0:  # the match starts at the trigger word
        follow = _AFTER_TRIGGER.get(rec.name, "")
        for start, end in hits:
            if start < last_end:
                continue
            if follow:
                j = end
                while j < len(subject) and subject[j] in " \t.,":
                    j += 1
                if j == len(subject) or subject[j] not in follow:
                    continue  # the rule cannot match here
            m = rec.regex.match(subject, start)
            if m is not None and _emit(rec, subject, text, lower, *_where(m), out):
                last_end = m.end()  # a rejected match ("discussed with wife, anna") hides no later trigger
        return
    windows: list[list[int]] = []
    for start, end in hits:
        lo, hi = max(0, start - back), min(len(subject), end + _WINDOW_AFTER)
        if windows and lo <= windows[-1][1]:
            windows[-1][1] = hi
        else:
            windows.append([lo, hi])
    for lo, hi in windows:
        for m in rec.regex.finditer(subject, lo, hi):
            if m.start() >= last_end:
                last_end = m.end()
                _emit(rec, subject, text, lower, *_where(m), out)


def _ipv6_windows(lower: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for m in _IPV6_NEAR.finditer(lower):
        lo, hi = max(0, m.start() - 40), min(len(lower), m.end() + 40)
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


_TLD: Final = re.compile(
    r"\.(?:com|org|net|edu|gov|mil|io|us|info|biz|health|care|clinic|hospital|med|co|uk|ca|de|fr|nl|se|be|ch|es|"
    r"it|pt|br|pl|cz|cy|uy|au|nz|in|ie|me|app|online|site)\b(?:/[^\s<>\"']*[^\s<>\"'.,;:!?)])?(?![\w@-])"
)
_DOMAIN_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_DOMAIN: Final = re.compile(
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)


_EMAIL: Final = re.compile(r"[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")
_EMAIL_LOCAL: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._%+-")


def _emails(lower: str) -> Iterator[tuple[int, int, str, float]]:
    """E-mail addresses, anchored on "@" and grown both ways."""
    at = lower.find("@")
    last_end = 0
    while at >= 0:
        k = at
        while k > last_end and lower[k - 1] in _EMAIL_LOCAL:
            k -= 1
        while k < at and not lower[k].isalnum():
            k += 1
        e = at + 1
        while e < len(lower) and lower[e] in _DOMAIN_CHARS:
            e += 1
        while e > at and not lower[e - 1].isalpha():
            e -= 1
        m = _EMAIL.fullmatch(lower, k, e) if k < at < e else None
        if m is not None:
            yield k, e, "EMAIL", 0.99
            last_end = e
        at = lower.find("@", max(at + 1, last_end))


def _domains(lower: str) -> Iterator[tuple[int, int, str, float]]:
    """Bare domains ("smithfamilyblog.com/x"), anchored on the top-level domain and walked back."""
    if "." not in lower:
        return
    for m in _TLD.finditer(lower):
        k = m.start()
        while k > 0 and lower[k - 1] in _DOMAIN_CHARS and m.start() - k < 200:
            k -= 1
        while k < m.start() and not lower[k].isalnum():
            k += 1
        if k == m.start() or (k and lower[k - 1] in "@_"):
            continue
        if _DOMAIN.fullmatch(lower, k, m.start()) is None:
            continue
        yield k, m.end(), "URL", 0.8


def run(text: str, upper: bool, lower: str | None = None) -> list[tuple[int, int, str, float]]:
    """Every raw match (start, end, type, score) of every recognizer; overlaps are resolved by the scanner."""
    if lower is None:
        lower = lower_copy(text)
    out: list[tuple[int, int, str, float]] = []
    has_digit = _text_has_digit(text)
    if has_digit:
        digit_starts: list[int] = []
        digit_keys: list[int] = []
        alpha_starts: list[int] = []
        for start, end in digit_tokens(text):
            if text[start].isdigit():
                digit_starts.append(start)
                digit_keys.append(_token_key(text, lower, start, end))
            else:
                alpha_starts.append(start)
            if end - start < 3:
                continue
            if end - start <= 41:
                ctx = _context_id(lower, start, end)
                if ctx is not None:
                    out.append((start, end, ctx, _CTX_SCORES[ctx]))
            _token_matches(text, lower, start, end, out)
        if digit_starts:
            for anchors, on_lower in _ANCHOR_SETS[upper]:
                subject = lower if on_lower else text
                _run_anchored(anchors, subject, text, lower, digit_starts, digit_keys, out)
        if alpha_starts:
            for m in _anchored_single(_IBAN.regex, lower, alpha_starts):
                _emit(_IBAN, lower, text, lower, *_where(m), out)
    if "@" in lower:
        out.extend(_emails(lower))
    out.extend(_domains(lower))
    for name, hits in _trigger_positions(lower, upper).items():
        rec = _BY_NAME[name]
        if rec.digits and not has_digit:
            continue
        _run_triggered(rec, lower if rec.lower else text, text, lower, hits, out)
    for rec in _OTHER_RULES[upper]:
        if rec.digits and not has_digit:
            continue
        if rec.triggers and not any(map(lower.__contains__, rec.triggers)):
            continue
        subject = lower if rec.lower else text
        if rec.near is not None:
            if lower.count(":") < _IPV6_MIN_COLONS:
                continue
            matches: Any = [m for lo, hi in _ipv6_windows(lower) for m in rec.regex.finditer(subject, lo, hi)]
        else:
            matches = rec.regex.finditer(subject)
        for m in matches:
            _emit(rec, subject, text, lower, *_where(m), out)
    return out


def _anchored_single(regex: re.Pattern[str], subject: str, starts: list[int]) -> list[re.Match[str]]:
    """One rule tried at each start, without overlaps (the IBAN rule, anchored on letter-led tokens)."""
    out = []
    last_end = -1
    for k in starts:
        if k < last_end:
            continue
        m = regex.match(subject, k)
        if m is not None:
            out.append(m)
            last_end = m.end()
    return out


_BY_NAME: Final = {r.name: r for r in RECOGNIZERS}
# Per text case, each trigger word (as bytes) -> the word and the rules it triggers.
_TRIGGER_RULES: Final[dict[bool, dict[bytes, tuple[str, tuple[str, ...]]]]] = {
    upper: {
        word.encode(): (word, tuple(r.name for r in _WORD_RULES[upper] if word in r.words))
        for word in frozenset().union(*(r.words for r in _WORD_RULES[upper]))
    }
    for upper in (True, False)
}
_TRIGGER_WORDS: Final = {upper: frozenset(_TRIGGER_RULES[upper]) for upper in (True, False)}
