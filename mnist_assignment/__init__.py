"""Handwritten-digit recognition on Kaggle's MNIST (digit-recognizer) with PyTorch.

Importing the package pins the CPU kernel paths (see kernels.py) before anything imports torch,
so the same data, config and seed give the same history on any x86-64 CPU.
"""

from . import kernels

kernels.pin()
