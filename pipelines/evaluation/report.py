"""Evaluation reports: a text table, Markdown, self-contained HTML (plots as base64 PNG) and JSON.

`write_report(result, out_dir)` takes the dict returned by `pipelines.evaluation.evaluate.evaluate`
(ranking or outcomes mode) and writes, each atomically:

    eval.json            the result as is
    eval.md              tables + links to the PNGs
    eval.html            the same tables, plots embedded (no external files needed)
    metric_by_arm.png    each metric's mean per arm with its 95% CI as error bars
    recall_curve.png     mean Recall@k for k = 1..K per arm (ranking mode only)
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dssm.io import write_bytes, write_json, write_text

SUMMARY_METRICS = ("recall@10", "recall@100", "ndcg@10", "mrr", "gauc")
"""The ranking metrics a summary table shows, in order (when the result has them)."""
METRIC_LABELS = {"mrr": "MRR", "gauc": "GAUC", "within_vacancy_auc": "within-vacancy AUC"}


def metric_label(metric: str) -> str:
    if metric in METRIC_LABELS:
        return METRIC_LABELS[metric]
    name, _, k = metric.partition("@")
    return {"recall": "Recall", "ndcg": "nDCG"}.get(name, name) + (f"@{k}" if k else "")


def _num(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{round(x, digits) + 0.0:.{digits}f}"  # + 0.0 turns -0.0 into 0.0


def _diff(d: dict[str, Any] | None) -> str:
    if not d:
        return ""
    return f"{round(d['diff'], 4) + 0.0:+.4f} [{_num(d['ci_low'])}, {_num(d['ci_high'])}]"


def headline_metric(metric_names: Sequence[str], mode: str = "ranking") -> str:
    """The metric a text table's difference column reports: the largest-k Recall (ranking) or within-vacancy AUC."""
    if mode == "outcomes":
        return "within_vacancy_auc"
    recalls = [m for m in metric_names if m.startswith("recall@")]
    return max(recalls, key=lambda m: int(m.split("@")[1]))


def _headline(result: dict[str, Any]) -> str:
    return headline_metric(result["metric_names"], result["mode"])


def table_rows(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the summary table shared by the text, Markdown and HTML outputs."""
    head_metric = _headline(result)
    if result["mode"] == "outcomes":
        base = result["baseline"]
        header = ["arm", "within-vacancy AUC", "95% CI", f"diff vs {base} [95% CI]", "p"]
        rows = []
        for arm, a in result["arms"].items():
            m = a["metrics"]["within_vacancy_auc"]
            d = result["vs_baseline"].get(arm, {}).get("within_vacancy_auc")
            rows.append([arm, _num(m["mean"]), f"[{_num(m['ci_low'])}, {_num(m['ci_high'])}]", _diff(d) or "(baseline)", _num(d["p_value"], 3) if d else ""])
        return header, rows
    shown = [m for m in SUMMARY_METRICS if m in result["metric_names"]]
    shown += [m for m in result["metric_names"] if m not in shown and m.startswith("recall@")]
    header = ["arm", *(metric_label(m) for m in shown), f"diff {metric_label(head_metric)} vs {result['control']} [95% CI]"]
    rows = []
    for arm, a in result["arms"].items():
        d = result["vs_control"].get(arm, {}).get(head_metric)
        rows.append([arm, *(_num(a["metrics"][m]["mean"]) for m in shown), _diff(d) or "(control)"])
    return header, rows


def fixed_width(header: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of a text table: the first column left-aligned, the others right-aligned, a dashed rule under the header."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def format_table(result: dict[str, Any]) -> str:
    """Fixed-width text table of the evaluation result (for the CLI and the demo)."""
    out = fixed_width(*table_rows(result))
    gap = result.get("gap_recovered", {}).get(_headline(result)) if result["mode"] == "ranking" else None
    if gap:
        if gap.get("fraction") is None:
            out.append(f"gap recovered ({metric_label(_headline(result))}): undefined ({gap.get('note', '')})")
        else:
            out.append(
                f"gap recovered ({metric_label(_headline(result))}, {result['treatment']} between {result['control']} and {result['teacher']}): "
                f"{gap['fraction']:.1%} [{_num(gap['ci_low'], 3)}, {_num(gap['ci_high'], 3)}]"
            )
    return "\n".join(out)


# ----------------------------------------------------------------------------- plots


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def plot_metric_by_arm(result: dict[str, Any]) -> bytes:
    """PNG: one panel per metric, the mean of each arm with its CI as an error bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = result["metric_names"]
    arms = list(result["arms"])
    ncol = min(3, len(metrics))
    nrow = math.ceil(len(metrics) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 0.5 * len(arms) + 2.2 * nrow), squeeze=False)
    for ax, m in zip(axes.ravel(), metrics):
        means = [result["arms"][a]["metrics"][m]["mean"] for a in arms]
        lo = [result["arms"][a]["metrics"][m]["ci_low"] for a in arms]
        hi = [result["arms"][a]["metrics"][m]["ci_high"] for a in arms]
        err = [[max(0.0, mu - l) if _finite(mu, l) else 0.0 for mu, l in zip(means, lo)], [max(0.0, h - mu) if _finite(mu, h) else 0.0 for mu, h in zip(means, hi)]]
        colors = ["#888888" if a == result.get("control", result.get("baseline")) else "#3b75af" for a in arms]
        ax.barh(range(len(arms)), [mu if _finite(mu) else 0.0 for mu in means], xerr=err, color=colors, capsize=3)
        ax.set_yticks(range(len(arms)), arms)
        ax.invert_yaxis()
        ax.set_title(metric_label(m))
        ax.grid(axis="x", alpha=0.3)
    for ax in axes.ravel()[len(metrics) :]:
        ax.axis("off")
    fig.suptitle(f"metric by arm (mean, {100 * (1 - result['config']['alpha']):.0f}% bootstrap CI)")
    fig.tight_layout()
    data = _png(fig)
    plt.close(fig)
    return data


