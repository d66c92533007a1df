"""Evaluation outputs: results.json, samples.jsonl, summary.csv and a self-contained HTML report.

The HTML is generated from results.json alone (`medtune report RUN_DIR` regenerates it), with inline SVG
plots: per-task metric bars with their confidence intervals (baseline vs candidate side by side), a
calibration diagram per multiple-choice task, per-subgroup breakdowns, and the gate table.
"""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path
from typing import Any

from medtune.artifacts import atomic_write_json, atomic_write_text, read_json
from medtune.errors import MedtuneError

RESULTS, SAMPLES, LOSS_SAMPLES, SUMMARY, REPORT = (
    "results.json",
    "samples.jsonl",
    "loss_samples.jsonl",
    "summary.csv",
    "report.html",
)
COLORS = ("#8c8c8c", "#1f6fb5", "#d9822b", "#3a9c5b")
PROPORTION_METRICS = {
    "acc",
    "acc_norm",
    "ece",
    "macro_f1",
    "json_validity",
    "exact_match",
    "micro_precision",
    "micro_recall",
    "micro_f1",
    "rouge1",
    "rouge2",
    "rougeL",
    "emergency_recall",
    "false_alarm_rate",
    "phi_leak_rate",
    "toxicity_rate",
    "unsupported_rate",
    "policy_block_rate",
    "policy_warn_rate",
}


def write_outputs(
    out_dir: Path, results: dict[str, Any], samples: str, loss_samples: str | None, *, report: bool = True
) -> None:
    """Write every output file of an evaluation into `out_dir` (a stage's temporary directory)."""
    atomic_write_json(out_dir / RESULTS, results)
    atomic_write_text(out_dir / SAMPLES, samples)
    if loss_samples:
        atomic_write_text(out_dir / LOSS_SAMPLES, loss_samples)
    if report:
        atomic_write_text(out_dir / SUMMARY, summary_csv(results))
        atomic_write_text(out_dir / REPORT, render_html(results))


def summary_csv(results: dict[str, Any]) -> str:
    """One row per task, metric and side (and delta): value, CI bounds, item count."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["task", "metric", "side", "value", "ci_low", "ci_high", "items"])
    for task, result in results.get("tasks", {}).items():
        for side, metrics in result.get("metrics", {}).items():
            for metric, est in metrics.items():
                writer.writerow(
                    [
                        task,
                        metric,
                        side,
                        _num(est["value"]),
                        _num(est["ci_low"]),
                        _num(est["ci_high"]),
                        result["items"],
                    ]
                )
        for metric, est in result.get("deltas", {}).items():
            writer.writerow(
                [
                    task,
                    metric,
                    "delta",
                    _num(est["value"]),
                    _num(est["ci_low"]),
                    _num(est["ci_high"]),
                    result["items"],
                ]
            )
    return buffer.getvalue()


def _num(value: Any) -> str:
    return "" if value is None else f"{value:.6g}"


def find_results(path: Path) -> Path:
    """results.json of an eval output folder, or of a run directory's eval/ stage."""
    for candidate in (path / RESULTS, path / "eval" / RESULTS):
        if candidate.is_file():
            return candidate
    raise MedtuneError(
        f"{path}: expected an evaluation folder or a run directory with eval/{RESULTS}, found none"
    )


def regenerate(path: Path) -> Path:
    """Rewrite report.html (and summary.csv) beside results.json; returns the report's path."""
    results_path = find_results(path)
    try:
        results = read_json(results_path)
    except json.JSONDecodeError as exc:
        raise MedtuneError(
            f"{results_path}:{exc.lineno}: expected JSON, found invalid JSON ({exc.msg})"
        ) from None
    if "tasks" not in results:
        raise MedtuneError(f"{results_path}: expected a medtune evaluation (a 'tasks' key), found none")
    atomic_write_text(results_path.parent / SUMMARY, summary_csv(results))
    atomic_write_text(results_path.parent / REPORT, render_html(results))
    return results_path.parent / REPORT


# -------------------------------------------------------------------------------------------------- HTML


def _e(value: Any) -> str:
    return html.escape(str(value))


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.1f}"
    return _e(value)


