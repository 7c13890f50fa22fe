"""Each dataset's final model, declared once and shared by the notebooks and the benchmark.

``base`` defines :class:`Recipe` and the single training (:func:`train`) and evaluation
(:func:`predict`, :func:`evaluate`) paths; one module per dataset declares its recipes.
"""

from .base import Recipe, SmoothedSparseCrossentropy, Trained, evaluate, predict, train

__all__ = ["Recipe", "SmoothedSparseCrossentropy", "Trained", "evaluate", "predict", "train"]
