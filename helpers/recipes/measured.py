"""What ``make bench`` measured for a recipe, read back from ``benchmarks/results.json``.

The graded notebooks train each recipe once; what each of its ingredients buys is measured
by the benchmark's ablation part (``make bench-ablations``: the recipe with one ingredient
removed, under one shorter budget). :func:`ablation_table` shows those committed rows in a
notebook, each with the commit and date it ran, so a report can cite them without typing them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..config import REPO_ROOT
from ..evaluation import wilson_interval

RESULTS = REPO_ROOT / "benchmarks" / "results.json"
COLUMNS = ["model", "test accuracy", "epochs", "train s", "code", "measured", "hardware"]


def _rows(path: Path) -> dict:
    """The benchmark's rows by key ({} without the file); ``ValueError`` for a foreign file."""
    if not path.is_file():
        return {}
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
        if not isinstance(rows, dict) or not all(isinstance(r, dict) for r in rows.values()):
            raise TypeError("rows is not a mapping of rows")
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{path} is not the benchmark's results file: {err}") from err
    return rows


def benchmark_rows(path: Path | str = RESULTS) -> dict:
    """Every committed benchmark row by key ({} without the file; ``ValueError`` for a file
    that is not the benchmark's results)."""
    return _rows(Path(path))


def benchmark_row(key: str, path: Path | str = RESULTS) -> dict | None:
    """One committed benchmark row (e.g. ``"gtsrb/cnn_colour"``), or None when it is absent."""
    return _rows(Path(path)).get(key)


def ablation_table(recipe_key: str, path: Path | str = RESULTS) -> pd.DataFrame:
    """The benchmark's rows for ``recipe_key`` (e.g. ``"gtsrb/cnn"``), in the order it stored
    them: its headline row, its ablation reference and each ingredient removed, with each
    trained ablation's gap to the reference in points.

    Returns an empty frame with the same columns when the file or the rows are missing (a copy
    of the package without the benchmark's results); a file that is not the benchmark's JSON
    raises ``ValueError``.
    """
    rows = _rows(Path(path))
    if not rows:
        return pd.DataFrame(columns=[*COLUMNS, "vs reference (points)"])
    picked = [r for k, r in rows.items() if k == recipe_key or r.get("ablation_of") == recipe_key]
    table = pd.DataFrame(
        [{"model": r.get("model", r.get("key")), "test accuracy": r.get("test_accuracy"),
          "epochs": r.get("epochs"), "train s": r.get("train_seconds"), "code": r.get("code"),
          "measured": r.get("measured"), "hardware": r.get("hardware")} for r in picked],
        columns=COLUMNS,
    )
    ref = table.loc[table["model"].str.startswith("ablation reference"), "test accuracy"]
    # a gap only for ingredients removed before training, under the reference's budget
    trained_without = (table["model"].str.startswith("ablation: without")
                       & ~table["model"].str.contains("same trained model"))
    table["vs reference (points)"] = (100 * (table["test accuracy"] - ref.iloc[0])).where(
        trained_without) if len(ref) else float("nan")
    return table.set_index("model")


def ablation_styler(table: pd.DataFrame):
    """:func:`ablation_table` formatted for a notebook (percentages, signed gaps, "–" for none),
    without the machine, commit and date columns, which mean nothing to a report's reader."""
    return table.drop(columns=["hardware", "code", "measured"], errors="ignore").style.format(
        {"test accuracy": "{:.1%}", "train s": "{:.0f}", "epochs": "{:.0f}",
         "vs reference (points)": "{:+.1f}"}, na_rep="–"
    ).set_caption("Separate reference runs of the same code, one seed each: the recipe at its full "
                  "length (the row not marked 'ablation'), and at a shorter time budget a "
                  "reference run and, against it, each ingredient removed")


def two_run_half_width(accuracy: float, n_test: int) -> float:
    """Half-width in points of the 95 % interval of the difference between two independent
    runs near ``accuracy`` on ``n_test`` images: √2 × one run's Wilson half-width."""
    low, high = wilson_interval(round(accuracy * n_test), n_test)
    return 50 * (high - low) * 2 ** 0.5


def ablation_summary(table: pd.DataFrame, n_test: int) -> str:
    """One sentence: what removing each ingredient did against the reference, and the width
    of one run's 95 % Wilson sampling interval at ``n_test`` test images and of the difference
    of two runs (smaller gaps are not evidence); empty when the table holds no ablation."""
    gaps = table["vs reference (points)"].dropna()
    ref = table.loc[table.index.str.startswith("ablation reference"), "test accuracy"]
    if gaps.empty or ref.empty or n_test < 1:
        return ""
    low, high = wilson_interval(round(float(ref.iloc[0]) * n_test), n_test)
    half, diff_half = 50 * (high - low), two_run_half_width(float(ref.iloc[0]), n_test)
    ref_epochs = table.loc[ref.index[0], "epochs"] if "epochs" in table else None

    def one(name: str, gap: float) -> str:
        verdict = ("beyond the two-run interval" if abs(gap) > diff_half
                   else "within the two-run interval")
        text = f"{name.removeprefix('ablation: ')}: {gap:+.1f} points ({verdict}"
        epochs = table.loc[name, "epochs"] if "epochs" in table else None
        if pd.notna(epochs) and pd.notna(ref_epochs) and epochs != ref_epochs:
            text += (f"; {epochs:.0f} epochs against the reference's {ref_epochs:.0f}, so the "
                     "gap mixes the ingredient with the length of training")
        return text + ")"

    parts = "; ".join(one(name, gap) for name, gap in gaps.items())
    return _provenance(table) + (
        f"Measured in those separate runs against the reference (one seed per row, the "
        f"same short time budget): {parts}. One run's 95 % sampling interval at "
        f"{n_test:,} test images at the reference's accuracy ({float(ref.iloc[0]):.1%}) "
        f"is about ±{half:.1f} points, the difference of two such runs (the two-run "
        f"interval) about ±{diff_half:.1f}; each row is one seed, and seed-to-seed changes "
        f"(not measured here) widen that further, so only gaps beyond the interval are "
        f"evidence."
    )


def _provenance(table: pd.DataFrame) -> str:
    """A sentence when the ablation rows ran at another commit than the full-length row,
    saying when and where each ran; empty otherwise."""
    if not {"code", "measured", "hardware"} <= set(table.columns):
        return ""
    is_ablation = table.index.str.startswith("ablation")
    head, abl = table[~is_ablation], table[is_ablation]
    if head.empty or abl.empty or set(abl["code"].dropna()) <= set(head["code"].dropna()):
        return ""

    def where(rows: pd.DataFrame) -> str:
        dates = sorted({str(d)[:10] for d in rows["measured"].dropna()})
        machines = sorted({str(h).split(",")[0] for h in rows["hardware"].dropna()})
        codes = sorted({str(c) for c in rows["code"].dropna()})
        return f"{', '.join(dates)}, commit {', '.join(codes)}, {', '.join(machines)}"

    return (f"The ablation rows ran at another commit than the full-length row (ablation: "
            f"{where(abl)}; full length: {where(head)}), and the recipe's code may differ "
            "between the two, so the ablation describes the code of its own commit. ")
