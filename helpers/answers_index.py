"""``answers/index.html``: the executed notebooks at a glance, and a grader's map.

The first table lists each notebook run (mode, data with its provenance, hardware, wall
time, peak memory, headline metrics); the second lists every item of the three handouts
(:data:`helpers.handouts.ITEMS`) with a link to the section of the HTML report that answers it
and, where there is one, that run's headline result. Values are formatted for reading: no
JSON, accuracies as percentages, integers with thin spaces, nothing cut off.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from .handouts import ITEMS, find_anchor, result_of

_PERCENT_WORDS = ("accuracy", "f1", "agreement", "fraction", "precision", "recall")


def format_value(key: str, value: Any) -> str:
    """Readable text of a logged value: ``0.9859`` → ``98.6 %`` for accuracies, etc."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if 0.0 <= value <= 1.0 and any(w in key.lower() for w in _PERCENT_WORDS):
            return f"{100 * value:.1f} %"
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u202f")
    if isinstance(value, dict):
        return "; ".join(f"{k}: {format_value(f'{key} {k}', v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(key, v) for v in value)
    return str(value)


def data_text(data: dict[str, dict]) -> str:
    """The datasets a run used: title and provenance, classes, images per split, real or not."""
    from .datasets import SPECS

    parts = []
    for name, d in data.items():
        title = SPECS[name].title if name in SPECS and SPECS[name].title else name
        sizes = " · ".join(f"{s} {format_value('', n)}" for s, n in d.get("images", {}).items())
        kind = "SYNTHETIC stand-in" if d.get("synthetic") else "real data"
        parts.append(f"{title}: {d.get('classes', '?')} classes; {sizes} ({kind})")
    return "\n".join(parts)


def _cell(text: str) -> str:
    return "<td>" + html.escape(text).replace("\n", "<br>") + "</td>"


def _metrics_list(metrics: dict) -> str:
    items = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(format_value(k, v))}</li>"
                    for k, v in metrics.items())
    return f"<td><ul>{items}</ul></td>" if items else "<td></td>"


def _run_rows(results: dict) -> list[str]:
    from .reporting import hardware_line

    rows = []
    for name, r in sorted(results.items()):
        report = html.escape(r.get("report", f"{name}.html"))
        wall = r.get("executed_wall_time_s", r.get("wall_time_s"))
        rows.append(
            f'<tr><td><a href="{report}">{html.escape(name)}</a></td>'
            + _cell(r.get("mode", "?")) + _cell(data_text(r.get("data", {})))
            + _cell(hardware_line(r["hardware"]) if "hardware" in r else "?")
            + _cell(f"{wall / 60:.1f} min" if isinstance(wall, (int, float)) else "?")
            + _cell(f"{r.get('peak_memory_gib', '?')} GiB")
            + _metrics_list(r.get("metrics", {})) + "</tr>"
        )
    return rows


def _map_rows(results: dict, reports: dict[str, str]) -> list[str]:
    rows, handout = [], None
    for item in ITEMS:
        if item.handout != handout:
            handout = item.handout
            rows.append(f'<tr class="handout"><th colspan="4">{html.escape(handout)}</th></tr>')
        page = reports.get(item.notebook, "")
        anchor = find_anchor(page, item.heading) if page else None
        target = f"{item.notebook}.html" + (f"#{anchor}" if anchor else "")
        link = (f'<a href="{html.escape(target)}">{html.escape(item.notebook)} · '
                f"{html.escape(item.heading.rstrip(' ·'))}</a>")
        value = result_of(results.get(item.notebook, {}).get("metrics", {}), item.result)
        result = "" if value is None else f"{item.result}: {format_value(item.result, value)}"
        rows.append("<tr>" + _cell(item.item) + _cell(f"“…{item.quote}…”") + f"<td>{link}</td>"
                    + _cell(result) + "</tr>")
    return rows


def write_index(results: dict, target: Path) -> None:
    """Write the index page next to the reports it links (their anchors are read from them)."""
    reports = {}
    for name in {item.notebook for item in ITEMS}:
        path = target.parent / f"{name}.html"
        reports[name] = path.read_text(encoding="utf-8") if path.exists() else ""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cnn-suite answers</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 80rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; font-size: 0.9rem; margin-bottom: 2rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.4rem 0.6rem; vertical-align: top; text-align: left; }}
th {{ background: #f3f3f3; }} tr.handout th {{ background: #e4ecf7; }}
ul {{ margin: 0; padding-left: 1.1rem; }}
</style></head><body>
<h1>cnn-suite: graded outputs</h1>
<p>Each row is one notebook executed top to bottom by <code>make execute-all</code>; the link
opens its HTML report. Wall time is the whole notebook, kernel start included.
Machine-readable copy: <a href="results.json">results.json</a>.</p>
<table><thead><tr><th>notebook</th><th>mode</th><th>data</th><th>hardware</th>
<th>wall time</th><th>peak memory</th><th>headline metrics</th></tr></thead>
<tbody>
{chr(10).join(_run_rows(results))}
</tbody></table>
<h2 id="grader-map">A grader's map: every handout item and where it is answered</h2>
<p>Every question, programming part, exercise bullet, objective and methodology point of the
three handouts, quoted by a few of its own words, with a link to the report section that
answers it and, where the notebook logs one, the headline result of this run.</p>
<table><thead><tr><th>item</th><th>the handout asks</th><th>answered in</th>
<th>result of this run</th></tr></thead>
<tbody>
{chr(10).join(_map_rows(results, reports))}
</tbody></table></body></html>
"""
    target.write_text(page, encoding="utf-8")
