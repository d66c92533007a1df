"""MedQA-USMLE-style JSONL -> medtune MCQ records.

The layout (`question`, `options` {"A": ..}, `answer_idx`, optional `answer` text, `meta_info` exam step,
`subject`, `realidx`) is MedQA-USMLE's, and that of MedAgentsBench's MMLU-medical, MedQA and MedMCQA files.
The `answer` text, when present, must be the text of option `answer_idx`. One output split per input file.
Source and license are not assumed (several data sets share this layout): pass --source and --license.
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


def parse_row(obj: dict[str, Any], bad: list[str]) -> McqFields | None:
    question = required_text(obj, "question", bad)
    choices = obj.get("options")
    if not isinstance(choices, dict) or len(choices) < 2:
        found = "the key missing" if "options" not in obj else show(choices)
        bad.append(f"options: expected an object of at least 2 letter -> text, found {found}")
        return None
    choices = {str(k).strip(): str(v).strip() for k, v in choices.items()}
    answer = obj.get("answer_idx")
    if answer not in choices:
        allowed = ", ".join(repr(k) for k in choices)
        bad.append(f"answer_idx: expected one of {allowed}, found {show(answer)}")
    elif isinstance(obj.get("answer"), str) and obj["answer"].strip() != choices[answer]:
        bad.append(
            f"answer: expected the text of option {answer} ({show(choices[answer])}), found "
            f"{show(obj['answer'])}"
        )
    if bad or question is None:
        return None
    meta = {"subject": obj.get("subject"), "exam_step": obj.get("meta_info")}
    return McqFields(question, choices, str(answer), meta, obj.get("realidx", obj.get("id")))


def convert(inputs: list[Path], options: ConvertOptions) -> Conversion:
    return convert_mcq(inputs, options, "medqa", parse_row)


CONVERTER = Converter(
    name="medqa",
    description="MedQA-USMLE-style JSONL (question, options A-D, answer_idx) -> MCQ",
    rtype="mcq",
    convert=convert,
    instruction=mcq_instruction,
    deid_method="not applicable (exam questions, no patient records)",
)
