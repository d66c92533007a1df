"""Token gates for regexes, derived at compile time: words one of which every match must contain.

A policy's regexes are long (lexicons expand to hundreds of words) and Python's regex engine tries them at
every position of a text, which is far too slow to run all of them on every answer. Most of them cannot match
unless some word is present: `you (must|should) (stop|take) ...` needs "stop" or "take". This module reads the
parsed regex and finds such conjunctive gates: a list of sets, every match containing one word of each set as
a whole word (a maximal run of \\w characters), or a digit when a set holds DIGIT. A regex whose gate is not
satisfied by a text's words is not run. All gates of a policy are numbered in one GateIndex, so a check finds
its text's words once and every gate test afterwards is a bit test.

It also finds where matches can begin (`branch_gates`): at certain words, digits, line starts or right after
certain characters, per top-level alternative with that alternative's gate, so that a regex is tried at those
offsets only, and only for the alternatives that can match.

The analysis is conservative: where it cannot prove a word is whole and required, it gives no gate, and the
regex runs as usual. Lexicon expansions are marked with named groups (`(?P<lex_NAME_3>...)`) whose first words
are known from the phrases themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:  # Python >= 3.11
    from re import _constants as C  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

from medtune.safety.text import AFTER, DIGIT, DIGIT_START, LINE_START

_MAX_WORDS = 400

Gate = list[frozenset[str]]

# Words so frequent in answers that a gate made of them rejects almost nothing: prefer other word sets.
_COMMON_WORDS = (
    "a an the and or but if of to in on at for with by from as is are was were be been being it its this "
    "that these those you your yours i me my we our they them their he she his her him not no do does "
    "did have has had can could may might will would should must about what when where which who how all "
    "any some more most other than then there so up out just also very"
)
COMMON_WORDS = frozenset(_COMMON_WORDS.split())


def selectivity(words: frozenset[str]) -> tuple[bool, bool, int]:
    """Sort key, most selective word set first: no common words, then no digit, then fewest words."""
    return (not words.isdisjoint(COMMON_WORDS), DIGIT in words, len(words))


class GateIndex:
    """Every word set that a policy's gates test, numbered, so that a check tests them all at once.

    A check looks up the words of its text in one dict (`mask`) and ORs their bits; afterwards each detector's
    gate is one bit test (`mask & need == need`) instead of a set intersection per word set and detector.
    """

    def __init__(self) -> None:
        self.bits: dict[str, int] = {}  # word (or DIGIT) -> bits of the word sets that contain it
        self._numbers: dict[frozenset[str], int] = {}
        self._words: frozenset[str] | None = None

    def need(self, sets: list[frozenset[str]]) -> int:
        """The mask that a text must cover to contain a word of each of `sets`."""
        mask = 0
        for words in sets:
            number = self._numbers.get(words)
            if number is None:
                number = self._numbers[words] = len(self._numbers)
                for word in words:
                    self.bits[word] = self.bits.get(word, 0) | (1 << number)
                self._words = None
            mask |= 1 << number
        return mask

    def mask(self, tokens: frozenset[str], has_digit: Callable[[], bool]) -> int:
        """Bits of the word sets that `tokens` (a text's words) meet."""
        if self._words is None:
            self._words = frozenset(self.bits)
        bits = self.bits
        mask = 0
        for word in self._words & tokens:
            mask |= bits[word]
        if DIGIT in bits and has_digit():
            mask |= bits[DIGIT]
        return mask


def branch_gates(
    source: str,
    flags: int,
    lexicon_first: dict[str, frozenset[str] | None],
    lexicon_gates: dict[str, frozenset[str] | None],
) -> list[tuple[frozenset[str] | None, Gate]]:
    """For each alternative of a regex that is an alternation at its top level (the whole regex is one
    alternative otherwise): its prefix, the words (or DIGIT, or pinned offsets) at whose start every match
    begins (None when that cannot be proven), and its conjunctive gate (see regex_gate).

    With the prefixes a regex is tried only at those offsets (`pattern.match(text, pos)`) instead of scanning.

    A match of the whole regex begins where a match of one of its alternatives begins, and only alternatives
    whose gate holds can match: so the regex need be tried only at the prefixes of those alternatives
    (`dose: \\d+ mg | (one|two|an? extra) (tablets|doses)` at "a" and "an" only if the text says "tablets").
    """
    try:
        parsed = sre_parse.parse(source, flags)
    except Exception:
        return [(None, [])]
    groups = parsed.state.groupdict
    first = _Analysis({gid: lexicon_first[name] for name, gid in groups.items() if name in lexicon_first})
    gated = _Analysis({gid: lexicon_gates[name] for name, gid in groups.items() if name in lexicon_gates})
    out: list[tuple[frozenset[str] | None, Gate]] = []
    try:
        for alternative in _top_alternatives(list(parsed)):
            prefix = first.prefix(alternative, left=False)
            out.append((prefix, gated.seq_gates(alternative, outer_left=False, outer_right=False)))
    except RecursionError:  # pragma: no cover
        return [(None, [])]
    return out


def _top_alternatives(items: list[Any]) -> list[list[Any]]:
    """`X(?:A|B)` as [XA, XB] (the parser moves a prefix common to all alternatives, like \\b, out front)."""
    if items and items[-1][0] is C.BRANCH:
        head = items[:-1]
        return [alt for branch in items[-1][1][1] for alt in _top_alternatives(head + list(branch))]
    return [items]


def regex_gate(source: str, flags: int, lexicon_gates: dict[str, frozenset[str] | None]) -> Gate:
    """Conjunctive gate of `source` ([] when nothing can be proven). `lexicon_gates`: group name -> words."""
    try:
        parsed = sre_parse.parse(source, flags)
    except Exception:
        return []
    known = {
        gid: lexicon_gates[name] for name, gid in parsed.state.groupdict.items() if name in lexicon_gates
    }
    analysis = _Analysis(known)
    try:
        return analysis.seq_gates(list(parsed), outer_left=False, outer_right=False)
    except RecursionError:  # pragma: no cover
        return []


class _Analysis:
    def __init__(self, lexicon_groups: dict[int, frozenset[str] | None]) -> None:
        self.lexicon_groups = lexicon_groups

    def prefix(self, items: list[Any], left: bool) -> frozenset[str] | None:
        """Words a match of the sequence starts with (at a word start), or DIGIT for a leading digit; or,
        when a leading assertion pins the start, LINE_START or AFTER + the characters that precede it."""
        items = _merge_words(items)
        i = 0
        while i < len(items) and items[i][0] in (C.AT, C.ASSERT, C.ASSERT_NOT):
            pinned = _pinned_start(items[i])
            if pinned is not None:  # every leading assertion holds at the start: one pin is enough
                return pinned
            i += 1
        if i == len(items):
            return None
        op, av = items[i]
        boundary = self.left_ok(items, i, left)
        digit = (op is C.IN and _is_digit_class(av)) or (
            op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT)
            and av[0] >= 1
            and _is_digit_seq(list(av[2]))
        )
        if digit:  # a digit run preceded by a boundary starts a word: anchor there only
            return frozenset([DIGIT_START if boundary else DIGIT])
        if op is C.SUBPATTERN and av[0] in self.lexicon_groups:
            return self.lexicon_groups[av[0]] if boundary else None
        if op == "WORD" or op in (C.SUBPATTERN, C.BRANCH):
            if boundary:
                words = self.words_from(items, i, "", False, 0)
                if words:
                    return frozenset(words)
            if op == "WORD":
                return None
            union: set[str] = set()
            for alternative in _alternatives(op, av):
                inner = self.prefix(alternative + items[i + 1 :], boundary)
                if inner is None:
                    return None
                union |= inner
            return frozenset(union) if union else None
        if op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] == 0:
            return self.optional_prefix(items, i, left)
        return None

    def optional_prefix(self, items: list[Any], i: int, left: bool) -> frozenset[str] | None:
        """Prefix of a sequence that starts with an optional item X (`(?:the\\s+)?best`): a match starts
        with X, or with what follows it. X is unrolled once in front of the optional item itself (a superset
        of the matches, which is sound for a prefix); the leading assertions are kept in both."""
        body = list(items[i][1][2])
        taken = self.prefix(items[:i] + body + items[i:], left)
        skipped = self.prefix(items[:i] + items[i + 1 :], left)
        return None if taken is None or skipped is None else taken | skipped

    def seq_gates(self, items: list[Any], outer_left: bool, outer_right: bool) -> Gate:
        """One word set per item of the sequence that provably contributes a whole word to every match."""
        items = _merge_words(items)
        gates: Gate = []
        for i in range(len(items)):
            gate = self.item_gate(items, i, outer_left, outer_right)
            if gate:
                gates.append(gate)
        return gates

    def item_gate(
        self, items: list[Any], i: int, outer_left: bool, outer_right: bool
    ) -> frozenset[str] | None:
        op, av = items[i]
        if op is C.IN and _is_digit_class(av):
            return frozenset([DIGIT])
        if op is C.SUBPATTERN and av[0] in self.lexicon_groups:
            return self.lexicon_groups[av[0]]
        if (
            op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT)
            and av[0] >= 1
            and _is_digit_seq(list(av[2]))
        ):
            return frozenset([DIGIT])
        if op == "WORD" or op in (C.SUBPATTERN, C.BRANCH):
            left = self.left_ok(items, i, outer_left)
            if left:
                words = self.words_from(items, i, "", outer_right, 0)
                if words:
                    return frozenset(words)
            if op != "WORD":
                return self.alternatives_gate(
                    _alternatives(op, av), left, self.right_ok(items, i, outer_right)
                )
            return None
        if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT) and av[0] >= 1:
            body = list(av[2])
            left = self.left_ok(items, i, outer_left)
            right = self.right_ok(items, i, outer_right) and (av[1] == 1 or _seq_tristate_start(body) is True)
            return self.alternatives_gate([body], left, right)
        return None

    def alternatives_gate(
        self, alternatives: list[list[Any]], left: bool, right: bool
    ) -> frozenset[str] | None:
        """Union over alternatives of each one's most selective word set (None if one has none)."""
        union: set[str] = set()
        for alternative in alternatives:
            gates = self.seq_gates(alternative, left, right)
            if not gates:
                return None
            # the most selective set: `two|an? extra ... tablets?` is gated by its unit words, not by "a"
            union |= min(gates, key=selectivity)
            if len(union) > _MAX_WORDS:
                return None
        return frozenset(union) if union else None

    def words_from(
        self, items: list[Any], i: int, prefix: str, outer_right: bool, depth: int
    ) -> set[str] | None:
        """Every whole word a match can have starting at items[i] (continuing `prefix`); None if unbounded."""
        if depth > 40:
            return None
        if i == len(items):
            return {prefix} if prefix and outer_right else None
        op, av = items[i]
        if op == "WORD":
            return self.words_from(items, i + 1, prefix + av, outer_right, depth + 1)
        if op in (C.SUBPATTERN, C.BRANCH) and not (op is C.SUBPATTERN and av[0] in self.lexicon_groups):
            out: set[str] = set()
            for alternative in _alternatives(op, av):
                words = self.words_from(
                    _merge_words(alternative) + items[i + 1 :], 0, prefix, outer_right, depth + 1
                )
                if words is None:
                    return None
                out |= words
                if len(out) > _MAX_WORDS:
                    return None
            return out
        if op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] == 0 and av[1] == 1 and prefix:
            skip = self.words_from(items, i + 1, prefix, outer_right, depth + 1)
            take = self.words_from(
                _merge_words(list(av[2])) + items[i + 1 :], 0, prefix, outer_right, depth + 1
            )
            return None if skip is None or take is None else skip | take
        if prefix and self.right_ok(items, i - 1, outer_right):
            return {prefix}
        return None

    def left_ok(self, items: list[Any], i: int, outer: bool) -> bool:
        """Is the position before items[i] (a word start) preceded by a non-word character or the start?"""
        verdict = _seq_tristate_end(items[:i], left_context=True)
        return outer if verdict is None else verdict

    def right_ok(self, items: list[Any], i: int, outer: bool) -> bool:
        """Is the position after items[i] (where a word ends) followed by a non-word character or the end?"""
        verdict = _seq_tristate_start(items[i + 1 :])
        return outer if verdict is None else verdict


