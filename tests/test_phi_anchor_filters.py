"""Hand-written shortcuts in front of regexes, checked against the regexes on random strings built from the
characters and words the rules care about (a wrong entry would silently drop matches):
- the digit-anchored rules are tried at a token only when they can start with its leading digit run and be
  followed there by the character after it (`patterns._LEADING_RUN`, `patterns._AFTER_RUN`), and one or two
  characters before it only when they can start with that character (`patterns._OPENERS`): every rule is run
  alone at every position, and each match must start with a shape or character its entries admit;
- a rule's `before` pattern is searched only when the word before the match is one of its `cue_words`: every
  `before` pattern is searched at every position, and each match must have a cue word;
- a rule with cue words is tried at a token only when the word before the token is one of them: sound only if
  none of its matches holds a later token that has one (else that token would be tried for the rule where a
  rejected match that covers it would have hidden it);
- the words before a value are read character by character (`patterns._context_id`): compared with the
  regex version they replaced;
- some word-triggered rules are tried only where the trigger word is followed by one of the characters they
  can go on with (`patterns._AFTER_TRIGGER`): every such rule is run at every trigger word, and each match
  must go on with a character listed;
- a phone number's fax cue is searched for only where one can start (`patterns._may_be_fax`);
- the words that make a fraction a score or a dose are matched backwards from it: compared with the regex
  searched forwards that they replaced;
- the tokenizer finds capitalised words with one `split` of a regex spelled for speed, and the gaps between
  name and place words are checked character by character: each compared with the regex it replaced."""

from __future__ import annotations

import random
import re

from medtune.privacy import names, patterns, places, tokens


def _pieces(text: str) -> list[str]:
    return text.split("|")


# The pieces random strings are made of.
_FRAGMENTS = _pieces(
    # digit runs
    "0|1|9|5|12|92|99|101|119|125|617|1617|2024|12345|6175550199"
    # separators and other characters that follow numbers
    "| |  |\t|-|.|/|)|(|+|:|,|;|\n|_|%|#|'|*"
    # what ages and dates are made of
    "|y|yo|yof|y/o|y.o.|yr|yrs|years|year-old|yr-old|old| of age|m|f|male|female|st|nd|rd|th|of|the|jan"
    "|January|may|sept|x|ext|ext.|is|mg|kg|bpm|c|B|b|e|E|YO|Y/O|YRS|F|M|MALE|JAN|OF|K|\u212a"
    # letters and digits beyond ASCII
    "|é|É|Ä|İ|ß|٣|²|½|Ⅻ"
    # the rest of a phone number, an SSN, a card number, a street
    "|555|0199|-555-0199| 555 0199|.555.0199|) 555-0199|(617) 555-0199|1 617|1-617| 55 1234|-1111-1111-1111"
    "| 1111 1111 1111|Main|MAIN|main|St|ST|Ave|ave|Street|apt|Apt|N|N.|NE|Oak|oak| Main St| N Oak Ave"
    "| Elm Street| MAIN ST| oak st| Main St Apt 4"
    "| F| M| YO| -yo| - jan| Jan|1 (617) 555-0199| \u212aing St| \u212aING ST"
    # cue words
    "|phone |tel: |call me at |age |aged |he is |on the |MA |New York, "
)
_DIGITS = "0123456789"


def _random_text(rnd: random.Random) -> str:
    parts = rnd.choices(_FRAGMENTS, k=rnd.randint(3, 9))
    # random digit runs of every length the shape reads (up to 13 and beyond)
    for _ in range(rnd.randint(1, 3)):
        parts.insert(rnd.randrange(len(parts) + 1), "".join(rnd.choices(_DIGITS, k=rnd.randint(1, 15))))
    return "".join(parts)


def _anchored_rules() -> list[patterns.Recognizer]:
    return [r for r in patterns.RECOGNIZERS if r.anchor and r.name != "iban"]


