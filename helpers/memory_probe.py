"""Measure the peak memory of CNN training steps, each configuration in a fresh process.

Out-of-memory remedies (smaller batches, gradient accumulation, recomputing
activations, smaller inputs) are easiest to believe when measured. A process's peak
resident memory only ever grows, so every configuration runs in its own Python
process: ``python -m helpers.memory_probe '<json config>'`` builds a plain
convolutional network, runs a few training steps with a ``GradientTape`` loop and
prints one JSON line with the extra memory the steps needed (process memory on the
CPU; on a GPU, TensorFlow's own peak counter for the device as well).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ProbeConfig:
    """One training-step configuration.

    Attributes:
        batch: images per optimiser update.
        size: input height and width.
        accumulation: micro-batches the batch is split into (gradients summed, one update).
        recompute: wrap each block in ``tf.recompute_grad`` (gradient checkpointing).
        filters, blocks: width and depth of the network (two 3x3 convolutions per block,
            full resolution throughout, so activations dominate memory).
        steps: optimiser updates measured.
    """

    batch: int = 32
    size: int = 96
    accumulation: int = 1
    recompute: bool = False
    filters: int = 16
    blocks: int = 3
    steps: int = 2

    @property
    def label(self) -> str:
        parts = [f"batch {self.batch}", f"{self.size}px"]
        if self.blocks != 3:
            parts.append(f"{2 * self.blocks} conv layers")
        if self.accumulation > 1:
            parts.append(f"{self.accumulation}x{self.batch // self.accumulation} accumulated")
        if self.recompute:
            parts.append("recompute")
        return ", ".join(parts)


def _rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _peak_rss_mib() -> float:
    from .reporting import peak_memory_bytes

    return peak_memory_bytes() / 2**20


def run_probe(cfg: ProbeConfig) -> dict:
    """Run the configuration in this process and return its measurements."""
    import time

    import keras
    import tensorflow as tf

    if cfg.batch % cfg.accumulation:
        raise ValueError("batch must be divisible by accumulation")
    keras.utils.set_random_seed(0)
    blocks = [
        keras.Sequential(
            [
                keras.layers.Conv2D(cfg.filters, 3, padding="same", activation="relu"),
                keras.layers.Conv2D(cfg.filters, 3, padding="same", activation="relu"),
            ]
        )
        for _ in range(cfg.blocks)
    ]
    head = keras.Sequential([keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)])
    x0 = tf.zeros((1, cfg.size, cfg.size, 3))
    h = x0
    for block in blocks:
        h = block(h)
    head(h)
    variables = [v for m in [*blocks, head] for v in m.trainable_variables]
    optimizer = keras.optimizers.SGD(0.01)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def forward(x):
        for block in blocks:
            x = tf.recompute_grad(block)(x) if cfg.recompute else block(x)
        return head(x)

    micro = cfg.batch // cfg.accumulation

    @tf.function
    def micro_grads(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, forward(x)) / cfg.accumulation
        return tape.gradient(loss, variables)

    rng = tf.random.Generator.from_seed(0)
    gpu = bool(tf.config.list_physical_devices("GPU"))
    if gpu:
        tf.config.experimental.reset_memory_stats("GPU:0")

    def update():
        total = [tf.zeros_like(v) for v in variables]
        for _ in range(cfg.accumulation):
            x = rng.uniform((micro, cfg.size, cfg.size, 3))
            y = rng.uniform((micro,), maxval=10, dtype=tf.int32)
            total = [t + g for t, g in zip(total, micro_grads(x, y), strict=True)]
        optimizer.apply(total, variables)

    before = _rss_mib()
    update()  # the first update also traces the step function; it counts for memory, not time
    start = time.perf_counter()
    for _ in range(cfg.steps):
        update()
    seconds = (time.perf_counter() - start) / cfg.steps
    result = {
        **asdict(cfg),
        "label": cfg.label,
        "step_extra_mib": round(_peak_rss_mib() - before, 1),
        "seconds_per_step": round(seconds, 3),
    }
    if gpu:
        peak = tf.config.experimental.get_memory_info("GPU:0")["peak"]
        result["gpu_peak_mib"] = round(peak / 2**20, 1)
    return result


def measure(cfg: ProbeConfig, timeout: float = 600) -> dict:
    """Run :func:`run_probe` in a fresh Python process and return its result."""
    out = subprocess.run(
        [sys.executable, "-m", "helpers.memory_probe", json.dumps(asdict(cfg))],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"memory probe {cfg.label} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(run_probe(ProbeConfig(**json.loads(sys.argv[1])))))