# ------------------------------------------------------------------------------------------ helpers


def _pinned_start(item: Any) -> frozenset[str] | None:
    """Where a zero-width assertion at the start of a match lets the match start: at a line start for ^ or
    \\A, or right after one of a few characters for a look-behind that ends in a literal or a class of
    literals (`(?<=[.;,])`, `(?<=\\s-)`). None when it does not pin the start to such offsets."""
    op, av = item
    if op is C.AT:
        return frozenset([LINE_START]) if av in (C.AT_BEGINNING, C.AT_BEGINNING_STRING) else None
    if op is not C.ASSERT or av[0] >= 0:  # only a positive look-behind says what precedes the start
        return None
    body = list(av[1])
    chars = _literal_chars(body[-1]) if body else None
    return frozenset(AFTER + ch for ch in chars) if chars else None


def _literal_chars(item: Any) -> set[str] | None:
    """The characters a LITERAL or a class of LITERALs matches, if none of them is a letter, digit or has a
    case (so IGNORECASE adds no other character); None for anything else (categories, ranges, negation)."""
    op, av = item
    members = [(op, av)] if op is C.LITERAL else list(av) if op is C.IN else []
    chars: set[str] = set()
    for member_op, code in members:
        if member_op is not C.LITERAL:
            return None
        ch = chr(code)
        if ch.lower() != ch or ch.upper() != ch or ch.isalnum():
            return None
        chars.add(ch)
    return chars or None