def _side_order(results: dict[str, Any]) -> list[str]:
    sides = list(results.get("sides", {}))
    first = [s for s in (results.get("baseline"), results.get("candidate")) if s in sides]
    return first + [s for s in sides if s not in first]


def _color(k: int, sides: int) -> str:
    """Grey for the baseline of a comparison, blue for the candidate (or the only model), then others."""
    return COLORS[(k + 1) % len(COLORS)] if sides == 1 else COLORS[k % len(COLORS)]


def bar_chart(title: str, series: dict[str, dict[str, dict[str, Any]]], metrics: list[str]) -> str:
    """Grouped horizontal bars (one group per metric, one bar per side) with CI whiskers, as SVG."""
    sides = list(series)
    values = [series[s].get(m, {}) for m in metrics for s in sides]
    top = max([1.0] + [v.get("ci_high") or v.get("value") or 0 for v in values if v])
    scale = 1.0 if all(m in PROPORTION_METRICS for m in metrics) else top
    bar_h, gap, label_w, width = 14, 10, 150, 420
    height = len(metrics) * (len(sides) * bar_h + gap) + 40
    parts = [f'<svg width="{label_w + width + 90}" height="{height}" role="img" aria-label="{_e(title)}">']
    y = 24
    for m in metrics:
        parts.append(f'<text x="0" y="{y + bar_h * len(sides) / 2 + 4}" font-size="12">{_e(m)}</text>')
        for k, side in enumerate(sides):
            est = series[side].get(m) or {}
            v = est.get("value")
            color = _color(k, len(sides))
            if v is not None:
                w = max(0.0, min(1.0, v / scale)) * width
                parts.append(
                    f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{color}">'
                    f"<title>{_e(side)}: {v:.4g}</title></rect>"
                )
                lo, hi = est.get("ci_low"), est.get("ci_high")
                if lo is not None and hi is not None:
                    x1 = label_w + max(0.0, min(1.0, lo / scale)) * width
                    x2 = label_w + max(0.0, min(1.0, hi / scale)) * width
                    cy = y + (bar_h - 2) / 2
                    parts.append(
                        f'<line x1="{x1:.1f}" y1="{cy}" x2="{x2:.1f}" y2="{cy}" stroke="#000"/>'
                        f'<line x1="{x1:.1f}" y1="{cy - 4}" x2="{x1:.1f}" y2="{cy + 4}" stroke="#000"/>'
                        f'<line x1="{x2:.1f}" y1="{cy - 4}" x2="{x2:.1f}" y2="{cy + 4}" stroke="#000"/>'
                    )
                parts.append(
                    f'<text x="{label_w + width + 6}" y="{y + bar_h - 4}" font-size="11">{v:.3g}</text>'
                )
            y += bar_h
        y += gap
    legend = " ".join(f'<tspan fill="{_color(k, len(sides))}">■</tspan> {_e(s)}' for k, s in enumerate(sides))
    parts.append(f'<text x="{label_w}" y="14" font-size="12">{legend}</text></svg>')
    return "".join(parts)


