"""The PHI scanner: every Safe Harbor identifier type is found (several formats and casings), medical
eponyms and drug names are not, spans honour the interface, and logs never carry matched text."""

from __future__ import annotations

import dataclasses
import itertools
import logging

import pytest

from medtune.privacy.scanner import TYPES, PhiScanner, PhiSpan, ScannerConfig


@pytest.fixture(scope="module")
def scanner() -> PhiScanner:
    return PhiScanner()


# (type, text, the identifier that must be reported with that type)
POSITIVES = [
    ("NAME", "Pt seen by Dr. Healey this morning.", "Healey"),
    ("NAME", "PT SMITH, JOHN MRN 4452211 ADMITTED", "SMITH, JOHN"),
    ("NAME", "Patient: Maria Gonzalez-Ortiz    DOB: 02/11/1950", "Maria Gonzalez-Ortiz"),
    ("NAME", "Discussed with his daughter, Priya Raman, at bedside.", "Priya Raman"),
    ("NAME", "Electronically signed by Robert K. Chen, MD", "Robert K. Chen"),
    ("NAME", "WILL CONTINUE TO MONITOR. -- JS RN", "JS"),
    ("NAME", "DAUGHTER ZELTOV KADORND CALLED, UPDATED", "ZELTOV KADORND"),
    ("NAME", "Dear Dr. Quendrick,\nThank you for seeing her.", "Quendrick"),
    ("NAME", "Follow up with Dr. Ward next week.", "Ward"),
    ("DATE", "Admitted 07/22/2019 for sepsis.", "07/22/2019"),
    ("DATE", "seen on 7/22 in clinic", "7/22"),
    ("DATE", "Echo on July 22nd showed EF 35%.", "July 22nd"),
    ("DATE", "Biopsy 22-Jul-19, path pending", "22-Jul-19"),
    ("DATE", "She was admitted on the 3rd and discharged home.", "3rd"),
    ("DATE", "CT 2019-07-22 unremarkable", "2019-07-22"),
    ("DATE", "DOS 3/4/21 - 3/9/21", "3/4/21"),
    ("DATE", "quit smoking in March 2011", "March 2011"),
    ("DATE", "SEEN ON SEPTEMBER 8, 2020 BY TEAM", "SEPTEMBER 8, 2020"),
    ("AGE", "92 yo F with CHF", "92"),
    ("AGE", "a 97-year-old gentleman", "97"),
    ("AGE", "Member age 101, verify eligibility", "101"),
    ("AGE", "He is 99 and lives alone.", "99"),
    ("PHONE", "Call (617) 555-0199 with questions.", "(617) 555-0199"),
    ("PHONE", "cell 617.555.0199", "617.555.0199"),
    ("PHONE", "reach her at +1 617 555 0199", "+1 617 555 0199"),
    ("FAX", "Fax: 617-555-0100", "617-555-0100"),
    ("FAX", "please fax records to (617) 555-0100.", "(617) 555-0100"),
    ("EMAIL", "e-mail j.doe84@example.com for results", "j.doe84@example.com"),
    ("SSN", "SSN 123-45-6789 on file", "123-45-6789"),
    ("SSN", "SSN on file 810340456.", "810340456"),
    ("MRN", "MRN: 00452211", "00452211"),
    ("MRN", "Medical Record Number A1234567 verified", "A1234567"),
    ("MRN", "MR# 4521-998", "4521-998"),
    ("HEALTH_PLAN", "Member ID: W123456789", "W123456789"),
    ("HEALTH_PLAN", "Medicaid # NY12345678", "NY12345678"),
    ("HEALTH_PLAN", "Medicare MBI 1EG4-TE5-MK73", "1EG4-TE5-MK73"),
    ("ACCOUNT", "Acct #: 001234567", "001234567"),
    ("ACCOUNT", "CLM# 2019-88812345; denied", "2019-88812345"),
    ("ACCOUNT", "card 4111 1111 1111 1111 declined", "4111 1111 1111 1111"),
    ("LICENSE", "DEA AB1234563", "AB1234563"),
    ("LICENSE", "License # MD-123456", "MD-123456"),
    ("LICENSE", "NPI 1234567893", "1234567893"),
    ("VEHICLE", "license plate 7ABC123 in lot B", "7ABC123"),
    ("VEHICLE", "VIN 1HGCM82633A004352", "1HGCM82633A004352"),
    ("DEVICE", "pacemaker serial number PM882130", "PM882130"),
    ("DEVICE", "S/N 4471-AB-220", "4471-AB-220"),
    ("DEVICE", "UDI (01)00843197036752(17)250101(10)A123", "(01)00843197036752(17)250101(10)A123"),
    (
        "URL",
        "portal https://mychart.example.org/patient/8812 today",
        "https://mychart.example.org/patient/8812",
    ),
    ("URL", "see www.smithfamilyblog.com", "www.smithfamilyblog.com"),
    ("IP", "login from 10.2.33.4.", "10.2.33.4"),
    ("IP", "client 2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3::8a2e:370:7334"),
    ("ADDRESS", "Lives at 12 Elm Street, Apt 4B with wife", "12 Elm Street, Apt 4B"),
    ("ADDRESS", "mail to PO Box 9725", "PO Box 9725"),
    ("ADDRESS", "LIVES AT 3608 KATHRYN PARK APT. 533 ALONE", "3608 KATHRYN PARK APT. 533"),
    ("ZIP", "Boston, MA 02115", "02115"),
    ("ZIP", "zip code 60742-4748", "60742-4748"),
    ("LOCATION", "Boston, MA 02115", "Boston"),
    ("LOCATION", "She lives in Springfield with her son.", "Springfield"),
    ("LOCATION", "transferred from Mercy General Hospital overnight", "Mercy General Hospital"),
    ("LOCATION", "Ambulance from Essex County.", "Essex County"),
    ("LOCATION", "ADMITTED FROM ST. MARY'S, DR AWARE", "ST. MARY'S"),
    ("ID", "Study ID: RX-2231-09 enrolled", "RX-2231-09"),
    ("ID", "accession # S19-44821", "S19-44821"),
]