def _alternatives(op: Any, av: Any) -> list[list[Any]]:
    if op is C.BRANCH:
        return [list(a) for a in av[1]]
    content = list(av[-1])
    if len(content) == 1 and content[0][0] is C.BRANCH:
        return [list(a) for a in content[0][1][1]]
    return [content]


def _is_word_char(code: int) -> bool:
    ch = chr(code)
    return ch.isalnum() or ch == "_"


def _merge_words(items: list[Any]) -> list[Any]:
    """Runs of word-character LITERALs become ("WORD", text)."""
    out: list[Any] = []
    run: list[str] = []
    for item in items:
        op, av = item
        if op is C.LITERAL and _is_word_char(av):
            run.append(chr(av))
            continue
        if run:
            out.append(("WORD", "".join(run)))
            run = []
        out.append(item)
    if run:
        out.append(("WORD", "".join(run)))
    return out


def _is_digit_class(members: list[Any]) -> bool:
    for op, av in members:
        if op is C.CATEGORY and av is C.CATEGORY_DIGIT:
            continue
        if op is C.RANGE and chr(av[0]).isdigit() and chr(av[1]).isdigit():
            continue
        if op is C.LITERAL and chr(av).isdigit():
            continue
        return False
    return bool(members)


def _is_digit_seq(items: list[Any]) -> bool:
    return bool(items) and items[0][0] is C.IN and _is_digit_class(items[0][1])


