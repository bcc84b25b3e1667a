"""Pin the CPU kernels' instruction set, so a run's digits do not depend on the CPU it ran on.

PyTorch, MKL and oneDNN each pick the widest instructions the CPU has (AVX-512 on one machine,
AVX2 on another), and the wider kernels add floats in a different order: the last bits differ,
and over thousands of SGD steps so do the reported digits. Setting these variables before torch
loads makes every x86-64 CPU with AVX2 (any from the last decade) take the same AVX2 paths.
They are read once, when torch (and MKL inside it) loads: setting them later changes nothing.
ARM CPUs (Apple silicon), CUDA and MPS have kernels of their own: there
the digits may differ, the conclusions should not.
"""

from __future__ import annotations

import os
import platform

PINS = {
    "ATEN_CPU_CAPABILITY": "avx2",  # PyTorch's own vectorised kernels
    "MKL_CBWR": "AVX2,STRICT",  # MKL's conditional numerical reproducibility (matmuls)
    "DNNL_MAX_CPU_ISA": "AVX2",  # oneDNN (convolutions)
}
OPT_OUT = "MNIST_UNPINNED"  # =1 keeps the CPU's native kernels (faster on some CPUs, digits may move)


def is_x86() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64", "x64")


def pin() -> None:
    """Set the pins unless the user set them (or opted out)."""
    if not is_x86() or os.environ.get(OPT_OUT) == "1":
        return
    for name, value in PINS.items():
        # also when torch is loaded already: the processes this one starts (the study workers) read them
        os.environ.setdefault(name, value)