@pytest.mark.parametrize(
    ("type_", "text", "expected"), POSITIVES, ids=[f"{t}-{i}" for i, (t, *_) in enumerate(POSITIVES)]
)
def test_finds_identifier(scanner: PhiScanner, type_: str, text: str, expected: str) -> None:
    spans = scanner.scan(text)
    start = text.index(expected)
    hits = [s for s in spans if s.start < start + len(expected) and start < s.end]
    assert hits, f"{type_} not found in {text!r}: {spans}"
    assert any(s.type == type_ for s in hits), (
        f"{expected!r} typed {[s.type for s in hits]}, expected {type_}"
    )
    covered = set().union(*(range(s.start, s.end) for s in hits))
    assert all(i in covered for i in range(start, start + len(expected)) if text[i].isalnum())


def test_every_type_has_a_positive_example() -> None:
    assert {t for t, *_ in POSITIVES} == set(TYPES)


NEGATIVES = [
    "History of Parkinson's disease; Foley catheter in place.",
    "Wilson's disease diagnosed in childhood. Down syndrome. Murphy's sign negative.",
    "Hodgkin lymphoma s/p ABVD. Crohn disease quiescent on Humira.",
    "Started Lasix 40 mg and Coumadin; continue Tylenol prn.",
    "FOLEY DRAINING CLEAR URINE. LUNGS CLEAR. PLAN CONTINUE LASIX. PERRLA.",
    "Strength 5/5 throughout; pain 7/10; take 1/2 tab at bedtime.",
    "BP 120/80, HR 88, RR 16, SpO2 97% on 2L, temp 99.1 F.",
    "Treated with FOLFOX plus bevacizumab; MSI-H by PCR; PD-L1 by IHC 30%; partial response per RECIST.",
    "Tumor is ER-positive, PR-negative and HER2 3+ by IHC.",
    "A 68-year-old man with stage IIIA disease, Kerley B lines, Homans sign negative.",
    "sha256 3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_medical_words_are_not_phi(scanner: PhiScanner, text: str) -> None:
    assert scanner.scan(text) == []


def test_span_interface(scanner: PhiScanner) -> None:
    text = "Pt SMITH, JOHN seen 07/22/2019 by Dr. Healey at Mercy Hospital, MRN 00452211, call 617-555-0199."
    spans = scanner.scan(text)
    assert spans and all(isinstance(s, PhiSpan) for s in spans)
    assert spans == sorted(spans, key=lambda s: s.start)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))
    for s in spans:
        assert text[s.start : s.end] == s.text and s.type in TYPES and 0 < s.score <= 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        spans[0].start = 0  # type: ignore[misc]
    assert set(spans[0].to_dict()) == {"start", "end", "type", "text", "score"}


def test_config_types_allow_deny_and_bad_config() -> None:
    text = "Dr. Healey called 617-555-0199 about Zorbex."
    only_phone = PhiScanner(ScannerConfig(types=["PHONE"]))
    assert {s.type for s in only_phone.scan(text)} == {"PHONE"}
    allowed = PhiScanner({"allow": ["Healey"]})
    assert all(s.text != "Healey" for s in allowed.scan(text))
    denied = PhiScanner({"deny": {"ID": ["Zorbex"]}})
    assert any(s.text == "Zorbex" and s.type == "ID" for s in denied.scan(text))
    with pytest.raises(ValueError, match="unknown types"):
        ScannerConfig(types=["NAMES"])


