"""Class balancing: resampled indices and loss weights."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.datasets.balance import class_weights, oversample_indices, undersample_indices


def test_oversample_and_undersample_balance_classes():
    y = np.repeat([0, 1, 2], [50, 10, 5])
    over = oversample_indices(y, seed=0)
    assert np.bincount(y[over]).tolist() == [50, 50, 50]
    assert set(range(len(y))) <= set(over)  # every original of every class is kept
    under = undersample_indices(y, seed=0)
    assert np.bincount(y[under]).tolist() == [5, 5, 5] and len(set(under)) == 15
    assert np.array_equal(over, oversample_indices(y, seed=0))


def test_class_weights_are_balanced():
    w = class_weights(np.repeat([0, 1], [30, 10]))
    assert w[0] == pytest.approx(40 / (2 * 30)) and w[1] == pytest.approx(2.0)