def check_anchor_filters(n: int, seed: int = 0) -> dict[str, int]:
    """Fuzz `n` random strings; raise AssertionError on a match the tables exclude. Matches seen per rule."""
    rnd = random.Random(seed)
    rules = _anchored_rules()
    seen = dict.fromkeys((r.name for r in rules), 0)
    for _ in range(n):
        text = _random_text(rnd)
        lower = patterns.lower_copy(text)
        starts = [start for start, _ in patterns.digit_tokens(text)]
        for k, c in enumerate(text):
            shape = -1
            if c in _DIGITS:  # as if a token started here: it would end where the token pattern does
                token = patterns._DIGIT_TOKEN.match(text, k)
                assert token is not None
                shape = patterns._run_shape(text, k, token.end())
            for rule in rules:
                m = rule.regex.match(lower if rule.lower else text, k)
                if m is None:
                    continue
                seen[rule.name] += 1
                where = (rule.name, text, k, m.group())
                if c not in _DIGITS:
                    assert c.isdecimal() or c in patterns._OPENERS.get(rule.name, ""), where
                elif shape >= 0:
                    assert patterns._fits(rule.name, shape), (*where, patterns._shape_parts(shape))
                token = next((t for t in starts if t >= k), len(text))  # the match is tried for this token
                for inner in starts:
                    if rule.cue_words and token < inner < m.end():
                        word = patterns._word_ending(lower, max(0, inner - 24), inner)
                        assert word not in rule.cue_words, (*where, inner)
    return seen


def test_every_anchored_rule_declares_its_shape() -> None:
    names = {r.name for r in _anchored_rules()}
    assert names <= set(patterns._LEADING_RUN)
    assert names <= set(patterns._AFTER_RUN)


def test_next_class() -> None:
    def classes(chars: str) -> str:
        return "".join(patterns._NEXT_CLASSES[patterns._next_class(c)] for c in chars)

    assert classes(" \t-./)+") == "  -./)+"
    assert classes("aZéß\n,(:_²") == "aaaaoooooo"
    assert patterns._NEXT_CLASSES[patterns._next_class("")] == "o"


def test_run_shape() -> None:
    assert patterns._shape_parts(patterns._run_shape("a 92 yo", 2, 4)) == ("9", 2, " ", "a")
    assert patterns._shape_parts(patterns._run_shape("110/60", 0, 6)) == ("1", 3, "/", "n")
    assert patterns._shape_parts(patterns._run_shape("call 6175550199", 5, 15)) == ("", 10, "o", "n")
    assert patterns._shape_parts(patterns._run_shape("12345678901234567", 0, 17)) == ("1", 13, "o", "n")
    assert patterns._shape_parts(patterns._run_shape("12B \t Main", 0, 3)) == ("1", 2, "a", "A")
    assert patterns._shape_parts(patterns._run_shape("617 555", 0, 3)) == ("", 3, " ", "d")
    assert patterns._shape_parts(patterns._run_shape("5-jan  (x", 0, 5)) == ("", 1, "-", "o")
    assert patterns._shape_parts(patterns._run_shape("5 ", 0, 1)) == ("", 1, " ", "o")
    assert patterns._run_shape("12٣4", 0, 2) == -1


def test_anchor_filters_fuzz() -> None:
    seen = check_anchor_filters(5_000)
    # the fragments make every rule match often enough for the check to mean something
    assert all(count >= 20 for count in seen.values()), seen


_CUE_FRAGMENTS = _pieces(
    "phone|Phone|ph|tel|telephone|cell|cellphone|mobile|pager|pgr|beeper|home|work|contact|call|called|at|fax"
    "|facsimile|callback|back|ext|extension|text|me|us|him|her|them|on|no|number|is|reach|reached|page|ring"
    "|age|ages|aged|AGE|he|she|they|patient|pt|who|mother|father|mom|dad|was|turned|turns|will|be|now|the|of"
    "|since|until|from|a|an|New York|York|MA|Ma|ma|Massachusetts|Rhode Island|DC|x|é|\u212a|1|42"
    "| | |  |\t|\n|\xa0|(|:|#|=|.|,|-|'|/|_"
    "|he is |she was |patient turned |mother will be |pt is now |who turns |on the |since the |from the\t"
    "|seen on the |New York, |MA |Ma. |RI |age: |aged |call me at |reached at |phone no. |cell # |fax: ("
    "|call her|text them|page us|ring him back|phone me on|call back|reach at"
)


