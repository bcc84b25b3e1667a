"""Pin the CPU kernels' instruction set, so a run's digits do not depend on the CPU it ran on.

PyTorch, MKL and oneDNN each pick the widest instructions the CPU has (AVX-512 on one machine,
AVX2 on another), and the wider kernels add floats in a different order: the last bits differ,
and over thousands of SGD steps so do the reported digits. Setting these variables before torch
loads makes every x86-64 CPU with AVX2 (any from the last decade) take the same AVX2 paths.
They are read once, when torch (and MKL inside it) loads: setting them later changes nothing,
which `status()` reports. ARM CPUs (Apple silicon), CUDA and MPS have kernels of their own: there
the digits may differ, the conclusions should not.
"""

from __future__ import annotations

import os
import platform
import sys

PINS = {
    "ATEN_CPU_CAPABILITY": "avx2",  # PyTorch's own vectorised kernels
    "MKL_CBWR": "AVX2,STRICT",  # MKL's conditional numerical reproducibility (matmuls)
    "DNNL_MAX_CPU_ISA": "AVX2",  # oneDNN (convolutions)
}
OPT_OUT = "MNIST_UNPINNED"  # =1 keeps the CPU's native kernels (faster on some CPUs, digits may move)
_late = False  # torch was already loaded when pin() ran: the variables came too late


def is_x86() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64", "x64")


def pin() -> bool:
    """Set the pins unless the user set them (or opted out); True when torch will see them."""
    if not is_x86() or os.environ.get(OPT_OUT) == "1":
        return False
    global _late
    for name, value in PINS.items():
        os.environ.setdefault(name, value)
    _late = "torch" in sys.modules
    return not _late


def status() -> str:
    """One line for a report: the kernel path torch is really using, and the thread count."""
    import torch

    pinned = all(os.environ.get(k) == v for k, v in PINS.items())
    capability = torch.backends.cpu.get_cpu_capability()
    if pinned and is_x86() and capability == "AVX2" and not _late:
        mode = "pinned to AVX2 for identical digits on x86-64"
    elif pinned and is_x86() and capability == "AVX2":
        # PyTorch's own kernels follow the variable (read at their first use), but MKL may have read its
        # own before: matmuls may still take the CPU's widest path
        mode = "partly pinned: torch was imported before mnist_assignment"
    elif pinned and is_x86():
        mode = "NOT pinned: torch was imported and used before mnist_assignment"
    else:
        mode = "native (not pinned)"
    return (f"CPU kernels: {capability}, {mode}; "
            f"{torch.get_num_threads()} threads in this process")
