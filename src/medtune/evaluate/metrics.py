"""Metrics: per-item columns in, one number out — so every metric can be bootstrapped over items.

Each task kind produces per-item columns (numpy arrays); a `MetricDef` turns the rows selected by an index
array into a value. The full-data value uses every row; a bootstrap resample uses a resampled index array;
a subgroup uses that group's rows. Text metrics come from maintained libraries: ROUGE from `rouge-score`
(Google's implementation, F-measure, Porter stemming), BLEU from `sacrebleu` (corpus BLEU from summed
sentence statistics, exactly `corpus_bleu`'s number).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Columns = dict[str, np.ndarray]


@dataclass(frozen=True)
class MetricDef:
    name: str
    fn: Callable[[Columns, np.ndarray], float | None]
    higher_is_better: bool = True
    description: str = ""

    def __call__(self, cols: Columns, idx: np.ndarray) -> float | None:
        if len(idx) == 0:
            return None
        value = self.fn(cols, idx)
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


# --------------------------------------------------------------------------------------- multiple choice


def mc_predictions(loglikelihoods: Sequence[float], choices: Sequence[str]) -> tuple[int, int]:
    """(pred, pred_norm): argmax of summed log-likelihood, and of log-likelihood / the choice's character
    length (lm-eval's acc_norm). Ties go to the first choice, as numpy's argmax."""
    lls = np.asarray(loglikelihoods, dtype=np.float64)
    lengths = np.asarray([float(len(c)) for c in choices])
    return int(np.argmax(lls)), int(np.argmax(lls / lengths))


def choice_probabilities(loglikelihoods: Sequence[float]) -> np.ndarray:
    """Softmax over the choices' log-likelihoods: the model's distribution restricted to the choices."""
    lls = np.asarray(loglikelihoods, dtype=np.float64)
    exp = np.exp(lls - lls.max())
    return exp / exp.sum()


def calibration_bins(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> list[dict[str, Any]]:
    """Equal-width bins [k/n, (k+1)/n) (the last includes 1.0): count, mean confidence, accuracy."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    which = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    bins = []
    for k in range(n_bins):
        mask = which == k
        count = int(mask.sum())
        bins.append(
            {
                "lower": k / n_bins,
                "upper": (k + 1) / n_bins,
                "count": count,
                "confidence": float(confidence[mask].mean()) if count else None,
                "accuracy": float(correct[mask].mean()) if count else None,
            }
        )
    return bins


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> float:
    """ECE = sum over bins of (bin share) * |bin accuracy - bin mean confidence|."""
    total = len(confidence)
    if total == 0:
        return float("nan")
    return sum(
        b["count"] / total * abs(b["accuracy"] - b["confidence"])
        for b in calibration_bins(confidence, correct, n_bins)
        if b["count"]
    )


def macro_f1(pred: np.ndarray, gold: np.ndarray, n_classes: int) -> float:
    """Unweighted mean of per-class F1 over the classes that occur in gold or predictions."""
    scores = []
    for c in range(n_classes):
        tp = int(np.sum((pred == c) & (gold == c)))
        fp = int(np.sum((pred == c) & (gold != c)))
        fn = int(np.sum((pred != c) & (gold == c)))
        if tp + fp + fn == 0:
            continue
        scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else float("nan")


# ------------------------------------------------------------------------------------------ text overlap

_ROUGE = None


def rouge_scores(prediction: str, reference: str) -> dict[str, float]:
    """ROUGE-1/2/L F-measure (rouge-score, Porter stemmer)."""
    global _ROUGE
    if _ROUGE is None:
        from rouge_score import rouge_scorer

        _ROUGE = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    scores = _ROUGE.score(reference, prediction)
    return {name: float(s.fmeasure) for name, s in scores.items()}


_BLEU = None


def _sentence_bleu() -> Any:
    global _BLEU
    if _BLEU is None:
        from sacrebleu.metrics import BLEU

        _BLEU = BLEU(effective_order=True)  # only the statistics are used; this silences its sentence warning
    return _BLEU


def bleu_statistics(prediction: str, reference: str) -> list[float]:
    """sacrebleu's sufficient statistics of one sentence: [sys_len, ref_len, matches x4, totals x4]."""
    score = _sentence_bleu().sentence_score(prediction, [reference])
    return [float(score.sys_len), float(score.ref_len), *map(float, score.counts), *map(float, score.totals)]


def bleu_from_statistics(stats: np.ndarray) -> float:
    """Corpus BLEU (0-100) from summed sentence statistics, as sacrebleu.corpus_bleu computes it."""
    from sacrebleu.metrics import BLEU

    total = np.asarray(stats, dtype=np.float64).reshape(-1, 10).sum(axis=0)
    sys_len, ref_len = int(total[0]), int(total[1])
    counts = [int(x) for x in total[2:6]]
    totals = [int(x) for x in total[6:10]]
    return float(BLEU.compute_bleu(counts, totals, sys_len, ref_len, smooth_method="exp").score)


# ------------------------------------------------------------------------------------------- registries


def _mean(column: str) -> Callable[[Columns, np.ndarray], float | None]:
    def fn(cols: Columns, idx: np.ndarray) -> float | None:
        values = cols[column][idx].astype(np.float64)
        values = values[~np.isnan(values)]
        return float(values.mean()) if len(values) else None

    return fn


def _ratio(
    num: str, den: str, transform: Callable[[float], float] = lambda x: x
) -> Callable[..., float | None]:
    def fn(cols: Columns, idx: np.ndarray) -> float | None:
        d = float(cols[den][idx].sum())
        return transform(float(cols[num][idx].sum()) / d) if d else None

    return fn


def _conditional_rate(flag: str, condition: str, negate: bool = False) -> Callable[..., float | None]:
    """Share of rows flagged among rows whose `condition` column is true (false when negate)."""

    def fn(cols: Columns, idx: np.ndarray) -> float | None:
        cond = cols[condition][idx].astype(bool)
        if negate:
            cond = ~cond
        return float(cols[flag][idx][cond].mean()) if cond.any() else None

    return fn


def _extraction(kind: str) -> Callable[[Columns, np.ndarray], float | None]:
    def fn(cols: Columns, idx: np.ndarray) -> float | None:
        tp, fp, fn_ = (cols[k][idx].sum(axis=0) for k in ("tp", "fp", "fn"))  # per field
        if kind == "macro_f1":
            denom = 2 * tp + fp + fn_
            per_field = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
            return float(per_field.mean())
        t, p, n = tp.sum(), fp.sum(), fn_.sum()
        precision = t / (t + p) if t + p else 0.0
        recall = t / (t + n) if t + n else 0.0
        if kind == "micro_precision":
            return precision
        if kind == "micro_recall":
            return recall
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    return fn


def _ece(cols: Columns, idx: np.ndarray) -> float:
    return expected_calibration_error(cols["confidence"][idx], cols["correct"][idx])


def _macro_f1_mc(cols: Columns, idx: np.ndarray) -> float:
    return macro_f1(cols["pred"][idx], cols["gold"][idx], int(cols["n_choices"].max()))


def _bleu(cols: Columns, idx: np.ndarray) -> float:
    return bleu_from_statistics(cols["bleu_stats"][idx])


LN2 = math.log(2)

METRICS: dict[str, MetricDef] = {
    m.name: m
    for m in (
        MetricDef("acc", _mean("correct"), description="share of items whose highest log-likelihood is gold"),
        MetricDef("acc_norm", _mean("correct_norm"), description="acc on log-likelihood / choice characters"),
        MetricDef("ece", _ece, higher_is_better=False, description="expected calibration error, 10 bins"),
        MetricDef("macro_f1", _macro_f1_mc, description="mean per-class F1 of the acc predictions"),
        MetricDef("json_validity", _mean("valid_json"), description="share of outputs holding a JSON object"),
        MetricDef("exact_match", _mean("exact_match"), description="share of outputs with every field right"),
        MetricDef("micro_precision", _extraction("micro_precision")),
        MetricDef("micro_recall", _extraction("micro_recall")),
        MetricDef("micro_f1", _extraction("micro_f1"), description="F1 over all fields' TP/FP/FN"),
        MetricDef("macro_f1_fields", _extraction("macro_f1")),
        MetricDef("rouge1", _mean("rouge1")),
        MetricDef("rouge2", _mean("rouge2")),
        MetricDef("rougeL", _mean("rougeL")),
        MetricDef("bleu", _bleu, description="corpus BLEU (sacrebleu), 0-100"),
        MetricDef("emergency_recall", _conditional_rate("flagged", "emergency")),
        MetricDef("false_alarm_rate", _conditional_rate("flagged", "emergency", negate=True), False),
        MetricDef("phi_leak_rate", _mean("phi_leak"), False, "share of outputs with a PHI span"),
        MetricDef("toxicity_rate", _mean("toxic"), False, "share of outputs with toxic language"),
        MetricDef(
            "unsupported_rate", _mean("unsupported"), False, "share of outputs with unsupported content"
        ),
        MetricDef("policy_block_rate", _mean("policy_block"), False, "share of outputs the policy blocks"),
        MetricDef("policy_warn_rate", _mean("policy_warn"), False, "share of outputs the policy warns on"),
        MetricDef("token_perplexity", _ratio("nll", "tokens", math.exp), False),
        MetricDef("word_perplexity", _ratio("nll", "words", math.exp), False),
        MetricDef("byte_perplexity", _ratio("nll", "bytes", math.exp), False),
        MetricDef("bits_per_byte", _ratio("nll", "bytes", lambda x: x / LN2), False),
        MetricDef("eval_loss", _ratio("nll", "tokens"), False, "token-weighted mean completion loss"),
        MetricDef("perplexity", _ratio("nll", "tokens", math.exp), False),
    )
}


def metric_def(name: str, kind: str) -> MetricDef:
    """The definition behind a metric name (macro_f1: over fields for extraction, classes for MC)."""
    if name == "macro_f1" and kind == "generation":
        return MetricDef("macro_f1", METRICS["macro_f1_fields"].fn, description="mean per-field F1")
    return METRICS[name]
