"""Several logical devices on one CPU, so that ``tf.distribute`` has several replicas on a laptop.

TensorFlow sets up its devices once per process, the first time it runs an operation, and they
cannot change afterwards. ``split_cpu`` must therefore run before any TensorFlow operation:
importing TensorFlow and ``labkit.start_lab()`` run none, so the first cell after the setup cell
is early enough. The logical devices share the same cores and the same thread pools: they give
a strategy several replicas to work with, not more computing power.
"""

from __future__ import annotations

from labkit.errors import LabkitError


class DevicesAlreadyStarted(LabkitError):
    """TensorFlow set up its devices before the CPU could be split."""


def split_cpu(count: int) -> list[str]:
    """Split the CPU into ``count`` logical devices; returns their names ("/device:CPU:0", ...).

    Running it again with the same count does nothing. Raises DevicesAlreadyStarted, which
    says to restart the kernel, when TensorFlow has already set up a different number of them.
    """
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"split_cpu needs a whole number of devices, at least 1, not {count!r}")
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError:  # the devices are set up already: fine if there are `count` of them
        pass
    names = [device.name for device in tf.config.list_logical_devices("CPU")]
    if len(names) != count:
        raise DevicesAlreadyStarted(
            f"TensorFlow has already set up {len(names)} CPU device(s) in this process, so the "
            f"CPU cannot be split into {count} any more: something ran TensorFlow before this "
            "cell. Restart the kernel (Kernel > Restart Kernel) and run the notebook from the "
            "top, without running other cells first."
        )
    return names