def plot_recall_curves(result: dict[str, Any]) -> bytes:
    """PNG: mean Recall@k against k = 1..K, one line per arm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for arm, a in result["arms"].items():
        curve = a["recall_curve"]
        ax.plot(range(1, len(curve) + 1), curve, label=arm, lw=2 if arm in (result["control"], result["treatment"]) else 1.2)
    ax.set_xlabel("k")
    ax.set_ylabel("Recall@k")
    ax.set_title(f"Recall@k on {result['n_users_with_positives']} held-out resumes")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    data = _png(fig)
    plt.close(fig)
    return data


def _finite(*xs: Any) -> bool:
    return all(x is not None and math.isfinite(x) for x in xs)


# ----------------------------------------------------------------------------- documents


def _sections(result: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table in the report."""
    header, rows = table_rows(result)
    out = [("Summary", header, rows)]
    if result["mode"] == "ranking":
        ci_header = ["arm", *(metric_label(m) for m in result["metric_names"])]
        ci_rows = [
            [arm, *(f"{_num(a['metrics'][m]['mean'])} [{_num(a['metrics'][m]['ci_low'])}, {_num(a['metrics'][m]['ci_high'])}]" for m in result["metric_names"])]
            for arm, a in result["arms"].items()
        ]
        out.append(("Metrics with 95% bootstrap CIs", ci_header, ci_rows))
        d_rows = [
            [arm, metric_label(m), _num(d["mean_a"]), _num(d["mean_b"]), _diff(d), _num(d["p_value"], 3)]
            for arm, per in result["vs_control"].items()
            for m, d in per.items()
        ]
        out.append((f"Paired differences vs {result['control']}", ["arm", "metric", result["control"], "arm mean", "diff [95% CI]", "p"], d_rows))
        g_rows = [
            [metric_label(m), _num(g["control"]), _num(g["treatment"]), _num(g["teacher"]), "n/a" if g["fraction"] is None else f"{g['fraction']:.3f}", f"[{_num(g['ci_low'], 3)}, {_num(g['ci_high'], 3)}]"]
            for m, g in result.get("gap_recovered", {}).items()
        ]
        if g_rows:
            out.append(
                (
                    f"Share of the {result['control']} → {result['teacher']} gap recovered by {result['treatment']}",
                    ["metric", result["control"], result["treatment"], result["teacher"], "fraction", "95% CI"],
                    g_rows,
                )
            )
    else:
        arms = list(result["arms"])
        v_rows = [
            [v["title"][:60], str(v["n_confirmed"]), str(v["n_failed"]), *(_num(result["arms"][a]["per_vacancy_auc"][v["vacancy_id"]], 3) for a in arms)]
            for v in result["vacancies"]
        ]
        out.append(("Per-vacancy AUC (confirmed vs failed)", ["vacancy", "confirmed", "failed", *arms], v_rows))
    return out


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def row(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([row(header), "|" + "---|" * len(header), *(row(r) for r in rows)])


def _intro(result: dict[str, Any]) -> list[str]:
    if result["mode"] == "outcomes":
        return [
            f"Dataset `{result['dataset']}`: {result['n_pairs']} labelled pairs ({result['n_positive']} confirmed) over "
            f"{result['n_vacancies']} vacancies ({result['n_vacancies_used']} with both classes).",
            "Within-vacancy AUC of confirmed vs failed resumes, mean over vacancies weighted by n_confirmed·n_failed; "
            f"CIs resample vacancies ({result['config']['n_boot']} draws); differences are paired vs `{result['baseline']}`.",
        ]
    return [
        f"Dataset `{result['dataset']}`, split `{result['split']['kind']}`: {result['n_users']} held-out resumes "
        f"({result['n_users_with_positives']} with positives; {result['n_users_gauc']} with both classes among impressions), "
        f"all {result['n_vacancies']} vacancies ranked.",
        f"CIs: percentile bootstrap over users ({result['config']['n_boot']} draws); differences are paired vs `{result['control']}`.",
    ]


def render_markdown(result: dict[str, Any], images: dict[str, str]) -> str:
    """Markdown report; `images` maps a caption to a PNG file name beside it."""
    title = "Talent Match outcome check" if result["mode"] == "outcomes" else "Offline evaluation"
    parts = [f"# {title}", "", *_intro(result), ""]
    for name, header, rows in _sections(result):
        parts += [f"## {name}", "", _md_table(header, rows), ""]
    for caption, file in images.items():
        parts += [f"## {caption}", "", f"![{caption}]({file})", ""]
    if result.get("notes"):
        parts += ["## Notes", "", *(f"- {n}" for n in result["notes"]), ""]
    return "\n".join(parts)


def render_html(result: dict[str, Any], images: dict[str, bytes]) -> str:
    """Self-contained HTML report: inline CSS, plots embedded as base64 PNG."""
    title = "Talent Match outcome check" if result["mode"] == "outcomes" else "Offline evaluation"
    e = html.escape
    body = [f"<h1>{e(title)}</h1>", *(f"<p>{e(p)}</p>" for p in _intro(result))]
    for name, header, rows in _sections(result):
        body.append(f"<h2>{e(name)}</h2><table><tr>{''.join(f'<th>{e(h)}</th>' for h in header)}</tr>")
        body += [f"<tr>{''.join(f'<td>{e(c)}</td>' for c in r)}</tr>" for r in rows]
        body.append("</table>")
    for caption, png in images.items():
        body.append(f"<h2>{e(caption)}</h2><img alt='{e(caption)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
    if result.get("notes"):
        body.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in result["notes"]) + "</ul>")
    css = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}img{max-width:100%}"
    )
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title><style>{css}</style></head><body>{''.join(body)}</body></html>\n"


def write_report(result: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write eval.json, eval.md, eval.html and the PNG plots into `out_dir` (each atomically); returns their paths."""
    out = Path(out_dir)
    pngs = {"Metric by arm": ("metric_by_arm.png", plot_metric_by_arm(result))}
    if result["mode"] == "ranking":
        pngs["Recall@k curves"] = ("recall_curve.png", plot_recall_curves(result))
    paths = {}
    for caption, (file, data) in pngs.items():
        write_bytes(out / file, data)
        paths[file] = out / file
    write_json(out / "eval.json", result)
    write_text(out / "eval.md", render_markdown(result, {c: f for c, (f, _) in pngs.items()}))
    write_text(out / "eval.html", render_html(result, {c: d for c, (_, d) in pngs.items()}))
    paths |= {name: out / name for name in ("eval.json", "eval.md", "eval.html")}
    return paths