def calibration_chart(bins_by_side: dict[str, list[dict[str, Any]]]) -> str:
    """Reliability diagram: accuracy vs mean confidence per bin, the diagonal is perfect calibration."""
    size, pad = 260, 30
    parts = [
        f'<svg width="{size + 2 * pad + 120}" height="{size + 2 * pad}" role="img" aria-label="calibration">',
        f'<rect x="{pad}" y="{pad}" width="{size}" height="{size}" fill="none" stroke="#999"/>',
        f'<line x1="{pad}" y1="{pad + size}" x2="{pad + size}" y2="{pad}" stroke="#bbb" '
        'stroke-dasharray="4"/>',
        f'<text x="{pad}" y="{pad + size + 20}" font-size="11">confidence →</text>',
        f'<text x="2" y="{pad - 8}" font-size="11">accuracy</text>',
    ]
    for k, (side, bins) in enumerate(bins_by_side.items()):
        color = _color(k, len(bins_by_side))
        points = [(b["confidence"], b["accuracy"], b["count"]) for b in bins if b["count"]]
        path = " ".join(f"{pad + c * size:.1f},{pad + size - a * size:.1f}" for c, a, _ in points)
        if path:
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for c, a, count in points:
            parts.append(
                f'<circle cx="{pad + c * size:.1f}" cy="{pad + size - a * size:.1f}" r="3" fill="{color}">'
                f"<title>{_e(side)}: {count} items, conf {c:.2f}, acc {a:.2f}</title></circle>"
            )
        parts.append(
            f'<text x="{pad + size + 10}" y="{pad + 14 + 16 * k}" font-size="12" fill="{color}">'
            f"{_e(side)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _metrics_table(result: dict[str, Any], sides: list[str]) -> str:
    metrics = list(dict.fromkeys(m for s in sides for m in result.get("metrics", {}).get(s, {})))
    deltas = result.get("deltas", {})
    head = "".join(f"<th>{_e(s)}</th>" for s in sides) + ("<th>delta (95% CI)</th>" if deltas else "")
    rows = []
    for m in metrics:
        cells = []
        for s in sides:
            est = result["metrics"].get(s, {}).get(m)
            if est is None:
                cells.append("<td>–</td>")
                continue
            ci = (
                f" <small>[{_fmt(est['ci_low'])}, {_fmt(est['ci_high'])}]</small>"
                if est.get("ci_low") is not None
                else ""
            )
            cells.append(f"<td>{_fmt(est['value'])}{ci}</td>")
        if deltas:
            d = deltas.get(m)
            if d and d.get("value") is not None:
                ci = (
                    f" <small>[{_fmt(d['ci_low'])}, {_fmt(d['ci_high'])}]</small>"
                    if d.get("ci_low") is not None
                    else ""
                )
                cells.append(f"<td>{d['value']:+.4f}{ci}</td>")
            else:
                cells.append("<td>–</td>")
        rows.append(f"<tr><th>{_e(m)}</th>{''.join(cells)}</tr>")
    return f"<table><tr><th>metric</th>{head}</tr>{''.join(rows)}</table>"


def _groups_section(result: dict[str, Any], sides: list[str]) -> str:
    out = []
    metric = next(iter(result.get("metrics", {}).get(sides[0], {}) or {"": None}), "") if sides else ""
    for field_name, groups in result.get("groups", {}).items():
        series = {
            s: {g: {"value": entry.get(s, {}).get(metric)} for g, entry in groups.items()} for s in sides
        }
        out.append(f"<h4>{_e(metric)} by {_e(field_name)}</h4>")
        out.append(bar_chart(f"{metric} by {field_name}", series, list(groups)))
        head = "".join(f"<th>{_e(s)}</th>" for s in sides)
        rows = "".join(
            f"<tr><th>{_e(g)}</th><td>{entry['items']}</td>"
            + "".join(f"<td>{_fmt(entry.get(s, {}).get(metric))}</td>" for s in sides)
            + "</tr>"
            for g, entry in groups.items()
        )
        out.append(f"<table><tr><th>{_e(field_name)}</th><th>items</th>{head}</tr>{rows}</table>")
    return "".join(out)


def _policy_section(result: dict[str, Any], sides: list[str]) -> str:
    """How often each policy rule fired on each side's outputs (results.json `tasks.T.policy`)."""
    policy = result.get("policy") or {}
    present = [s for s in sides if s in policy]
    if not present:
        return ""
    first = policy[present[0]]
    rules = sorted({r for s in present for r in policy[s].get("by_rule", {})})
    head = "".join(f"<th>{_e(s)}</th>" for s in present)
    rows = [
        f"<tr><th>{level}</th>" + "".join(f"<td>{_fmt(policy[s][key])}</td>" for s in present) + "</tr>"
        for level, key in (("PASS", "pass_rate"), ("WARN", "warn_rate"), ("BLOCK", "block_rate"))
    ]
    for rule in rules:
        entries = [policy[s].get("by_rule", {}).get(rule) for s in present]
        action = next(e["action"] for e in entries if e)
        rows.append(
            f"<tr><th>{_e(rule)} ({_e(action)})</th>"
            + "".join(f"<td>{_fmt(e['rate'] if e else 0.0)}</td>" for e in entries)
            + "</tr>"
        )
    return (
        f"<h4>policy decisions ({_e(first.get('file'))}, sha256 <code>{_e(str(first.get('sha256'))[:16])}"
        f"</code>): share of outputs</h4><table><tr><th>decision / rule</th>{head}</tr>"
        f"{''.join(rows)}</table>"
    )


def _gates_section(results: dict[str, Any]) -> str:
    gates = results.get("gates") or []
    if not gates:
        return ""
    rows = "".join(
        f"<tr class={'pass' if g['passed'] else 'fail'}><td>{_e(g['gate'])}</td><td>{_e(g['task'])}</td>"
        f"<td>{_e(g['op'])} {g['threshold']:g}</td><td>{_fmt(g['value'])}</td>"
        f"<td>{'PASS' if g['passed'] else 'FAIL'} {_e(g['reason'])}</td></tr>"
        for g in gates
    )
    verdict = "all gates passed" if results.get("passed") else "GATES FAILED"
    return (
        f"<h2>Gates: {verdict}</h2><table><tr><th>gate</th><th>task</th><th>threshold</th><th>value</th>"
        f"<th>result</th></tr>{rows}</table>"
    )


def render_html(results: dict[str, Any]) -> str:
    sides = _side_order(results)
    body = [
        f"<h1>medtune evaluation</h1><p>{_e(results.get('created_at', ''))} · "
        f"schema {_e(results.get('schema'))}</p>"
    ]
    model_rows = "".join(
        f"<tr><th>{_e(s)}</th><td>{_e(info.get('role'))}</td><td>{_e(info.get('backend'))}</td>"
        f"<td>{_e(info.get('name'))}</td><td><code>{_e(_identity(info))}</code></td></tr>"
        for s, info in results.get("sides", {}).items()
    )
    body.append(
        "<h2>Models</h2><table><tr><th>side</th><th>role</th><th>back end</th><th>name</th>"
        f"<th>identity (sha256)</th></tr>{model_rows}</table>"
    )
    body.append(_gates_section(results))
    for task, result in results.get("tasks", {}).items():
        data = result.get("data", {})
        body.append(
            f"<h2>{_e(task)}</h2><p>{_e(result.get('description', ''))}<br>{result['items']} items · "
            f"{_e(result['kind'])} · data <code>{_e(data.get('path'))}</code> sha256 "
            f"<code>{_e(str(data.get('sha256', ''))[:16])}</code> · items sha256 "
            f"<code>{_e(str(data.get('items_sha256', ''))[:16])}</code></p>"
        )
        body.append(_metrics_table(result, sides))
        metrics = list(dict.fromkeys(m for s in sides for m in result.get("metrics", {}).get(s, {})))
        series = {s: result["metrics"].get(s, {}) for s in sides if s in result.get("metrics", {})}
        proportion = [m for m in metrics if m in PROPORTION_METRICS]
        for chart_metrics in (proportion, [m for m in metrics if m not in PROPORTION_METRICS]):
            if chart_metrics:
                body.append(bar_chart(task, series, chart_metrics))
        if result.get("calibration"):
            body.append(
                "<h4>calibration (choice probabilities)</h4>" + calibration_chart(result["calibration"])
            )
        body.append(_policy_section(result, sides))
        body.append(_groups_section(result, sides))
        for note in result.get("notes", []):
            body.append(f"<p class=note>note: {_e(note)}</p>")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;"
        "text-align:right}th:first-child{text-align:left}tr.pass td:last-child{color:#17803d}"
        "tr.fail td:last-child{color:#c0392b;font-weight:bold}.note{color:#8a6d00}"
    )
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>medtune evaluation</title>"
        f"<style>{style}</style>"
        f"</head><body>{''.join(body)}</body></html>\n"
    )


def _identity(info: dict[str, Any]) -> str:
    model = info.get("model") or {}
    parts = []
    if isinstance(model, dict) and model.get("sha256"):
        parts.append(f"model {model['sha256'][:16]}")
    elif isinstance(model, dict) and model.get("hub_id"):
        parts.append(f"{model['hub_id']}@{model.get('revision')}")
    adapter = info.get("adapter") or {}
    if adapter.get("sha256"):
        parts.append(f"adapter {adapter['sha256'][:16]}")
    if info.get("base_url"):
        parts.append(f"{info['base_url']} {info.get('served_model', '')}")
    return ", ".join(parts)
