"""The optional NER back ends, for real and offline: a spaCy pipeline and a transformers token-classification
model, both built here and saved to disk, switched on through the scanner config.

"zorblat quux" is a lower-case name no dictionary or rule of the default scanner knows, with no cue before
it, so only the NER back end can find it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from medtune.errors import ConfigError
from medtune.privacy.scanner import PhiScanner, ScannerConfig

TEXT = "zorblat quux tolerated the biopsy well."
NAME = "zorblat quux"


def names(scanner: PhiScanner, text: str = TEXT) -> list[str]:
    return [s.text for s in scanner.scan(text) if s.type == "NAME"]


def test_rules_alone_miss_the_unknown_name() -> None:
    assert NAME not in names(PhiScanner())


def test_spacy_pipeline_from_disk(tmp_path: Path) -> None:
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PERSON", "pattern": NAME}, {"label": "CLINIC", "pattern": "biopsy"}])
    nlp.to_disk(tmp_path / "ner")
    scanner = PhiScanner(ScannerConfig(ner={"backend": "spacy", "model": tmp_path / "ner"}))
    found = scanner.scan(TEXT)
    assert [(s.text, s.type, TEXT[s.start : s.end]) for s in found] == [
        (NAME, "NAME", NAME)
    ]  # CLINIC: unmapped
    mapped = PhiScanner(
        ScannerConfig(ner={"backend": "spacy", "model": tmp_path / "ner", "labels": {"CLINIC": "LOCATION"}})
    )
    assert {s.type for s in mapped.scan(TEXT)} == {"NAME", "LOCATION"}


def _token_classifier(out: Path) -> None:
    """A one-word-per-token BERT without encoder layers whose weights tag exactly the two name words B-PER /
    I-PER: each word embedding is a one-hot feature, the classifier reads it directly."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertForTokenClassification, PreTrainedTokenizerFast

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", *TEXT.replace(".", " .").split()]
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )
    labels = ["O", "B-PER", "I-PER"]
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=8,
        num_hidden_layers=0,
        num_attention_heads=1,
        intermediate_size=8,
        max_position_embeddings=64,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    model = BertForTokenClassification(config).eval()
    with torch.no_grad():
        for module in (
            model.bert.embeddings.position_embeddings,
            model.bert.embeddings.token_type_embeddings,
        ):
            module.weight.zero_()
        emb = model.bert.embeddings.word_embeddings.weight
        emb.zero_()
        emb[:, 0] = 1.0  # every other word: feature 0
        for feature, word in ((1, "zorblat"), (2, "quux")):
            emb[vocab[word]] = 0.0
            emb[vocab[word], feature] = 1.0
        classifier = model.classifier
        classifier.weight.zero_()
        classifier.bias.zero_()
        for label, feature in ((0, 0), (1, 1), (2, 2)):
            classifier.weight[label, feature] = 10.0
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def test_transformers_token_classifier_from_disk(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    _token_classifier(tmp_path / "ner")
    scanner = PhiScanner(ScannerConfig(ner={"backend": "transformers", "model": tmp_path / "ner"}))
    found = [s for s in scanner.scan(TEXT) if s.type == "NAME"]
    assert [TEXT[s.start : s.end] for s in found] == [NAME]
    assert found[0].score > 0.9


def test_missing_ner_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ner\.model: expected a local model directory"):
        PhiScanner(ScannerConfig(ner={"backend": "spacy", "model": tmp_path / "absent"}))