def check_cue_words(n: int, seed: int = 0) -> dict[str, int]:
    """Fuzz `n` random strings; raise AssertionError where a `before` pattern matches without a cue word.
    Matches seen per rule."""
    rnd = random.Random(seed)
    rules = [r for r in patterns.RECOGNIZERS if r.cue_words]
    seen = dict.fromkeys((r.name for r in rules), 0)
    for _ in range(n):
        text = "".join(rnd.choices(_CUE_FRAGMENTS, k=rnd.randint(2, 10)))
        lower = patterns.lower_copy(text)
        for k in range(len(text) + 1):
            lo = max(0, k - 24)
            for rule in rules:
                assert rule.before is not None
                if rule.before.search(lower if rule.lower else text, lo, k) is None:
                    continue
                seen[rule.name] += 1
                word = patterns._word_ending(lower, lo, k)
                assert word in rule.cue_words, (rule.name, text, k, word)
    return seen


def test_cue_words_fuzz() -> None:
    seen = check_cue_words(5_000)
    assert all(count >= 20 for count in seen.values()), seen


# --- `patterns._context_id` reads the words before a value character by character; the regex version it
# replaced, kept here as the reference.
_CTX_BACK = re.compile(r"[ \t:#=.\-]*((?:[^\W\d_]|[/'])*)")
_CTX_WORD = re.compile(r"[a-z][a-z/']*|#")
_VALUE_PARTS = re.compile(r"[-./:]")


def _context_id_reference(lower: str, k: int, end: int) -> str | None:
    lo = max(0, k - 40)
    rev = lower[::-1]
    n = len(rev)
    match = _CTX_BACK.match(rev, n - k, n - lo)
    assert match is not None
    word = match.group(1)[::-1]
    if word not in patterns._CTX_WORDS and (
        word.isascii() or patterns._word_before(lower, lo, k) not in patterns._CTX_WORDS
    ):
        return None
    if any(len(part) >= 4 and part.isalpha() for part in _VALUE_PARTS.split(lower[k:end])):
        return None
    found = list(_CTX_WORD.finditer(lower, lo, k))
    words = [m.group() for m in found]
    for drop in (0, 1, 2):
        if drop > len(words) or (drop and words[-drop] not in patterns._CTX_FILLERS):
            break
        last = len(words) - drop
        if not last:
            continue
        for n in patterns._CTX_ENDINGS.get(words[last - 1], ()):
            if n > last:
                continue
            type_ = patterns._CTX_PHRASES.get(" ".join(words[last - n : last]))
            if type_ is None:
                continue
            first_word_start = found[last - n].start()
            if first_word_start and lower[first_word_start - 1] in patterns._ALNUM:
                continue
            if patterns._CTX_SEP.match(lower, found[last - 1].end(), k):
                return type_
    return None


_CTX_FRAGMENTS = _pieces(
    "mrn|mr|#|no|no.|number|id|is|on|file|ssn|medical|record|member|policy|device|serial|s/n|acct|account"
    "|claim|license|dea|npi|case|order|chart|patient|pt|social|security|health|plan|the|of|x|xmrn|year|old"
    "|abcd|é|ß|²|½|٣|'|/| | |  |\t|\n|:|: |=|.|-|,|(|#:|no:|id#"
    "|0|1|12|123|4567|0045-221|76cn98716|68-year-old|5-fu/leucovorin|a1b2|12.34|9:30"
)


def check_context_id(n: int, seed: int = 0) -> int:
    """Fuzz `n` random strings: `_context_id` at every digit of each equals the reference. Hits seen."""
    rnd = random.Random(seed)
    hits = 0
    for _ in range(n):
        lower = patterns.lower_copy("".join(rnd.choices(_CTX_FRAGMENTS, k=rnd.randint(2, 14))))
        for start, end in patterns.digit_tokens(lower):
            for k in (start, *(i for i in range(start + 1, end) if lower[i - 1] in "-./:")):
                expected = _context_id_reference(lower, k, end)
                assert patterns._context_id(lower, k, end) == expected, (lower, k, end)
                hits += expected is not None
    return hits


def test_context_id_fuzz() -> None:
    assert check_context_id(20_000) >= 500


