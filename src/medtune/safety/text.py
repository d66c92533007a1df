"""One text being checked: quoted regions, sentences, paragraphs and negation look-back, computed lazily.

Every detector that looks at the same text shares one `TextView`, so the quote regions and sentence
boundaries are found at most once per check, and only if some rule asks for them.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from medtune.safety.patterns import phrase_alternation

# "..." “...” ‘...’ and '...' when the marks stand at word edges (so the apostrophe in don't is not a quote).
# Every alternative begins with its opening mark (the word-edge test for ' comes after it, as a look-behind
# over the mark), so the regex engine skips straight to quote characters instead of trying every position.
_QUOTES = re.compile(
    r"\"[^\"]{1,2000}\"|“[^”]{1,2000}”|‘[^’\n]{1,1000}’|'(?<!\w')(?=\S)[^'\n]{1,1000}(?<=\S)'(?!\w)|«[^»]{1,2000}»"
)
# A sentence ends after . ! ? or ; (and any closing quotes or brackets) followed by whitespace, or at a line
# break. Two regexes, each beginning with a character class, which the regex engine scans for in a tight loop
# (an alternation of the two, or a look-behind for the punctuation, is tried at every offset instead).
_SENTENCE_END = re.compile(r"[.!?;][\"'”’)\]]*\s+")
_LINE_END = re.compile(r"\n\s*")
_PARAGRAPH_END = re.compile(r"\n[ \t]*\n\s*")
_ABBREVIATION_WORDS = "dr mr mrs ms prof st vs eg e.g ie i.e approx fig no nos dept inc jr sr mt ft ca cf al"
_ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
# Every abbreviation has at least two characters: its last two are a cheap first test before the lookup.
_ABBREVIATION_TAILS = frozenset(word[-2:] for word in _ABBREVIATIONS)
_CLAUSE_BREAK = re.compile(r"[.!?;\n]|\s[-–—]+\s|—")
_TOKEN = re.compile(r"[0-9a-z]+(?:'[a-z]+)?")
_LOOKBACK_CHARS = 200
# Tokens for gating: lower-cased text split on everything that is not a word character (ASCII punctuation and
# the usual typographic marks). str.translate + str.split run in C: a set of tokens costs a few microseconds.
_SEPARATORS = "".join(chr(c) for c in range(128) if not (chr(c).isalnum() or chr(c) == "_")) + "’‘“”–—‐‑…•«»·"
_TO_SPACE = str.maketrans(_SEPARATORS, " " * len(_SEPARATORS))
# The same for ASCII text as one bytes table that also lower-cases: bytes.translate is a plain table lookup,
# several times faster than str.translate with a dict.
_ASCII_SEPARATORS = bytes(c for c in range(128) if not (chr(c).isalnum() or chr(c) == "_"))
_ASCII_UPPER = bytes(range(ord("A"), ord("Z") + 1))
_ASCII_FOLD = bytes.maketrans(
    _ASCII_SEPARATORS + _ASCII_UPPER, b" " * len(_ASCII_SEPARATORS) + _ASCII_UPPER.lower()
)
_ASCII_NOT_DIGITS = bytes(c for c in range(256) if not ord("0") <= c <= ord("9"))


_WORDS = re.compile(r"\w+")
_DIGIT = re.compile(r"\d")
DIGIT = "<digit>"  # gate pseudo-word: some digit in the text
DIGIT_START = "<digit-start>"  # prefix pseudo-word: a digit that starts a word
LINE_START = "<line-start>"  # prefix pseudo-word: the start of the text or of a line
AFTER = "<after>"  # prefix pseudo-word "<after>,": the offset right after a comma


def tokens_of(text: str) -> list[str]:
    """Lower-cased word tokens, split exactly as `TextView.tokens` splits a checked text."""
    low = text.lower()
    return low.translate(_TO_SPACE).split() if low.isascii() else _WORDS.findall(low)


@dataclass(frozen=True)
class CompiledNegation:
    """Negation cues as one regex over the space-joined tokens before a match."""

    window: int
    cues: re.Pattern[str]
    pseudo: re.Pattern[str] | None
    terminators: frozenset[str]

    @classmethod
    def build(
        cls, window: int, cues: list[str], pseudo: list[str], terminators: list[str]
    ) -> CompiledNegation | None:
        if window <= 0 or not cues:
            return None

        def norm(items: list[str]) -> list[str]:
            return [" ".join(_TOKEN.findall(c.lower().replace("’", "'"))) for c in items if c.strip()]

        cue_re = re.compile(r"(?<![\w'])(?:" + phrase_alternation(norm(cues)) + r")(?![\w'])")
        pseudo_items = norm(pseudo)
        pseudo_re = (
            re.compile(r"(?<![\w'])(?:" + phrase_alternation(pseudo_items) + r")(?![\w'])")
            if pseudo_items
            else None
        )
        return cls(window, cue_re, pseudo_re, frozenset(t.lower() for t in terminators))


class StartFinder:
    """Where in a span a match may begin, found by the regex engine rather than word by word: the starts of
    some words (one trie regex over `TextView.spaced`), the offsets right after some characters (AFTER + c,
    LINE_START) and digits (DIGIT, DIGIT_START)."""

    def __init__(self, starts: Iterable[str]) -> None:
        starts = set(starts)
        words = sorted(w for w in starts if not w.startswith("<"))
        chars = {w[len(AFTER) :] for w in starts if w.startswith(AFTER)}
        if LINE_START in starts:
            chars.add("\n")
        self.line_start = LINE_START in starts
        self.digits = DIGIT if DIGIT in starts else DIGIT_START if DIGIT_START in starts else None
        trie = phrase_alternation(words, case_sensitive=True, word_boundary=False)
        self.words = re.compile(f" {trie}(?= )") if words else None
        self.reach = max(map(len, words), default=0) + 2  # how far past a span a word's match may end
        self.after = re.compile("[" + "".join(map(re.escape, sorted(chars))) + "]") if chars else None

    def find(self, view: TextView, lo: int, hi: int) -> list[int] | None:
        """Sorted offsets in [lo, hi); None if offsets cannot be trusted (see `TextView.spaced`)."""
        spaced = view.spaced()
        if spaced is None:
            return None
        found: list[int] = []
        if self.words is not None:  # a match at spaced[i] is the space before a word at text[i]
            found = [i for m in self.words.finditer(spaced, lo, hi + self.reach) if (i := m.start()) < hi]
        if self.after is not None:
            found += [m.end() for m in self.after.finditer(view.text, max(lo - 1, 0), hi - 1)]
        if self.line_start and lo == 0:
            found.append(0)
        if self.digits is not None:
            found += view.token_starts((self.digits,), lo, hi) or []
        found.sort()
        return found


class TextView:
    """A text plus lazily computed structure: quotes, sentence and paragraph starts."""

    __slots__ = (
        "_digits",
        "_has_digit",
        "_lower",
        "_paragraphs",
        "_quotes",
        "_sentences",
        "_spaced",
        "_tokens",
        "text",
    )

    def __init__(self, text: str) -> None:
        self.text = text
        self._quotes: list[tuple[int, int]] | None = None
        self._sentences: list[int] | None = None
        self._paragraphs: list[int] | None = None
        self._tokens: frozenset[str] | None = None
        self._spaced: str | None = None
        self._lower: str | None = None
        self._digits: list[int] | None = None
        self._has_digit: bool | None = None

    # ---------------------------------------------------------------------------------------- tokens
    def tokens(self) -> frozenset[str]:
        """Lower-cased maximal runs of word characters (what the gate analysis calls words)."""
        if self._tokens is None:
            text = self.text
            if text.isascii():  # the common case: one bytes.translate lower-cases and splits off punctuation
                folded = text.encode("ascii").translate(_ASCII_FOLD).decode("ascii")
                self._spaced = " " + folded + " "  # same offsets as the text, shifted by one
                self._tokens = frozenset(folded.split())
            elif (low := self.lower()).isascii():  # e.g. the Kelvin sign, which lower-cases to k
                spaced = " " + low.translate(_TO_SPACE) + " "
                self._tokens = frozenset(spaced.split())
                if len(low) == len(text):  # offsets in `spaced` are the text's only if the length is kept
                    self._spaced = spaced
            else:  # Unicode word characters: let the regex engine decide what a word character is
                self._tokens = frozenset(_WORDS.findall(low))
        return self._tokens

    def spaced(self) -> str | None:
        """The lower-cased text with every non-word character a space, padded with one space at each end (so
        offsets are the text's, shifted by one); None when case folding changed the text's length."""
        self.tokens()
        return self._spaced

    def lower(self) -> str:
        if self._lower is None:
            self._lower = self.text.lower()
        return self._lower

    def digits(self) -> list[int]:
        if self._digits is None:
            self._digits = [m.start() for m in _DIGIT.finditer(self.text)] if self.has_digit() else []
        return self._digits

    def has_digit(self) -> bool:
        if self._has_digit is None:
            text = self.text
            if text.isascii():  # deleting every non-digit byte is far cheaper than a regex search
                self._has_digit = bool(text.encode("ascii").translate(None, _ASCII_NOT_DIGITS))
            else:
                self._has_digit = _DIGIT.search(text) is not None
        return self._has_digit

    def token_starts(self, tokens: Iterable[str], lo: int = 0, hi: int | None = None) -> list[int] | None:
        """Sorted offsets in [lo, hi) where one of `tokens` starts a word, or one of the pseudo-words holds
        (DIGIT, DIGIT_START, LINE_START, AFTER + a character); None if offsets cannot be trusted (case folding
        changed the text's length)."""
        self.tokens()
        spaced = self._spaced
        if spaced is None:
            return None
        if hi is None:
            hi = len(self.text)
        found: list[int] = []
        if hi <= lo:
            return found
        for token in tokens:
            if token[0] == "<":  # a pseudo-word: real tokens are word characters
                found += self._pseudo_starts(token, lo, hi)
                continue
            needle = f" {token} "  # at spaced[i] when the token starts at text[i]
            end = hi - 1 + len(needle)
            i = spaced.find(needle, lo, end)
            while i >= 0:
                found.append(i)
                i = spaced.find(needle, i + 1, end)
        found.sort()
        return found

    def _pseudo_starts(self, token: str, lo: int, hi: int) -> list[int]:
        if token == DIGIT:
            return [i for i in self.digits() if lo <= i < hi]
        if token == DIGIT_START:
            text = self.text
            return [
                i
                for i in self.digits()
                if lo <= i < hi and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))
            ]
        if token == LINE_START:
            return [0, *self._after("\n", lo, hi)] if lo == 0 else self._after("\n", lo, hi)
        if token.startswith(AFTER):
            return self._after(token[len(AFTER) :], lo, hi)
        return []

    def _after(self, char: str, lo: int, hi: int) -> list[int]:
        """Offsets in [lo, hi) right after an occurrence of `char`."""
        text, found = self.text, []
        i = text.find(char, max(lo - 1, 0), hi - 1)
        while i >= 0:
            found.append(i + 1)
            i = text.find(char, i + 1, hi - 1)
        return found

    # ---------------------------------------------------------------------------------------- quotes
    def quotes(self) -> list[tuple[int, int]]:
        if self._quotes is None:
            self._quotes = [m.span() for m in _QUOTES.finditer(self.text)] if self._has_quote_mark() else []
        return self._quotes

    def _has_quote_mark(self) -> bool:
        text = self.text
        return '"' in text or "“" in text or "‘" in text or "'" in text or "«" in text

    def in_quote(self, pos: int) -> bool:
        regions = self.quotes()
        if not regions:
            return False
        i = bisect_right(regions, (pos, len(self.text) + 1)) - 1
        return i >= 0 and regions[i][0] < pos < regions[i][1]

    # ------------------------------------------------------------------------- sentences, paragraphs
    def sentence_index(self, pos: int) -> int:
        if self._sentences is None:
            self._sentences = _sentence_starts(self.text)
        return bisect_right(self._sentences, pos) - 1

    def paragraph_index(self, pos: int) -> int:
        if self._paragraphs is None:
            self._paragraphs = [0, *(m.end() for m in _PARAGRAPH_END.finditer(self.text))]
        return bisect_right(self._paragraphs, pos) - 1

    def unit_span(self, index: int, unit: str) -> tuple[int, int]:
        """(start, end) of the index-th sentence or paragraph (the whole text for 'text'/'answer')."""
        if unit == "sentence":
            self.sentence_index(0)
            starts = self._sentences
        elif unit == "paragraph":
            self.paragraph_index(0)
            starts = self._paragraphs
        else:
            return 0, len(self.text)
        assert starts is not None
        end = starts[index + 1] if index + 1 < len(starts) else len(self.text)
        return starts[index], end

    def unit_index(self, pos: int, unit: str) -> int:
        if unit == "sentence":
            return self.sentence_index(pos)
        if unit == "paragraph":
            return self.paragraph_index(pos)
        return 0

    # ------------------------------------------------------------------------------------- negation
    def negated(self, pos: int, negation: CompiledNegation) -> bool:
        """True when a negation cue stands within `window` tokens before `pos`, in the same clause."""
        lo = max(0, pos - _LOOKBACK_CHARS)
        segment = self.text[lo:pos]
        cut = -1
        for m in _CLAUSE_BREAK.finditer(segment):
            cut = m.start()
        if cut >= 0:
            segment = segment[cut + 1 :]
        tokens = _TOKEN.findall(segment.lower().replace("’", "'"))
        if not tokens:
            return False
        tokens = tokens[-negation.window :]
        for i in range(len(tokens) - 1, -1, -1):
            if tokens[i] in negation.terminators:
                tokens = tokens[i + 1 :]
                break
        joined = " ".join(tokens)
        if negation.pseudo is not None:
            joined = negation.pseudo.sub(" _ ", joined)
        return negation.cues.search(joined) is not None


