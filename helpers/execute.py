"""Execute notebooks and write the graded outputs: ``python -m helpers.execute``.

For each notebook this runs every cell with papermill (full mode unless ``--quick``),
then writes to the output folder (``answers/`` by default):

* ``NN_name.ipynb``: the executed notebook;
* ``NN_name.html``: its HTML rendering (nbconvert);
* ``results.json``: per notebook, mode, data, hardware, wall time, peak memory and
  the headline metrics the notebook logged;
* ``index.html``: links to the reports and the table of ``results.json``.

A failing cell fails the command (exit status 1); the partly executed notebook is
kept as ``NN_name.partial.ipynb`` for inspection. Quick runs go to ``build/answers-quick``
so that ``answers/`` only ever holds full runs.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
import time
from pathlib import Path

from .config import QUICK_ENV, REPO_ROOT, RESULTS_DIR_ENV
from .progress import ProgressMonitor
from .reporting import hardware, hardware_line, replace_block

NOTEBOOKS = REPO_ROOT / "notebooks"


def find_notebooks(selectors: list[str] | None) -> list[Path]:
    """Notebooks matching the selectors (``04``, ``04_traffic_signs``), or all of them."""
    every = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not selectors:
        return every
    chosen = []
    for sel in selectors:
        match = [nb for nb in every if nb.stem == sel or nb.stem.startswith(f"{sel}_")]
        if not match:
            names = ", ".join(nb.stem for nb in every)
            raise SystemExit(f"no notebook matches {sel!r}; there are: {names}")
        chosen += match
    return chosen


def execute_one(nb: Path, out_dir: Path, quick: bool, timeout: int | None) -> dict:
    """Run one notebook and write its executed copy and HTML; return its results entry."""
    import papermill as pm

    results_dir = out_dir / ".results"
    results_dir.mkdir(parents=True, exist_ok=True)
    partial = out_dir / f"{nb.stem}.partial.ipynb"
    os.environ[RESULTS_DIR_ENV] = str(results_dir)
    os.environ[QUICK_ENV] = "1" if quick else "0"
    start = time.time()
    pm.execute_notebook(
        str(nb),
        str(partial),
        parameters={"QUICK": quick},
        cwd=str(nb.parent),
        kernel_name="python3",
        execution_timeout=timeout,
        progress_bar={"desc": nb.stem} if sys.stderr.isatty() else False,
        log_output=False,
    )
    wall = round(time.time() - start, 1)
    final = out_dir / f"{nb.stem}.ipynb"
    os.replace(partial, final)
    write_html(final, out_dir / f"{nb.stem}.html")
    fragment = results_dir / f"{nb.stem}.json"
    entry = (
        json.loads(fragment.read_text())
        if fragment.exists()
        else {
            "notebook": nb.stem,
            "mode": "quick" if quick else "full",
            "hardware": hardware(),
            "metrics": {},
            "note": "the notebook did not call run.finish()",
        }
    )
    entry["executed_wall_time_s"] = wall
    entry["executed_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
    entry["report"] = f"{nb.stem}.html"
    return entry


def write_html(notebook: Path, target: Path) -> None:
    """Render an executed notebook to a standalone HTML file."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nbformat.read(notebook, 4))
    target.write_text(body, encoding="utf-8")


def _metric_cell(metrics: dict) -> str:
    items = []
    for key, value in metrics.items():
        if isinstance(value, float):
            value = f"{value:.4g}"
        elif isinstance(value, (dict, list)):
            value = json.dumps(value)[:120]
        items.append(f"<li><b>{html.escape(str(key))}</b>: {html.escape(str(value))}</li>")
    return "<ul>" + "".join(items) + "</ul>" if items else ""


def write_index(results: dict, target: Path) -> None:
    """Write the landing page that links every report and shows ``results.json``."""
    rows = []
    for name, r in sorted(results.items()):
        data = "<br>".join(
            html.escape(
                f"{d['dataset']}: "
                + ", ".join(f"{split} {n}" for split, n in d["images"].items())
                + (" (SYNTHETIC)" if d.get("synthetic") else f" from {d['source']}")
            )
            for d in r.get("data", {}).values()
        )
        report = r.get("report", name + ".html")
        rows.append(
            "<tr>"
            f"<td><a href='{html.escape(report)}'>{html.escape(name)}</a></td>"
            f"<td>{html.escape(r.get('mode', '?'))}</td><td>{data}</td>"
            f"<td>{html.escape(hardware_line(r['hardware']) if 'hardware' in r else '?')}</td>"
            f"<td>{r.get('executed_wall_time_s', r.get('wall_time_s', '?'))} s</td>"
            f"<td>{r.get('peak_memory_gib', '?')} GiB</td>"
            f"<td>{_metric_cell(r.get('metrics', {}))}</td>"
            "</tr>"
        )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cnn-suite answers</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 75rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; font-size: 0.9rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.4rem 0.6rem; vertical-align: top; text-align: left; }}