_TRIGGER_FRAGMENTS = _pieces(
    "spoke|talked|seen|signed|called|son|daughter|wife|dr|Dr|DR|mr|mrs|ms|Spoke|SON|with|WITH|With|by|BY"
    "|john|anna|Mary|mary smith|ssn|SSN|ss|social|security|soc|sec|no|num|number|id|is|#|:|=|***|xxx|x"
    "|march|March|MAR|sept|may|the|of|2021|3rd|12|123-45-6789|1|9|é|\u212a"
    "| | |  |\t|\n|.|,|-|'|/|(|;"
    "|spoke with |Seen By |dr. |Mr |daughter, |wife |john smith|anna lee|ssn: |ssn no. |ss# |ssn is "
    "|social security |soc sec # |march |March the |sept. |may of |dec, "
    "|123456789|***-**-1234|xxx-xx-1234|march 12|of 2021|the 3rd|ssn: 123-45-6789|SSN#123 45 6789"
    "|june 2020|Jan., 1999|spoke WITH |ssn=|ssn xxx-xx-1234"
)


def check_after_trigger(n: int, seed: int = 0) -> dict[str, int]:
    """Fuzz `n` random strings; raise AssertionError where a rule of `_AFTER_TRIGGER` matches at its trigger
    word though the character after the word is not listed. Matches seen per rule."""
    rnd = random.Random(seed)
    seen = dict.fromkeys(patterns._AFTER_TRIGGER, 0)
    for _ in range(n):
        text = "".join(rnd.choices(_TRIGGER_FRAGMENTS, k=rnd.randint(2, 8)))
        lower = patterns.lower_copy(text)
        for upper in (False, True):
            for name, hits in patterns._trigger_positions(lower, upper).items():
                if name not in seen:
                    continue
                rule = patterns._BY_NAME[name]
                subject = lower if rule.lower else text
                for start, end in hits:
                    if rule.regex.match(subject, start) is None:
                        continue
                    seen[name] += 1
                    rest = subject[end:].lstrip(" \t.,")
                    assert rest[:1] and rest[0] in patterns._AFTER_TRIGGER[name], (name, text, start)
    return seen


def test_after_trigger_fuzz() -> None:
    seen = check_after_trigger(10_000)
    assert all(count >= 20 for count in seen.values()), seen


_FAX_FRAGMENTS = _pieces(
    "f|fa|fax|facsimile|F|FAX|Fax| |:|(|)|_|x|of|off|é|\u2009|1|phone|tel|.|;|\n|a|\ufb00"
)


def check_fax_cue(n: int, seed: int = 0) -> int:
    """Fuzz `n` random strings; raise AssertionError where `_FAX_CUE` matches but `_may_be_fax` says it
    cannot. Matches seen."""
    rnd = random.Random(seed)
    seen = 0
    for _ in range(n):
        lower = patterns.lower_copy("".join(rnd.choices(_FAX_FRAGMENTS, k=rnd.randint(1, 10))))
        for k in range(len(lower) + 1):
            lo = max(0, k - 24)
            if patterns._FAX_CUE.search(lower, lo, k):
                seen += 1
                assert patterns._may_be_fax(lower, lo, k), (lower, k)
    return seen


def test_fax_cue_fuzz() -> None:
    assert check_fax_cue(20_000) >= 1000


# The fraction context as it was written before it was read backwards (`patterns._fraction_before`).
_FRACTION_CTX = re.compile(
    r"(?:pain|strength|power|score|scale|grade|motor|gcs|murmur|reflex|reflexes|tab|tabs|tablet|dose|take|takes|"
    r"taking|give|given|inject|apply|use|about|approx|approximately|half|of|"
    r"ratio|bp|b/p|blood\s+pressure|of|x|rated|rates|/)\W*$",
    re.IGNORECASE,
)
_FRACTION_FRAGMENTS = _pieces(
    "pain|PAIN|b/p|blood|pressure|blood  pressure|blood\npressure|x|X|of|about|tabs|approximately|rated"
    "| |\n|.|,|/|é|\u017f|K|\u212a|\u0130|1|a|takes|_|:|ratio"
)


