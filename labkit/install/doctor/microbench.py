"""``main.py --bench``: matmul and conv2d throughput on every device, in about a second each."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def rate(tf: Any, fn: Callable[[], Any], flops: float, seconds: float) -> float:
    """GFLOP/s of ``fn`` over about ``seconds``, after one warm-up call."""

    def sync(x: Any) -> None:
        tf.reshape(x, [-1])[:1].numpy()  # forces the (possibly asynchronous) op to finish

    sync(fn())
    count, start = 0, time.perf_counter()
    while True:
        sync(fn())
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return round(flops * count / elapsed / 1e9, 1)


def bench_device(tf: Any, device: str, gpu: bool, seconds: float = 0.4) -> dict[str, Any]:
    """matmul and conv2d throughput on one device (bigger problems on a GPU)."""
    n, batch = (4096, 64) if gpu else (1024, 8)
    with tf.device(device):
        a = tf.random.uniform((n, n))
        b = tf.random.uniform((n, n))
        x = tf.random.uniform((batch, 64, 64, 32))
        k = tf.random.uniform((3, 3, 32, 64))
        matmul = rate(tf, lambda: tf.matmul(a, b), 2 * n**3, seconds)
        conv_flops = 2 * batch * 64 * 64 * 3 * 3 * 32 * 64
        conv = rate(tf, lambda: tf.nn.conv2d(x, k, 1, "SAME"), conv_flops, seconds)
    return {
        "device": device.replace("/device:", ""),
        "matmul_gflops": matmul,
        "matmul_shape": f"{n}x{n}",
        "conv2d_gflops": conv,
        "conv2d_shape": f"{batch}x64x64x32 * 3x3x32x64",
    }


def run_bench(tf: Any) -> dict[str, Any]:
    """Micro-benchmark every device; the GPU/CPU speed-up when there is a GPU."""
    devices = [
        bench_device(tf, dev.name, dev.device_type == "GPU")
        for dev in tf.config.list_logical_devices()
        if dev.device_type in ("CPU", "GPU")
    ]
    cpu = next((d for d in devices if d["device"].startswith("CPU")), None)
    gpu = next((d for d in devices if d["device"].startswith("GPU")), None)
    speedup = None
    if cpu and gpu:
        speedup = {
            op: round(gpu[f"{op}_gflops"] / cpu[f"{op}_gflops"], 1) for op in ("matmul", "conv2d")
        }
    return {"devices": devices, "speedup": speedup}
