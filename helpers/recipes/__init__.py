"""Each dataset's final model, declared once and shared by the notebooks and the benchmark.

``base`` defines :class:`Recipe` and the single training (:func:`train`) and evaluation
(:func:`predict`, :func:`evaluate`) paths; one module per dataset declares its recipes;
``measured`` reads back what ``make bench`` measured for them (the ablation rows).
"""

from .base import Recipe, SmoothedSparseCrossentropy, Trained, evaluate, predict, train
from .measured import (
    ablation_styler,
    ablation_summary,
    ablation_table,
    benchmark_row,
    two_run_half_width,
)

__all__ = ["Recipe", "SmoothedSparseCrossentropy", "Trained", "ablation_styler",
           "ablation_summary", "ablation_table", "benchmark_row", "evaluate", "predict", "train",
           "two_run_half_width"]
