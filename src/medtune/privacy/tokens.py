"""Capitalised word tokens with the facts the name and place recognizers need, computed once per text.

Only capitalised words are tokens (in upper-case text that is every word): names and places are capitalised,
and skipping the rest keeps the scanner fast. Classifications are cached per word.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Final

from medtune.privacy.dictionaries import Lexicon, fold
from medtune.privacy.exclusions import ABBREVIATIONS, CLINICAL, DRUGS, EPONYM_FOLLOWERS, EPONYMS, words

# A capitalised word: a capital, letters, then apostrophe parts and hyphen parts, i.e.
# "[A-ZÀ-ÖØ-ÞĀ-ſ][^\W\d_]*(?:['’][^\W\d_]+)*(?:-[^\W\d_]+)*", and the same in ASCII ([A-Z], [A-Za-z], no
# curly apostrophe) for ASCII text, where the plain class lets the regex engine skip to the next capital far
# faster. Written as one capturing group for `split` ([gap, word, gap, ..., gap] comes back as a list of
# strings built in C, with no match object per word; a word's offset is the sum of the lengths before it),
# and with the tail spelled as alternatives that start with the apostrophe or hyphen they need:
# "(?:'L+)*(?:-L+)*" makes the regex engine set up two repeats per word even when, as nearly always, the
# word ends there; a branch on the next character costs far less. Nothing follows the tail, so no match ever
# backtracks into it and both spellings match the same words (fuzzed in tests/test_phi_anchor_filters.py).
_CAP_SPLIT: Final = re.compile(
    r"([A-ZÀ-ÖØ-ÞĀ-ſ][^\W\d_]*"
    r"(?:['’][^\W\d_]+(?:['’][^\W\d_]+)*(?:-[^\W\d_]+)*|-[^\W\d_]+(?:-[^\W\d_]+)*|))"
)
_CAP_SPLIT_ASCII: Final = re.compile(
    r"([A-Z][A-Za-z]*(?:'[A-Za-z]+(?:'[A-Za-z]+)*(?:-[A-Za-z]+)*|-[A-Za-z]+(?:-[A-Za-z]+)*|))"
)

TITLES: Final = words(
    """
    dr doctor mr mrs ms miss mx prof professor rev fr dra sra mme mlle herr frau
    """
)

# Token classes
TITLE: Final = "T"
INITIAL: Final = "I"
FIRST: Final = "F"
LAST: Final = "L"
AMBIG: Final = "A"
MEDICAL: Final = "M"
COMMON: Final = "C"
UNKNOWN: Final = "U"
_NAME_CLASSES: Final = frozenset((FIRST, LAST, AMBIG))
NAME_LIKE: Final = frozenset((FIRST, LAST, UNKNOWN, AMBIG, INITIAL))


# An explicit __init__ (init=False): a dataclass-generated one is interpreted Python even when mypyc compiles
# the class, and this runs once per token.
@dataclass(slots=True, init=False)
class Tok:
    start: int
    end: int  # without a possessive 's
    word: str
    key: str  # folded
    cls: str
    possessive: bool

    def __init__(self, start: int, end: int, word: str, key: str, cls: str, possessive: bool) -> None:
        self.start = start
        self.end = end
        self.word = word
        self.key = key
        self.cls = cls
        self.possessive = possessive


# A token's end: the key for bisecting a text's tokens (their ends are sorted).
TOK_END: Final = operator.attrgetter("end")


def dot_then_blanks(text: str, a: int, b: int) -> bool:
    """text[a:b] is an optional dot followed only by spaces or tabs (what the gap checks between name and
    place words share; each adds its own length limits)."""
    if text[a] == ".":
        a += 1
    while a < b:
        c = text[a]
        if c != " " and c != "\t":
            return False
        a += 1
    return True


class _Entry:
    """What a word as matched (a possessive 's included) stands for: cached per word by the tokenizer."""

    __slots__ = ("cls", "key", "named", "possessive", "word")

    def __init__(self, word: str, key: str, cls: str, possessive: bool, named: bool) -> None:
        self.word = word  # without a possessive 's
        self.key = key
        self.cls = cls
        self.possessive = possessive
        self.named = named  # the class is a name class: the word may be an eponym ("Wilson disease")


_NOT_UPPER: Final = bytes(c for c in range(256) if not 65 <= c <= 90)
_NOT_LOWER: Final = bytes(c for c in range(256) if not 97 <= c <= 122)


def is_upper_text(text: str) -> bool:
    """Mostly upper-case text (ICU nursing notes, claims): capitalisation says nothing about names there."""
    raw = text.encode("ascii", "ignore")
    upper = len(raw.translate(None, _NOT_UPPER))
    if upper < 4:
        return False
    return upper > 3 * len(raw.translate(None, _NOT_LOWER))


class Tokenizer:
    """Tokenises with a per-word classification cache (words repeat a lot across a corpus)."""

    def __init__(self, lex: Lexicon) -> None:
        self.lex = lex
        # One cache per text case (upper-case text reads acronyms differently), keyed by the word alone:
        # a plain string key is cheaper to hash than a (word, upper) tuple, and this runs for every token.
        self._caches: dict[bool, dict[str, tuple[str, str]]] = {True: {}, False: {}}
        # The same per word as matched (a possessive 's included): what tokenize needs, in one look-up.
        self._entries: dict[bool, dict[str, _Entry]] = {True: {}, False: {}}

    def classify(self, word: str, upper: bool) -> tuple[str, str]:
        cache = self._caches[upper]
        cached = cache.get(word)
        if cached is not None:
            return cached
        key = fold(word)
        lex = self.lex
        if not word[0].isupper():
            cls = COMMON
        elif len(key) == 1:
            cls = INITIAL
        elif key in TITLES:
            cls = TITLE
        elif key in CLINICAL or key in ABBREVIATIONS or key in DRUGS or key in EPONYMS:
            cls = MEDICAL
        else:
            parts = key.split("-") if "-" in key else (key,)
            is_first = parts[0] in lex.first
            is_last = any(p in lex.last for p in parts) or any(p in lex.first for p in parts[1:])
            if not upper and word.isupper() and (len(word) <= 3 or not (is_first or is_last)):
                cls = MEDICAL  # an acronym in mixed-case text (FOLFOX, RECIST, IHC)
            elif (
                not upper
                and "-" in word
                and any(p[:1].isupper() and p[1:].isupper() for p in word.split("-"))
            ):
                cls = MEDICAL  # MSI-H, PET-CT, ER-positive
            elif is_first:
                cls = FIRST
            elif is_last:
                cls = LAST
            elif key in lex.ambiguous:
                cls = AMBIG
            elif key in lex.common:
                cls = COMMON
            else:
                cls = UNKNOWN
        if len(cache) > 200_000:
            cache.clear()
        cache[word] = (key, cls)
        return key, cls

    def _entry(self, raw: str, upper: bool) -> _Entry:
        """What a matched word stands for, cached by the word as matched (with any possessive 's)."""
        entries = self._entries[upper]
        word, possessive = raw, False
        if raw[-1] in "sS" and len(raw) > 2 and raw[-2] in "'’":
            word, possessive = raw[:-2], True
        key, cls = self.classify(word, upper)
        if len(entries) > 200_000:
            entries.clear()
        entry = entries[raw] = _Entry(word, key, cls, possessive, cls in _NAME_CLASSES)
        return entry

    def tokenize(self, text: str, upper: bool) -> list[Tok]:
        toks: list[Tok] = []
        entries = self._entries[upper]
        parts: list[str] = (_CAP_SPLIT_ASCII if text.isascii() else _CAP_SPLIT).split(text)
        end = len(parts[0])  # where the gap before the next word starts
        for i in range(1, len(parts), 2):
            raw = parts[i]
            start = end
            end = start + len(raw) + len(parts[i + 1])
            entry = entries.get(raw)
            if entry is None:
                entry = self._entry(raw, upper)
            word = entry.word
            stop = start + len(word)  # a possessive 's is not part of the word
            if entry.named and _eponym_follows(text, stop):  # Wilson's disease, Murphy's sign, Down syndrome
                toks.append(Tok(start, stop, word, entry.key, MEDICAL, entry.possessive))
            else:
                toks.append(Tok(start, stop, word, entry.key, entry.cls, entry.possessive))
        return toks


# (" " or "'s ") + the word after it -> whether EPONYM_FOLLOWERS matches there
_FOLLOWS: Final[dict[str, bool]] = {}


def _eponym_follows(text: str, end: int) -> bool:
    """`EPONYM_FOLLOWERS.match(text, end) is not None`, without running that long case-insensitive
    alternation per name: in the common case (ASCII blanks, then an ASCII word ending at an ASCII non-word
    character) the answer depends only on whether a possessive 's comes first and on that word, and is cached
    per word. Anything else (curly apostrophes, non-ASCII letters or blanks, "Smith 's", "s'") asks the
    regex itself. Characters are compared as code points (compiled, ord(s[i]) reads the character in place):
    on ASCII the regex's \\s is 9-13, 28-31 and 32, its \\w 0-9, A-Z, a-z and _."""
    n = len(text)
    p = end
    prefix = " "
    if p + 1 < n and text[p] == "'" and text[p + 1] in "sS":
        p += 2
        prefix = "'s "
    q = p
    while q < n:
        c = ord(text[q])
        if not (c == 32 or 9 <= c <= 13 or 28 <= c <= 31):
            break
        q += 1
    if q == p:  # no ASCII blank: only a possessive ("'s", "’s", "s'") or a non-ASCII blank can start a match
        if q == n:
            return False
        c = ord(text[q])
        if c < 128 and (prefix != " " or not (c == 39 or c == 115 or c == 83)):  # ' s S
            return False
        return EPONYM_FOLLOWERS.match(text, end) is not None
    r = q
    while r < n:
        c = ord(text[r])
        if not (97 <= c <= 122 or 65 <= c <= 90 or 48 <= c <= 57 or c == 95):
            break
        r += 1
    if r < n and (ord(text[r]) > 127 or text[r] == "'"):
        return EPONYM_FOLLOWERS.match(text, end) is not None  # the word may go on, or be "s'" or "'s"
    if r == q:
        return False  # a blank, then no word: an ASCII non-word character or the end
    key = prefix + text[q:r]
    known = _FOLLOWS.get(key)
    if known is None:
        if len(_FOLLOWS) > 100_000:
            _FOLLOWS.clear()
        known = _FOLLOWS[key] = EPONYM_FOLLOWERS.match(key) is not None
    return known