def _sentence_starts(text: str) -> list[int]:
    """Offsets where sentences start: after each sentence end, except a full stop after an abbreviation.

    The same as one pass of `[.!?;]["'”’)\\]]*\\s+|\\n\\s*`: a line break inside the whitespace after
    punctuation belongs to that punctuation's match (and ends where it ends), so it is no break of its own.
    """
    size = len(text)
    ends: list[int] = []
    punctuation_ends: set[int] = set()
    for m in _SENTENCE_END.finditer(text):
        end = m.end()
        punctuation_ends.add(end)
        mark = m.start()
        if text[mark] == "." and _ends_abbreviation(text, mark):  # "Dr. Smith", "e.g. this"
            continue
        ends.append(end)
    if "\n" in text:
        ends += [end for m in _LINE_END.finditer(text) if (end := m.end()) not in punctuation_ends]
        ends.sort()
    return [0, *(end for end in ends if end < size)]


def _ends_abbreviation(text: str, dot: int) -> bool:
    """Is the word before the full stop at `dot` (back to a space, newline or parenthesis) an abbreviation?"""
    if text[dot - 2 : dot].lower() not in _ABBREVIATION_TAILS:
        return False
    space = max(text.rfind(" ", 0, dot), text.rfind("\n", 0, dot), text.rfind("(", 0, dot))
    return text[space + 1 : dot].lower() in _ABBREVIATIONS