def check_fraction_before(n: int, seed: int = 0) -> int:
    """Fuzz `n` random strings: `_fraction_before` at every window equals the reference. Matches seen."""
    rnd = random.Random(seed)
    seen = 0
    for _ in range(n):
        text = "".join(rnd.choices(_FRACTION_FRAGMENTS, k=rnd.randint(1, 8)))
        for k in range(len(text) + 1):
            lo = max(0, k - 24)
            expected = _FRACTION_CTX.search(text, lo, k) is not None
            assert patterns._fraction_before(text, lo, k) == expected, (text, k)
            seen += expected
    return seen


def test_fraction_before_fuzz() -> None:
    assert check_fraction_before(10_000) >= 1000


# The regexes the tokenizer and the gap checks replaced.
_CAP_WORD = re.compile(r"[A-ZÀ-ÖØ-ÞĀ-ſ][^\W\d_]*(?:['’][^\W\d_]+)*(?:-[^\W\d_]+)*")
_CAP_WORD_ASCII = re.compile(r"[A-Z][A-Za-z]*(?:'[A-Za-z]+)*(?:-[A-Za-z]+)*")
_NAME_GAP = re.compile(r"\.?[ \t]{1,3}\Z|\.\Z")
_PLACE_GAP = re.compile(r"[ \t]{1,3}\Z|\.[ \t]{0,2}\Z")
_WORD_FRAGMENTS = _pieces(
    "A|Z|O|a|z|o|'|’|-|--|'s|’s|_|1|9| |\t|.|,|\n|À|Ö|×|Ø|Þ|ß|é|Ā|ſ|ƀ|Σ|σ|İ|²|٣|Ⅻ|O'|Mc|-Smith|'Brien"
)


def _split_words(regex: re.Pattern[str], text: str) -> list[tuple[int, str]]:
    """(offset, word) of each capitalised word, read from one `split` as the tokenizer reads it."""
    parts = regex.split(text)
    out, at = [], len(parts[0])
    for i in range(1, len(parts), 2):
        out.append((at, parts[i]))
        at += len(parts[i]) + len(parts[i + 1])
    return out


def check_word_split(n: int, seed: int = 0) -> int:
    """Fuzz `n` random strings: the split regexes find the words the plain ones find. Words seen."""
    rnd = random.Random(seed)
    seen = 0
    for _ in range(n):
        text = "".join(rnd.choices(_WORD_FRAGMENTS, k=rnd.randint(1, 12)))
        expected = [(m.start(), m[0]) for m in _CAP_WORD.finditer(text)]
        assert _split_words(tokens._CAP_SPLIT, text) == expected, text
        if text.isascii():
            ascii_expected = [(m.start(), m[0]) for m in _CAP_WORD_ASCII.finditer(text)]
            assert ascii_expected == expected, text  # the ASCII spelling is only a faster one
            assert _split_words(tokens._CAP_SPLIT_ASCII, text) == expected, text
        seen += len(expected)
    return seen


def test_word_split_fuzz() -> None:
    assert check_word_split(10_000) >= 10_000


def check_gaps(n: int, seed: int = 0) -> int:
    """Fuzz `n` random strings: the name and place gap checks equal their regexes on every slice. Gaps
    accepted."""
    rnd = random.Random(seed)
    accepted = 0
    for _ in range(n):
        text = "".join(rnd.choices(_pieces(" |\t|.|,|a|\n|  "), k=rnd.randint(1, 6)))
        for a in range(len(text)):
            for b in range(a + 1, len(text) + 1):
                name_gap = _NAME_GAP.match(text[a:b]) is not None
                assert names._gap_ok(text, a, b) == name_gap, (text, a, b)
                place_gap = _PLACE_GAP.match(text[a:b]) is not None
                assert places._word_gap(text, a, b) == place_gap, (text, a, b)
                accepted += name_gap + place_gap
    return accepted


def test_gaps_fuzz() -> None:
    assert check_gaps(3_000) >= 1000


if __name__ == "__main__":  # the long run: python tests/test_phi_anchor_filters.py [strings]
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    print(check_anchor_filters(n))
    print(check_cue_words(n))
    print(check_context_id(n))
    print(check_after_trigger(n))
    print(check_fax_cue(n))
    print(check_fraction_before(n))
    print(check_word_split(n))
    print(check_gaps(n))
