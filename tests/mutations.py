"""Mutation testing: plant deliberate bugs, one at a time, and check that a test fails.

Each :class:`Mutant` is a textual patch of one helpers module (the ``old`` text must occur
exactly once) and the test files that should catch it. For every mutant the script copies
``helpers/``, ``tests/`` and ``benchmarks/`` into a temporary folder, applies the patch there
(never to the working tree), runs those tests with ``-x`` and counts the mutant as *killed*
when pytest reports a failure (exit status 1). A mutant that makes the code fail to import
counts as an error, not a kill: the patch itself is broken.

Run by ``make mutate`` (all) or ``make mutate ONLY="grad_cam_no_relu no_groups"``; not in CI
(about ten minutes on two cores). ``--report`` rewrites the generated block of
``tests/README.md``. Mutation tools that rewrite every operator (mutmut, cosmic-ray) would run
the TensorFlow-importing tests thousands of times here; a short list of the bugs a person
would plausibly write, per technique, gives the same assurance in minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "tests" / "README.md"
START = "<!-- mutations:start (python tests/mutations.py --report) -->"
END = "<!-- mutations:end -->"


@dataclass(frozen=True)
class Mutant:
    """One planted bug."""

    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]
    bug: str


M = Mutant
MUTANTS: list[Mutant] = [
    # ----------------------------------------------------------------- Grad-CAM
    M("grad_cam_no_relu", "helpers/attribution.py",
      "cam = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1)).numpy()",
      "cam = tf.reduce_sum(weights * maps, axis=-1).numpy()",
      ("tests/test_attribution.py",), "heatmap without the final ReLU"),
    M("grad_cam_one_weight", "helpers/attribution.py",
      "weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)",
      "weights = tf.reduce_mean(grads, axis=(1, 2, 3), keepdims=True)",
      ("tests/test_attribution.py",), "gradients averaged over channels too: one weight"),
    M("grad_cam_ignores_class", "helpers/objectives.py",
      "else tf.constant(np.broadcast_to(self.classes, outputs.shape[:1]))",
      "else tf.argmax(outputs, axis=-1)",
      ("tests/test_attribution.py",), "softmax score ignores the requested class"),
    M("grad_cam_sigmoid_class0", "helpers/objectives.py",
      "score = tf.where(cls, p, -p)", "score = p",
      ("tests/test_attribution.py",), "sigmoid class 0 explained as class 1"),
    M("deletion_coldest_regions", "helpers/attribution.py",
      'top = np.argsort(-mean_heat, axis=1, kind="stable")[:, :k]',
      'top = np.argsort(mean_heat, axis=1, kind="stable")[:, :k]',
      ("tests/test_attribution.py",), "deletion test removes the coldest regions, not the hottest"),
    M("deletion_summary_verdict_by_means", "helpers/attribution.py",
      "elif top.median() > rand.median():", "elif True:",
      ("tests/test_attribution.py",), "deletion summary ignores which median is larger"),
    M("macro_f1_all_labels", "helpers/evaluation.py",
      'labels=np.unique(y_true),', "labels=None,",
      ("tests/test_backbones_evaluation.py",), "resample macro F1 scores classes it lacks"),
    M("border_ratio_inverted", "helpers/visualize.py",
      "return float(act[:, ring].mean() / inner) if inner > 0 else float(\"nan\")",
      "return float(inner / act[:, ring].mean()) if inner > 0 else float(\"nan\")",
      ("tests/test_visualize.py",), "border / interior ratio of activation maps inverted"),
    # ------------------------------------------------- gradient, guided, deconvnet
    M("deconvnet_no_rectification", "helpers/attribution.py",
      '    if rule == "deconvnet":\n        return tf.nn.relu(signal)',
      '    if rule == "deconvnet":\n        return signal',
      ("tests/test_deconv.py",), "deconvnet passes negative signals"),
    M("guided_no_forward_mask", "helpers/attribution.py",
      "return tf.nn.relu(signal) * tf.cast(forward_input > 0, signal.dtype)",
      "return tf.nn.relu(signal)",
      ("tests/test_attribution.py",), "guided backprop ignores the forward ReLU pattern"),
    M("relu_cap_ignored", "helpers/attribution.py",
      "on = x if max_value is None else tf.where(x < max_value, x, tf.zeros_like(x))",
      "on = x",
      ("tests/test_attribution.py",), "ReLU6 passes gradient above its cap"),
    M("relu_rule_skips_nested", "helpers/attribution.py",
      "for _, layer in iter_layers(model):", "for layer in model.layers:",
      ("tests/test_attribution.py",), "ReLUs inside a nested backbone keep their gradient"),
    M("saliency_no_abs", "helpers/attribution.py",
      "_normalise(np.abs(signal).max(axis=-1))", "_normalise(signal.max(axis=-1))",
      ("tests/test_attribution.py",), "saliency heatmap drops negative gradients"),
    # ------------------------------------------------- activation maximisation
    M("filter_patterns_filter0", "helpers/objectives.py",
      "index = tf.constant(list(self.filters))", "index = tf.constant([0] * len(self.filters))",
      ("tests/test_visualize.py",), "filter 0 optimised for every requested filter"),
    M("maximize_descent", "helpers/maximize.py",
      "loss = tf.reduce_sum(cost - value(seen))", "loss = tf.reduce_sum(cost + value(seen))",
      ("tests/test_visualize.py", "tests/test_maximize.py"), "gradient descent instead of ascent"),
    M("maximize_no_penalties", "helpers/maximize.py",
      "cost = sum((p(x / 255.0) for p in penalties), tf.zeros([n]))", "cost = tf.zeros([n])",
      ("tests/test_maximize.py",), "penalties left out of the loss"),
    M("class_images_no_decorrelation", "helpers/maximize.py",
      'x = tf.einsum("nhwc,dc->nhwd", x, self._colour)', "x = x",
      ("tests/test_maximize.py",), "colour decorrelation removed"),
    M("class_images_transposed_colour", "helpers/maximize.py",
      '"nhwc,dc->nhwd"', '"nhwc,cd->nhwd"',
      ("tests/test_maximize.py",), "colour matrix applied transposed"),
    M("class_images_no_spectrum_scale", "helpers/maximize.py",
      "spec = tf.complex(var[..., 0], var[..., 1]) * tf.cast(",
      "spec = tf.complex(var[..., 0], var[..., 1]) + 0 * tf.cast(",
      ("tests/test_maximize.py",), "1/f spectrum scaling removed"),
    M("class_images_no_transform", "helpers/maximize.py",
      "                    seen = transform(seen, rng)\n", "                    pass\n",
      ("tests/test_maximize.py",), "random transformations not applied"),
    M("class_images_no_jitter", "helpers/class_images.py",
      "(self.jitter, Jitter), ", "",
      ("tests/test_class_images.py",), "jitter switched off"),
    M("class_images_no_warp", "helpers/maximize.py",
      "return _warp(x, angle, tf.ones_like(angle))", "return x",
      ("tests/test_maximize.py",), "random rotation switched off"),
    M("jitter_fixed_offset", "helpers/maximize.py",
      "offset = rng.uniform(tf.stack([tf.shape(x)[0], 2]), 0, 2 * pad + 1, dtype=tf.int32)",
      "offset = tf.zeros(tf.stack([tf.shape(x)[0], 2]), tf.int32)",
      ("tests/test_maximize.py",), "jitter always shifts by the same amount"),
    # ------------------------------------------------------ activations, overlay
    M("sparsity_negative_only", "helpers/visualize.py",
      "np.all(act.reshape(-1, act.shape[-1]) <= 0, axis=0)",
      "np.all(act.reshape(-1, act.shape[-1]) < 0, axis=0)",
      ("tests/test_visualize.py",), "all-zero channels not counted as dead"),
    M("sparsity_any_position", "helpers/visualize.py",
      "np.all(act.reshape(-1, act.shape[-1]) <= 0, axis=0)",
      "np.any(act.reshape(-1, act.shape[-1]) <= 0, axis=0)",
      ("tests/test_visualize.py",), "a channel dead if zero anywhere"),
    M("overlay_ignores_heatmap", "helpers/plots.py",
      "np.clip(heat, 0, 1)", "np.clip(heat * 0, 0, 1)",
      ("tests/test_visualize.py",), "overlay draws a blank heatmap"),
    M("overlay_no_rescale", "helpers/plots.py",
      "    if img.max() <= 1.5:\n        img = img * 255\n", "",
      ("tests/test_visualize.py",), "images in 0..1 not scaled to 0..255"),
    # ------------------------------------------------------------ early stopping
    M("fit_no_early_stopping", "helpers/training.py",
      "if patience is not None and validation is not None:", "if False:",
      ("tests/test_blocks_training.py",), "early stopping removed"),
    M("fit_no_restore", "helpers/training.py",
      "restore_best_weights=True", "restore_best_weights=False",
      ("tests/test_blocks_training.py",), "best weights not restored"),
    M("fit_mode_always_max", "helpers/training.py",
      'mode="max" if "acc" in monitor else "min",', 'mode="max",',
      ("tests/test_blocks_training.py",), "a loss monitored as if higher were better"),
    # ------------------------------------------------------------- FLOP counting
    M("flops_no_nesting", "helpers/training.py",
      "total += count_flops(layer)", "pass",
      ("tests/test_blocks_training.py",), "nested models not descended into"),
    M("flops_no_pointwise", "helpers/training.py",
      "return dw + 2 * spatial * cin * layer.depth_multiplier * layer.filters", "return dw",
      ("tests/test_blocks_training.py",), "separable convolution's pointwise term dropped"),
    M("flops_no_groups", "helpers/training.py",
      "* layer.filters / layer.groups", "* layer.filters",
      ("tests/test_blocks_training.py",), "grouped convolutions counted as dense"),
    M("flops_dense_2d_only", "helpers/training.py",
      "float(np.prod(layer.input.shape[1:-1])) if len(layer.input.shape) > 2 else 1.0", "1.0",
      ("tests/test_blocks_training.py",), "dense layers on 4-D inputs counted once"),
    M("flops_depthwise_multiplier", "helpers/training.py",
      "return 2 * spatial * k * cin * layer.depth_multiplier\n", "return 2 * spatial * k * cin\n",
      ("tests/test_blocks_training.py",), "depth multiplier ignored"),
    # ----------------------------------------------------------------- pipelines
    M("pipeline_no_shuffle", "helpers/pipeline.py",
      "    if shuffle:\n", "    if False:\n",
      ("tests/test_pipeline.py",), "shuffling turned off"),
    M("pipeline_no_reshuffle", "helpers/pipeline.py",
      "reshuffle_each_iteration=True", "reshuffle_each_iteration=False",
      ("tests/test_pipeline.py",), "the same order every epoch"),
    M("pipeline_unseeded", "helpers/pipeline.py",
      "ds = ds.shuffle(min(len(split), SHUFFLE_BUFFER), seed=seed,",
      "ds = ds.shuffle(min(len(split), SHUFFLE_BUFFER), seed=None,",
      ("tests/test_pipeline.py",), "shuffle ignores the seed"),
    M("pipeline_no_premix", "helpers/pipeline.py",
      "if shuffle and len(split) > SHUFFLE_BUFFER:", "if False:",
      ("tests/test_pipeline.py",), "a split larger than the shuffle buffer not permuted first"),
    M("pipeline_no_augment", "helpers/pipeline.py",
      "(augment(x, training=True), y)", "(x, y)",
      ("tests/test_pipeline.py",), "augmentation never applied"),
    M("pipeline_map_fn_skipped", "helpers/pipeline.py",
      "ds = ds.map(lambda x, y: (map_fn(x), y), num_parallel_calls=AUTOTUNE)", "pass",
      ("tests/test_pipeline.py",), "per-image map_fn (grayscale, CLAHE) skipped"),
    M("pipeline_one_hot_shifted", "helpers/pipeline.py",
      "tf.one_hot(y, one_hot)", "tf.one_hot((y + 1) % one_hot, one_hot)",
      ("tests/test_pipeline.py",), "one-hot labels off by one class"),
    # ------------------------------------------------------------------- deconv
    M("strongest_returns_weakest", "helpers/deconv.py",
      "order = np.argsort(-peak)[:k]", "order = np.argsort(peak)[:k]",
      ("tests/test_deconv.py",), "the k weakest images"),
    M("strongest_mean_not_max", "helpers/deconv.py",
      "peak = tf.reduce_max(out[..., channel], axis=(1, 2)).numpy()",
      "peak = tf.reduce_mean(out[..., channel], axis=(1, 2)).numpy()",
      ("tests/test_deconv.py",), "ranked by mean, not peak activation"),
    # -------------------------------------------------------------- TimeBudget
    M("budget_no_lookahead", "helpers/training.py",
      "if now + max(recent) > self.deadline:", "if now > self.deadline:",
      ("tests/test_bench.py::test_time_budget_schedule_and_stop_epoch_by_a_fake_clock",
       "tests/test_bench.py::test_time_budget_looks_ahead_by_the_slowest_recent_epoch"),
      "no look-ahead: stops only after passing the deadline"),
    M("budget_last_epoch_only", "helpers/training.py",
      "recent = self.epoch_seconds[1:][-3:] or self.epoch_seconds",
      "recent = self.epoch_seconds[-1:]",
      ("tests/test_bench.py::test_time_budget_looks_ahead_by_the_slowest_recent_epoch",),
      "look-ahead by the last epoch instead of the slowest recent one"),
    M("budget_cosine_from_start", "helpers/training.py",
      "progress = min(1.0, max(0.0, (now - self._warm_end) / span))",
      "progress = min(1.0, max(0.0, (now - self._start) / span))",
      ("tests/test_bench.py::test_time_budget_schedule_and_stop_epoch_by_a_fake_clock",),
      "cosine measured from the start, not the end of warm-up"),
    M("budget_no_warmup", "helpers/training.py",
      "return self.peak_lr * min(1.0, (self._step_in_epoch + 1) / self._steps)",
      "return float(self.peak_lr)",
      ("tests/test_bench.py::test_time_budget_schedule_and_stop_epoch_by_a_fake_clock",),
      "no warm-up in the first epoch"),
    M("budget_ignores_safety", "helpers/training.py",
      "return self._start + self.budget_s * self.safety", "return self._start + self.budget_s",
      ("tests/test_bench.py::test_time_budget_looks_ahead_by_the_slowest_recent_epoch",),
      "safety margin ignored"),
    M("budget_epochs_by_clock", "helpers/training.py",
      "if self.epochs is not None and self._steps:", "if False:",
      ("tests/test_bench.py::test_time_budget_by_epochs_schedules_by_steps_whatever_the_clock",),
      "fixed epochs still annealed by the clock"),
    M("budget_epochs_no_stop", "helpers/training.py",
      "if self.epochs is not None and epoch + 1 >= self.epochs:",
      "if self.epochs is not None and epoch + 1 >= 10 * self.epochs:",
      ("tests/test_bench.py::test_time_budget_by_epochs_schedules_by_steps_whatever_the_clock",),
      "fixed epochs do not stop training"),
    # ------------------------------------------------------------ memory probe
    M("probe_extra_zero", "helpers/memory_probe.py",
      '"step_extra_mib": round(_peak_rss_mib() - before, 1),', '"step_extra_mib": 0.0,',
      ("tests/test_memory_probe.py",), "memory hard-coded to 0"),
    M("probe_ignores_recompute", "helpers/memory_probe.py",
      "x = tf.recompute_grad(block)(x) if cfg.recompute else block(x)", "x = block(x)",
      ("tests/test_memory_probe.py",), "recompute option ignored"),
    # ------------------------------------------------ image processing, matching
    M("pyramid_no_blur", "helpers/matching.py",
      "kernel = tf.constant(gaussian_kernel(sigma), tf.float32)[:, :, None, None]",
      "kernel = tf.constant(np.pad([[1.0]], 2), tf.float32)[:, :, None, None]",
      ("tests/test_matching.py",), "Gaussian pyramid subsamples without blurring"),
    M("grayscale_green_blue_swapped", "helpers/imageproc.py",
      "return tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))",
      "return tf.image.rgb_to_grayscale(tf.gather(tf.cast(image, tf.float32), [0, 2, 1], axis=-1))",
      ("tests/test_imageproc.py",), "green and blue luma weights swapped"),
    M("equalize_every_channel", "helpers/imageproc.py",
      "return _on_luma(image, cv2.equalizeHist)",
      "return np.stack([cv2.equalizeHist(np.ascontiguousarray(np.clip(np.rint(image[..., c]), 0, "
      "255).astype(np.uint8))) for c in range(image.shape[-1])], -1).astype(np.float32)",
      ("tests/test_imageproc.py",), "equalisation of each RGB channel, not the luma"),
    M("oversample_drops_originals", "helpers/datasets/balance.py",
      "out.append(np.concatenate([idx, extra]))",
      "out.append(rng.choice(idx, size=target, replace=True))",
      ("tests/test_balance.py",), "oversampling may drop original images"),
    # ------------------------------------------------------------ NumPy backprop
    M("conv_backward_unrotated", "helpers/conv_numpy.py",
      "w_rot = w[::-1, ::-1].transpose(0, 1, 3, 2)", "w_rot = w.transpose(0, 1, 3, 2)",
      ("tests/test_conv_numpy.py",), "input gradient with the kernel not rotated"),
    # ------------------------------------------------------------------ recipes
    M("roi_box_ignores_scale", "helpers/recipes/gtsrb.py",
      "sx, sy = shape_hw[1] / w0, shape_hw[0] / h0",
      "sx, sy = 1.0, 1.0",
      ("tests/test_recipes.py",), "ROI box not scaled from the photo's pixels to the stored image"),
    M("roi_box_no_margin", "helpers/recipes/gtsrb.py",
      "bw, bh = (x2 - x1 + 1) * margin, (y2 - y1 + 1) * margin",
      "bw, bh = 0.0, 0.0",
      ("tests/test_recipes.py",), "ROI margin ignored"),
    M("smoothing_ignored", "helpers/recipes/base.py",
      "return keras.losses.categorical_crossentropy(y, y_pred, label_smoothing=self.smoothing)",
      "return keras.losses.categorical_crossentropy(y, y_pred)",
      ("tests/test_recipes.py",), "label smoothing not applied"),
    M("tta_mirror_ignored", "helpers/recipes/base.py",
      "p = 0.5 * (p + model(tf.reverse(x, axis=[2]), training=False))",
      "p = 0.5 * (p + model(x, training=False))",
      ("tests/test_recipes.py",), "flip TTA averages the image with itself"),
    M("ablation_keeps_ingredient", "helpers/recipes/base.py",
      "ingredients={}, **changes,",
      "ingredients={},",
      ("tests/test_recipes.py",), "without() renames the recipe but keeps the ingredient"),
    M("probe_ignores_mirror", "helpers/recipes/probe.py",
      "f = 0.5 * (plain + mirrored) if recipe.mirror else plain",
      "f = plain",
      ("tests/test_recipes.py",), "probe features never averaged with the mirror image's"),
]


def run_mutant(m: Mutant, timeout: int = 900) -> tuple[str, float, str]:
    """Apply ``m`` to a copy of the code, run its tests; returns (outcome, seconds, tail)."""
    with tempfile.TemporaryDirectory(prefix=f"mutant-{m.name}-") as tmp:
        work = Path(tmp)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for d in ("helpers", "tests", "benchmarks"):
            shutil.copytree(ROOT / d, work / d, ignore=ignore)
        shutil.copy(ROOT / "pyproject.toml", work / "pyproject.toml")
        target = work / m.file
        text = target.read_text()
        if text.count(m.old) != 1:
            return "stale", 0.0, f"{m.file}: the text to mutate occurs {text.count(m.old)} times"
        target.write_text(text.replace(m.old, m.new))
        env = {**os.environ, "PYTHONPATH": str(work), "CNN_SUITE_QUICK": "1",
               "CNN_SUITE_CACHE_DIR": str(work / "cache")}
        cmd = [sys.executable, "-m", "pytest", *m.tests, "-x", "-q", "-p", "no:cacheprovider"]
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True,
                              timeout=timeout)
        seconds = time.perf_counter() - start
        tail = (done.stdout + done.stderr).strip().splitlines()
        outcome = {0: "survived", 1: "killed"}.get(done.returncode, "error")
        return outcome, seconds, "\n".join(tail[-15:])


def report(rows: list[tuple[Mutant, str, float]]) -> str:
    """The markdown block for ``tests/README.md``."""
    killed = sum(outcome == "killed" for _, outcome, _ in rows)
    lines = [
        f"Score: **{killed} of {len(rows)} mutants killed** "
        f"({time.strftime('%Y-%m-%d')}, {sum(s for *_, s in rows) / 60:.1f} min).",
        "",
        "| mutant | module | planted bug | outcome | caught by |",
        "|---|---|---|---|---|",
    ]
    for m, outcome, _ in rows:
        tests = ", ".join(f"`{t.removeprefix('tests/')}`" for t in m.tests)
        lines.append(f"| `{m.name}` | `{m.file}` | {m.bug} | {outcome} | {tests} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="mutant names (default: all)")
    parser.add_argument("--report", action="store_true", help="rewrite tests/README.md block")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    names = {m.name for m in MUTANTS}
    if len(names) != len(MUTANTS):
        raise SystemExit("duplicate mutant names")
    if args.list:
        for m in MUTANTS:
            print(f"{m.name:32} {m.file:26} {m.bug}")
        return 0
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only]
    unknown = set(args.only or []) - names
    if unknown:
        raise SystemExit(f"unknown mutants: {sorted(unknown)}")
    rows = []
    for m in chosen:
        outcome, seconds, tail = run_mutant(m)
        rows.append((m, outcome, seconds))
        print(f"{outcome:9} {seconds:6.1f}s  {m.name}: {m.bug}", flush=True)
        if outcome != "killed":
            print("    " + tail.replace("\n", "\n    "), flush=True)
    text = report(rows)
    print("\n" + text)
    if args.report:
        readme = README.read_text()
        head, rest = readme.split(START, 1)
        README.write_text(head + START + "\n" + text + "\n" + END + rest.split(END, 1)[1])
    return 0 if all(outcome == "killed" for _, outcome, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
