"""Run the benchmark: ``python -m benchmarks [DATASET ...] [--part P] [--quick] [--out DIR]``.

Full mode (default) trains every headline model on the real data under each recipe's time
budget and merges its rows into ``benchmarks/results.json`` and
``benchmarks/results.md``. Quick mode runs the same code on a few images per class with
budgets of seconds, writes to ``build/bench-quick/`` and never touches the committed results.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import helpers  # noqa: F401  (mutes TensorFlow's start-up logs)
from helpers.progress import ProgressMonitor
from helpers.reporting import replace_block

from .core import BENCH_END, BENCH_START, Bench, markdown, merge_results
from .tasks import TASKS

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="*", help=f"some of {', '.join(TASKS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="a few images, seconds of training")
    parser.add_argument("--out", type=Path, help="folder for results.json and results.md")
    parser.add_argument("--readme", type=Path, nargs="?", const=HERE.parent / "README.md",
                        help="also rewrite the benchmark table in this README")
    parser.add_argument("--ablation-fraction", type=float, default=1 / 3,
                        help="ablations train for this share of each recipe's budget "
                        "(0: no trained ablations)")
    parser.add_argument("--part", choices=("all", "headline", "ablations"), default="all",
                        help="headline rows (make bench), ablation rows (make bench-ablations) "
                        "or both")
    parser.add_argument("--table-only", action="store_true",
                        help="do not run anything; rewrite the tables from results.json")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.datasets) - set(TASKS))
    if unknown:
        parser.error(f"unknown dataset(s) {', '.join(unknown)}; choose from {', '.join(TASKS)}")
    out = args.out or (HERE.parent / "build" / "bench-quick" if args.quick else HERE)
    results_path = out / "results.json"
    rows = {}
    if not args.table_only:
        parts = ("headline", "ablations") if args.part == "all" else (args.part,)
        bench = Bench(quick=args.quick, ablation_fraction=args.ablation_fraction,
                      headline="headline" in parts, ablations="ablations" in parts)
        done: list[str] = []
        for name in args.datasets or list(TASKS):
            start = time.perf_counter()
            with ProgressMonitor(f"[bench] {name}"):
                TASKS[name](bench)
            print(f"[bench] {name} done in {time.perf_counter() - start:.0f} s", flush=True)
            done.append(name)
            # after every task, so a later failure keeps the finished ones
            merge_results(results_path, bench.rows, replace=tuple(done), parts=parts)
        rows = bench.rows
    results = merge_results(results_path, rows)
    table = markdown(results)
    (out / "results.md").write_text(table + "\n", encoding="utf-8")
    print(table)
    if args.readme:
        replace_block(args.readme, BENCH_START, BENCH_END, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