def test_ner_backend_missing_model_is_a_config_error(tmp_path) -> None:
    from medtune.errors import ConfigError

    with pytest.raises(ConfigError, match="local model directory"):
        PhiScanner({"ner": {"backend": "spacy", "model": str(tmp_path / "absent")}})


def test_logs_never_hold_matched_text(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    from medtune.privacy.batch import scan_paths

    data = tmp_path / "notes.jsonl"
    data.write_text('{"id": 1, "text": "Pt Zelda Quintero-Marsh, MRN 99887766, call 617-555-0199."}\n')
    with caplog.at_level(logging.DEBUG, logger="medtune"):
        summary = scan_paths([data], tmp_path / "reports")
    assert summary["total"] >= 3
    logged = caplog.text + str(summary)
    for secret in ("Zelda", "Quintero", "99887766", "555-0199"):
        assert secret not in logged


def test_upper_and_lower_case_dictionaries_offline(scanner: PhiScanner) -> None:
    lex = scanner.lexicon
    assert len(lex.first) > 5000 and len(lex.last) > 5000 and len(lex.cities) > 10000
    assert "parkinson" not in lex.last and "smith" in lex.last


# False positives seen in real use. Each of these texts produced a span before the fix it guards.
VEHICLE_NEGATIVES = [
    "Tags were reviewed. Plate 7ABC123 was noted on the car.",  # "tag" inside "tags" was a cue
    "Tag was placed on the left wrist.",  # the words after a cue were taken as a plate
    "TAG WAS PLACED. PLATE REMOVED FROM LEFT TIBIA.",
    "Tags were reviewed. Tag 123 noted.",  # a word after a plate number is not part of it
]


@pytest.mark.parametrize("text", VEHICLE_NEGATIVES)
def test_vehicle_cues_are_whole_words_and_values_are_codes(scanner: PhiScanner, text: str) -> None:
    vehicles = [s.text for s in scanner.scan(text) if s.type == "VEHICLE"]
    assert vehicles in ([], ["7ABC123"], ["123"]), vehicles


@pytest.mark.parametrize(
    ("text", "plate"),
    [
        ("plate YFQ M57 seen in lot", "YFQ M57"),
        ("Tag # ABC-1234", "ABC-1234"),
        ("PLATE 0VG N83, NOTIFIED", "0VG N83"),
    ],
)
def test_vehicle_plates_with_a_space(scanner: PhiScanner, text: str, plate: str) -> None:
    assert [s.text for s in scanner.scan(text) if s.type == "VEHICLE"] == [plate]


# Sentence openers in oncology narratives and exam notes: ordinary words that name dictionaries also list.
SENTENCE_OPENERS = [
    "Patient presented with fatigue. Tags were reviewed.",
    "Neck: Supple without thyromegaly or lymphadenopathy.",
    "Musculoskeletal - Examination: Trace lower extremity edema.",
    "Hence, she underwent cystoscopy, which was unremarkable.",
    "Grant was approved for the trial. The grant covers imaging.",
    "Held for 2 days due to neutropenia, then resumed at full dose.",
]


@pytest.mark.parametrize("text", SENTENCE_OPENERS)
def test_sentence_openers_are_not_names(scanner: PhiScanner, text: str) -> None:
    assert [s.text for s in scanner.scan(text) if s.type == "NAME"] == []


def test_names_with_cues_still_found_at_sentence_start(scanner: PhiScanner) -> None:
    for text, name in [
        ("Attending: Carter. Plan discussed.", "Carter"),
        ("Dr. Trace saw her today.", "Trace"),
        ("Neck: supple. Seen with Mason Reyes.", "Mason Reyes"),
    ]:
        assert name in [s.text for s in scanner.scan(text) if s.type == "NAME"], text


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Spoke with john smith about the scan results.", "john smith"),
        ("Pt's daughter mary called to ask about transport.", "mary"),
        ("Discussed with wife, anna, at bedside.", "anna"),
        ("thanks, dr. fisher. i'm doing okay", "fisher"),
    ],
)
def test_lower_case_names_after_a_strong_cue(scanner: PhiScanner, text: str, name: str) -> None:
    assert name in [s.text for s in scanner.scan(text) if s.type == "NAME"]


@pytest.mark.parametrize(
    "text",
    [
        "Daughter will call back tomorrow.",
        "Spoke with pharmacy about the refill.",
        "Mother had breast cancer at 50.",
        "Mom said he did seem to get better.",
        "Seen by cardiology, no changes.",
    ],
)
def test_lower_case_words_after_a_cue_are_not_names(scanner: PhiScanner, text: str) -> None:
    assert [s.text for s in scanner.scan(text) if s.type == "NAME"] == []
