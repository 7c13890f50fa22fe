"""Class balancing: resampled indices and loss weights."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.datasets.balance import (
    class_weights,
    cycle_to,
    oversample_indices,
    undersample_indices,
)


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


def test_cycle_to_repeats_a_small_index_to_a_fixed_length():
    small = np.array([3, 7, 9, 11])
    out = cycle_to(small, 10, seed=1)
    assert len(out) == 10 and set(out) == set(small.tolist())
    assert sorted(out[:4].tolist()) == sorted(small.tolist())  # each pass is a permutation
    assert np.bincount(out).max() - np.bincount(out)[small].min() <= 1
    with pytest.raises(ValueError):
        cycle_to(np.array([], dtype=int), 3)
