"""Tasks as data: built-in specs, data layouts, prompts (lm-eval's text), few-shot, user tasks, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medtune.errors import ConfigError, DataError
from medtune.evaluate.tasks import builtin_tasks, load_task

FIXTURES = Path(__file__).parent / "data" / "eval"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_every_builtin_task_validates():
    names = builtin_tasks()
    for expected in (
        "pubmedqa",
        "medqa_4options",
        "medmcqa",
        "mmlu_medical",
        "oncology_ie",
        "mts_dialog",
        "aci_bench",
        "multiclinsum",
        "perplexity",
        "triage_emergency",
        "heldout_loss",
    ):
        assert expected in names
    # the triage vignettes ship with medtune
    task = load_task("triage_emergency")
    assert len(task.records) == 24 and sum(r["emergency"] for r in task.records) == 12


def test_pubmedqa_prompt_is_lm_evals():
    task = load_task("pubmedqa", data=FIXTURES / "pubmedqa")
    record = task.records[0]
    assert len(task.records) == 15 and task.choices(record) == ["yes", "no", "maybe"]
    expected = "Abstract: {}\nQuestion: {}\nAnswer:".format("\n".join(record["CONTEXTS"]), record["QUESTION"])
    assert task.contexts()[0] == expected
    assert task.gold_index(record, ["yes", "no", "maybe"]) == ["yes", "no", "maybe"].index(
        record["final_decision"]
    )


def test_pubmedqa_official_split_from_shared_data():
    if not (SHARED / "pubmedqa" / "ori_pqal.json").is_file():
        pytest.skip("shared/data/pubmedqa is not on this machine")
    task = load_task("pubmedqa", data=SHARED / "pubmedqa")
    assert len(task.records) == 500
    labels = [r["final_decision"] for r in task.records]
    assert (labels.count("yes"), labels.count("no"), labels.count("maybe")) == (276, 169, 55)


def test_medqa_and_medmcqa_prompts():
    medqa = load_task("medqa_4options", data=FIXTURES / "mmlu_medical_sample.jsonl")
    r = medqa.records[0]
    o = r["options"]
    assert medqa.contexts()[0] == (
        f"Question: {r['question']}\nA. {o['A']}\nB. {o['B']}\nC. {o['C']}\nD. {o['D']}\nAnswer:"
    )
    assert medqa.gold_index(r, ["A", "B", "C", "D"]) == "ABCD".index(r["answer_idx"])
    medmcqa = load_task("medmcqa", data=FIXTURES / "medmcqa_layout_sample.jsonl")
    m = medmcqa.records[0]
    assert medmcqa.contexts()[0] == (
        f"Question: {m['question']}\nChoices:\nA. {m['opa']}\nB. {m['opb']}\nC. {m['opc']}\n"
        f"D. {m['opd']}\nAnswer:"
    )
    assert m["cop"] == m["cop_raw"] - 1  # 1-4 numbering detected (a 4 occurs in the file)


def test_medmcqa_zero_based_and_conflicting_numbering(tmp_path):
    rows = [{"question": "q", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": c} for c in (0, 2)]
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [r["cop"] for r in load_task("medmcqa", data=path).records] == [0, 2]
    path.write_text("".join(json.dumps({**rows[0], "cop": c}) + "\n" for c in (0, 4)))
    with pytest.raises(DataError, match="found both 0 and 4"):
        load_task("medmcqa", data=path)


def test_bad_record_reports_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    good = {"question": "q", "options": {"A": "x", "B": "y"}, "answer_idx": "A"}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "answer_idx": "E"}) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:2: answer_idx: expected one of \['A', 'B'\], found 'E'"):
        load_task("medqa_4options", data=path)
    path.write_text("{not json\n")
    with pytest.raises(DataError, match=r"bad\.jsonl:1: expected a JSON object, found invalid JSON"):
        load_task("medqa_4options", data=path)


def test_summarization_layouts():
    mts = load_task("mts_dialog", data=FIXTURES / "mts_dialog_sample.csv")
    assert len(mts.records) == 6 and mts.spec.chat
    first = mts.records[0]
    assert mts.contexts()[0][-1]["content"].endswith(first["dialogue"])
    assert mts.target_text(first) == first["section_text"] and mts.source_text(first) == first["dialogue"]
    mcs = load_task("multiclinsum", data=FIXTURES / "multiclinsum")
    assert len(mcs.records) == 3 and mcs.records[0]["target"] and mcs.records[0]["source"]
    aci = load_task("aci_bench", data=FIXTURES / "aci_bench_sample.csv")
    assert len(aci.records) == 2 and aci.target_text(aci.records[0]).strip()


def test_perplexity_corpus_documents():
    task = load_task("perplexity", data=FIXTURES / "corpus.txt")
    assert len(task.records) == 5 and task.text(task.records[0]).startswith("The patient is a 64-year-old")


def test_few_shot_is_seeded_and_never_the_item_itself():
    task = load_task("medqa_4options", data=FIXTURES / "mmlu_medical_sample.jsonl", num_fewshot=2, limit=5)
    contexts = task.contexts()
    assert contexts == task.contexts()  # seeded
    for record, context in zip(task.records, contexts, strict=True):
        blocks = context.split("\n\n")
        assert len(blocks) == 3 and blocks[-1].startswith(f"Question: {record['question']}")
        assert all(f"Question: {record['question']}\n" not in b for b in blocks[:2])
        assert all(b.endswith(("Answer: A", "Answer: B", "Answer: C", "Answer: D")) for b in blocks[:2])


def test_user_task_from_yaml_with_relative_data(tmp_path):
    (tmp_path / "items.jsonl").write_text(
        json.dumps({"id": "q1", "text": "Is aspirin an NSAID?", "label": "yes", "ward": "A"})
        + "\n"
        + json.dumps({"id": "q2", "text": "Is insulin an antibiotic?", "label": "no", "ward": "B"})
        + "\n"
    )
    spec = tmp_path / "my_task.yaml"
    spec.write_text(
        "task: my_yesno\nkind: multiple_choice\ndata: {format: jsonl, path: items.jsonl}\n"
        'prompt: "Q: {{ text }}\\nA:"\nchoices: ["yes", "no"]\ntarget: "{{ label }}"\ngroup_by: [ward]\n'
    )
    task = load_task(str(spec))
    assert task.name == "my_yesno" and task.contexts()[1] == "Q: Is insulin an antibiotic?\nA:"
    assert [task.gold_index(r, ["yes", "no"]) for r in task.records] == [0, 1]
    assert task.records[0]["_id"] == "q1"


def test_task_errors_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="expected a built-in task or a task YAML file"):
        load_task("no_such_task")
    spec = tmp_path / "t.yaml"
    spec.write_text(
        "task: t\nkind: multiple_choice\ndata: {format: jsonl, path: x.jsonl}\nprompt: p\nchoicez: [a]\n"
    )
    with pytest.raises(ConfigError, match=r"t.yaml:5: choicez: unknown key; did you mean 'choices'\?"):
        load_task(str(spec))
    with pytest.raises(DataError, match="no data file; pass one with --data"):
        load_task("medqa_4options")
    (tmp_path / "x.jsonl").write_text(json.dumps({"p": 1}) + "\n")
    spec.write_text(
        "task: t\nkind: multiple_choice\ndata: {format: jsonl, path: x.jsonl}\n"
        "prompt: '{{ missing }}'\nchoices: [a, b]\ntarget: '0'\n"
    )
    with pytest.raises(DataError, match=r"x.jsonl:1: task t: prompt template: 'missing' is undefined"):
        load_task(str(spec)).contexts()
