"""Capitalised word tokens with the facts the name and place recognizers need, computed once per text.

Only capitalised words are tokens (in upper-case text that is every word): names and places are capitalised,
and skipping the rest keeps the scanner fast. Classifications are cached per word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medtune.privacy.dictionaries import Lexicon, fold
from medtune.privacy.exclusions import ABBREVIATIONS, CLINICAL, DRUGS, EPONYM_FOLLOWERS, EPONYMS, words

_CAP_WORD = re.compile(r"[A-ZÀ-ÖØ-ÞĀ-ſ][^\W\d_]*(?:['’][^\W\d_]+)*(?:-[^\W\d_]+)*")
# The same on ASCII text (where a letter is [A-Za-z] and there is no curly apostrophe): a plain ASCII class
# lets the regex engine skip to the next capital far faster than the Unicode ranges above.
_CAP_WORD_ASCII = re.compile(r"[A-Z][A-Za-z]*(?:'[A-Za-z]+)*(?:-[A-Za-z]+)*")

TITLES = words(
    """
    dr doctor mr mrs ms miss mx prof professor rev fr dra sra mme mlle herr frau
    """
)

# Token classes
TITLE, INITIAL, FIRST, LAST, AMBIG, MEDICAL, COMMON, UNKNOWN = "TIFLAMCU"
_NAME_CLASSES = frozenset((FIRST, LAST, AMBIG))
NAME_LIKE = frozenset((FIRST, LAST, UNKNOWN, AMBIG, INITIAL))


@dataclass(slots=True)
class Tok:
    start: int
    end: int  # without a possessive 's
    word: str
    key: str  # folded
    cls: str
    possessive: bool


# (word without a possessive 's, folded key, class, had a possessive 's, class is a name class)
_Entry = tuple[str, str, str, bool, bool]

_NOT_UPPER = bytes(c for c in range(256) if not 65 <= c <= 90)
_NOT_LOWER = bytes(c for c in range(256) if not 97 <= c <= 122)


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
        entry = entries[raw] = (word, key, cls, possessive, cls in _NAME_CLASSES)
        return entry

    def tokenize(self, text: str, upper: bool) -> list[Tok]:
        toks: list[Tok] = []
        append = toks.append
        entries = self._entries[upper]
        followers = EPONYM_FOLLOWERS.match
        for m in (_CAP_WORD_ASCII if text.isascii() else _CAP_WORD).finditer(text):
            raw = m[0]
            entry = entries.get(raw)
            word, key, cls, possessive, named = entry if entry is not None else self._entry(raw, upper)
            start = m.start()
            end = start + len(word)  # a possessive 's is not part of the word
            if named and followers(text, end):
                cls = MEDICAL  # Wilson's disease, Murphy's sign, Down syndrome
            append(Tok(start, end, word, key, cls, possessive))
        return toks
