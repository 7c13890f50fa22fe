"""Choosing a ``tf.distribute`` strategy: several GPUs → ``MirroredStrategy``, else the default.

Build and compile models inside ``strategy.scope()``; :func:`helpers.training.fit` then
trains them on every replica. Batches are split across replicas, so keep the global batch
size and the learning rate as on one device.
"""

from __future__ import annotations

import tensorflow as tf


def pick_strategy(devices: list[str] | None = None) -> tf.distribute.Strategy:
    """``MirroredStrategy`` over ``devices`` or over all GPUs when more than one is visible;
    otherwise TensorFlow's default (single-device) strategy."""
    if devices is not None:
        return tf.distribute.MirroredStrategy(devices)
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    return tf.distribute.get_strategy()


def split_cpu(n: int = 2) -> list[str]:
    """Split the CPU into ``n`` logical devices (must run before TensorFlow uses the CPU).

    Used to exercise multi-device code paths on machines without several GPUs.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
    )
    return [d.name for d in tf.config.list_logical_devices("CPU")]
