"""MedMCQA's original layout -> medtune MCQ records.

Fields: `id`, `question`, `opa`..`opd`, `cop` (the correct option), `choice_type`, `exp`, `subject_name`,
`topic_name`. `cop` is 1-based in the original files (medmcqa.github.io) and 0-based on the Hugging Face hub
(--option-base 0). The original files are named .json but hold one object per line; both are read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medtune.data.converters.base import (
    Conversion,
    Converter,
    ConvertOptions,
    McqFields,
    convert_mcq,
    mcq_instruction,
    required_text,
)
from medtune.data.records import show

OPTION_KEYS = ("opa", "opb", "opc", "opd")
LETTERS = "ABCD"


def convert(inputs: list[Path], options: ConvertOptions) -> Conversion:
    base = options.option_base
    valid = list(range(base, base + len(OPTION_KEYS)))

    def parse_row(obj: dict[str, Any], bad: list[str]) -> McqFields | None:
        question = required_text(obj, "question", bad)
        texts = [required_text(obj, key, bad) for key in OPTION_KEYS]
        cop = obj.get("cop")
        if isinstance(cop, bool) or not isinstance(cop, int) or cop not in valid:
            layout = "the original MedMCQA files" if base == 1 else "the Hugging Face layout"
            bad.append(
                f"cop: expected {', '.join(map(str, valid))} ({layout}; --option-base {1 - base} for the "
                f"other layout), found {show(cop)}"
            )
        if bad or question is None:
            return None
        meta = {
            "subject": obj.get("subject_name"),
            "topic": obj.get("topic_name"),
            "choice_type": obj.get("choice_type"),
            "explanation": obj.get("exp"),
        }
        options_by_letter = {letter: str(text) for letter, text in zip(LETTERS, texts, strict=True)}
        return McqFields(question, options_by_letter, LETTERS[cop - base], meta, obj.get("id"))

    return convert_mcq(inputs, options, "medmcqa", parse_row)


CONVERTER = Converter(
    name="medmcqa",
    description="MedMCQA original layout (question, opa..opd, cop, subject_name, choice_type) -> MCQ",
    rtype="mcq",
    convert=convert,
    instruction=mcq_instruction,
    source="MedMCQA (medmcqa.github.io; Pal et al., CHIL 2022)",
    license="MIT",
    deid_method="not applicable (exam questions, no patient records)",
)
