"""Template matching by convolution and the Gaussian pyramid."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.matching import best_match, correlation_map, gaussian_pyramid, ncc_map


def _scene(seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (60, 80)).astype(np.float32)


def test_ncc_finds_the_cut_out_patch_exactly():
    img = _scene()
    template = img[21:33, 40:55]
    score = ncc_map(img, template)
    assert score.shape == (60 - 12 + 1, 80 - 15 + 1)
    (r, c), s = best_match(score)
    assert (r, c) == (21, 40) and s == pytest.approx(1.0, abs=1e-9)
    # every position equals the textbook formula, computed directly in float64
    rng = np.random.default_rng(0)
    t0 = template - template.mean()
    for r, c in rng.integers(0, score.shape, size=(20, 2)):
        patch = img[r:r + 12, c:c + 15].astype(np.float64)
        p0 = patch - patch.mean()
        direct = (p0 * t0).sum() / (np.linalg.norm(p0) * np.linalg.norm(t0))
        assert score[r, c] == pytest.approx(direct, abs=1e-6)


def test_ncc_of_a_bright_photo_sized_patch_stays_within_minus_one_to_one():
    """255-level pixels and a 40 x 40 template: float32 box sums gave 1.0001 here."""
    img = np.random.default_rng(1).integers(0, 256, (120, 160)).astype(np.float32)
    score = ncc_map(img, img[30:70, 50:90])
    assert best_match(score) == ((30, 50), pytest.approx(1.0, abs=1e-9))
    assert np.abs(np.asarray(ncc_map(img, img[30:70, 50:90]))).max() <= 1.0


def test_ncc_ignores_brightness_and_contrast_changes():
    img = _scene(1)
    template = img[5:15, 10:20] * 0.5 + 30
    assert best_match(ncc_map(img, template))[0] == (5, 10)


def test_plain_correlation_matches_numpy():
    img, t = _scene(2)[:10, :10], np.arange(9.0).reshape(3, 3)
    expected = np.array(
        [[np.sum(img[i : i + 3, j : j + 3] * t) for j in range(8)] for i in range(8)]
    )
    np.testing.assert_allclose(correlation_map(img, t), expected, rtol=1e-5)


def test_pyramid_halves_and_preserves_mean():
    levels = gaussian_pyramid(np.full((64, 48), 100.0), 4)
    assert [lv.shape for lv in levels] == [(64, 48), (32, 24), (16, 12), (8, 6)]
    assert all(np.allclose(lv, 100.0, atol=1e-3) for lv in levels)


def test_pyramid_blurs_before_halving():
    """A one-pixel checkerboard aliases to a flat 0 or 200 without the blur; blurred, it is 100."""
    board = 200.0 * (np.indices((32, 32)).sum(axis=0) % 2)
    half = gaussian_pyramid(board, 2)[1]
    assert half.shape == (16, 16)
    np.testing.assert_allclose(half[2:-2, 2:-2], 100.0, atol=1.0)
    dot = np.zeros((32, 32))
    dot[16, 16] = 400.0
    spread = gaussian_pyramid(dot, 2)[1]
    assert np.count_nonzero(spread > 1.0) >= 4 and spread.max() < 100.0  # spread, not picked
    assert spread.sum() * 4 == pytest.approx(400.0, rel=0.1)  # and the mass is roughly kept