def _class_is_sep(members: list[Any]) -> bool:
    if not members or members[0][0] is C.NEGATE:
        return False
    for op, av in members:
        if op is C.CATEGORY and av in (C.CATEGORY_SPACE, C.CATEGORY_NOT_WORD):
            continue
        if op is C.LITERAL and not _is_word_char(av):
            continue
        return False
    return True


def _assert_nonword(op: Any, av: Any) -> bool:
    """(?<!\\w) / (?!\\w), or a positive look-around whose character next to the position is non-word."""
    items = list(av[1])
    if op is C.ASSERT_NOT:
        return (
            len(items) == 1 and items[0][0] is C.IN and list(items[0][1]) == [(C.CATEGORY, C.CATEGORY_WORD)]
        )
    verdict = _seq_tristate_end(items) if av[0] < 0 else _seq_tristate_start(items)
    return verdict is True


def _tristate(item: Any, at_end: bool, left_context: bool) -> bool | None:
    """Does `item` guarantee a non-word character (or a text edge) at its end / start? None: transparent."""
    op, av = item
    if op == "WORD":
        return False
    if op is C.LITERAL:
        return not _is_word_char(av)
    if op is C.IN:
        return _class_is_sep(av)
    if op is C.AT:
        if av is C.AT_BOUNDARY:
            return True  # next to a word character (the word being gated), \b means a non-word one here
        edge = (
            (C.AT_BEGINNING, C.AT_BEGINNING_LINE, C.AT_BEGINNING_STRING)
            if at_end
            else (C.AT_END, C.AT_END_LINE, C.AT_END_STRING)
        )
        return True if av in edge else None
    if op in (C.ASSERT, C.ASSERT_NOT):
        behind = av[0] < 0
        if behind == at_end and _assert_nonword(op, av):
            return True
        return None
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
        body = list(av[2])
        inner = _seq_tristate_end(body, left_context) if at_end else _seq_tristate_start(body)
        if av[0] == 0:
            return None if inner in (True, None) else False
        return inner
    if op is C.SUBPATTERN or op is C.BRANCH:
        verdicts = [
            _seq_tristate_end(alt, left_context) if at_end else _seq_tristate_start(alt)
            for alt in _alternatives(op, av)
        ]
        if all(v is True for v in verdicts):
            return True
        if any(v is False for v in verdicts):
            return False
        return None
    return False


def _seq_tristate_end(items: list[Any], left_context: bool = True) -> bool | None:
    for item in reversed(_merge_words(items)):
        verdict = _tristate(item, at_end=True, left_context=left_context)
        if verdict is not None:
            return verdict
    return None


def _seq_tristate_start(items: list[Any]) -> bool | None:
    for item in _merge_words(items):
        verdict = _tristate(item, at_end=False, left_context=False)
        if verdict is not None:
            return verdict
    return None
