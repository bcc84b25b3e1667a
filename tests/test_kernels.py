"""The kernel pins: same digits under another instruction set, same conclusions unpinned."""

import json
import os
import subprocess
import sys

import pytest

from mnist_assignment import kernels

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

RUN = """
import json, sys
import mnist_assignment
from dataclasses import replace
from mnist_assignment import data, experiments, training, kernels
from mnist_assignment.config import BASELINE
images, labels = data.load_digits(data.SAMPLE_DIR / "train.csv.gz")
images, labels = images[:1500], labels[:1500]
split = data.prepare(images, labels)
history = training.fit(replace(BASELINE, hidden=(32, 16), epochs=2, batch_size=32), split, verbose=False)
runs = experiments.run_study("lr", images, labels, "tiny", seeds=3, base=replace(BASELINE, hidden=(32, 16), epochs=2),
                             workers=1, log=lambda m: None)
table = experiments.summarise(runs)
best, ties, beaten = experiments.ranking(table)
import torch
print(json.dumps({"losses": [e["val_loss"] for e in history.epochs], "status": kernels.status(),
                  "capability": torch.backends.cpu.get_cpu_capability(),
                  "ranking": [best, sorted(ties), sorted(beaten)]}))
"""


def run(extra_env: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in kernels.PINS and k != kernels.OPT_OUT}
    env.update(extra_env, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, text=True, check=True,
                         timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


x86_avx2 = pytest.mark.skipif(not kernels.is_x86() or "avx2" not in open("/proc/cpuinfo").read()
                              if os.path.exists("/proc/cpuinfo") else True, reason="needs an x86-64 CPU with AVX2")


@pytest.fixture(scope="module")
def pinned():
    return run({})


@x86_avx2
def test_importing_the_package_pins_the_kernels_before_torch_loads(pinned):
    assert pinned["capability"] == "AVX2"
    assert "pinned to AVX2" in pinned["status"]


@x86_avx2
def test_pinned_digits_hold_on_a_cpu_restricted_to_avx2(pinned):
    # what an AVX2-only CPU offers MKL; on an AVX-512 machine this changes the unpinned digits
    restricted = run({"MKL_ENABLE_INSTRUCTIONS": "AVX2"})
    assert restricted["losses"] == pinned["losses"]


@x86_avx2
def test_conclusions_do_not_depend_on_the_kernel_path(pinned):
    other = run({kernels.OPT_OUT: "1", "ATEN_CPU_CAPABILITY": "default"})
    assert "native" in other["status"] and other["capability"] == "DEFAULT"
    assert other["ranking"] == pinned["ranking"]


def test_importing_torch_first_is_reported():
    code = "import torch, mnist_assignment; from mnist_assignment import kernels; print(kernels.status())"
    env = {k: v for k, v in os.environ.items() if k not in kernels.PINS and k != kernels.OPT_OUT}
    out = subprocess.run([sys.executable, "-c", code], env=dict(env, PYTHONPATH=ROOT), capture_output=True,
                         text=True, check=True, timeout=120).stdout
    assert ("NOT pinned" in out) if kernels.is_x86() else ("native" in out)