th {{ background: #f3f3f3; }} ul {{ margin: 0; padding-left: 1.1rem; }}
</style></head><body>
<h1>cnn-suite: graded outputs</h1>
<p>Each row is one notebook executed top to bottom by <code>make execute-all</code>; the link
opens its HTML report. Wall time is the whole notebook, kernel start included.
Machine-readable copy: <a href="results.json">results.json</a>.</p>
<table><thead><tr><th>notebook</th><th>mode</th><th>data</th><th>hardware</th>
<th>wall time</th><th>peak memory</th><th>headline metrics</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table></body></html>
"""
    target.write_text(page, encoding="utf-8")


README_START = "<!-- results:start (generated by python -m helpers.execute --readme) -->"
README_END = "<!-- results:end -->"


def _headline(metrics: dict, limit: int = 4) -> str:
    """Short text of the scalar metrics (and small dicts of numbers) of one notebook."""

    def fmt(v) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    items = []
    # accuracy and F1 first: they are what a reader of the table looks for
    ranked = sorted(metrics.items(), key=lambda kv: not any(w in kv[0] for w in ("acc", "f1")))
    for key, value in ranked:
        if isinstance(value, bool) or not isinstance(value, (int, float, dict)):
            continue
        if isinstance(value, dict):
            nums = {k: v for k, v in value.items() if isinstance(v, (int, float))}
            if not nums or len(nums) != len(value) or len(nums) > 4:
                continue
            value = ", ".join(f"{k} {fmt(v)}" for k, v in nums.items())
        items.append(f"{key}: {fmt(value)}")
        if len(items) == limit:
            break
    return "; ".join(items)


def results_markdown(results: dict) -> str:
    """Markdown table of ``results.json``: mode, hardware, wall time, memory, headline."""
    lines = [
        "| notebook | mode | hardware | wall time | peak memory | headline metrics |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in sorted(results.items()):
        wall = r.get("executed_wall_time_s", r.get("wall_time_s"))
        minutes = f"{wall / 60:.1f} min" if isinstance(wall, (int, float)) else "?"
        hw = hardware_line(r["hardware"]) if "hardware" in r else "?"
        lines.append(
            f"| `{name}` | {r.get('mode', '?')} | {hw} | {minutes} | "
            f"{r.get('peak_memory_gib', '?')} GiB | {_headline(r.get('metrics', {}))} |"
        )
    return "\n".join(lines)


def update_readme(results: dict, readme: Path) -> None:
    """Replace the block between the results markers of the README with the current table."""
    replace_block(readme, README_START, README_END, results_markdown(results))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.execute",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("notebooks", nargs="*", help="numbers or names (default: all)")
    parser.add_argument("--quick", action="store_true", help="quick mode (small subsets)")
    parser.add_argument(
        "--out",
        type=Path,
        help="output folder (default: answers/, or build/answers-quick with --quick)",
    )
    parser.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")
    parser.add_argument(
        "--readme",
        action="store_true",
        help="only rewrite the README's results table from answers/results.json",
    )
    args = parser.parse_args(argv)
    if args.readme:
        results = json.loads((REPO_ROOT / "answers" / "results.json").read_text())
        update_readme(results, REPO_ROOT / "README.md")
        return 0
    out_dir = args.out or (REPO_ROOT / ("build/answers-quick" if args.quick else "answers"))
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    failed = []
    for nb in find_notebooks(args.notebooks):
        print(f"executing {nb.name} ({'quick' if args.quick else 'full'} mode) ...", flush=True)
        previous = results.get(nb.stem, {})
        expected = previous.get("executed_wall_time_s") \
            if previous.get("mode") == ("quick" if args.quick else "full") else None
        try:
            with ProgressMonitor(nb.stem, expected):
                entry = execute_one(nb, out_dir, args.quick, args.timeout)
        except Exception as exc:  # papermill raises PapermillExecutionError for a failing cell
            print(f"FAILED {nb.name}: {exc}", file=sys.stderr)
            failed.append(nb.name)
            continue
        results[nb.stem] = entry
        results_path.write_text(json.dumps(results, indent=2) + "\n")
        write_index(results, out_dir / "index.html")
        print(f"  done in {entry['executed_wall_time_s']} s -> {out_dir / entry['report']}")
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
