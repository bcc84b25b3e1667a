"""The kernel pins: same digits under another instruction set, same conclusions unpinned."""

import json
import os
import subprocess
import sys

import pytest
import test_golden

from mnist_assignment import kernels, notebook_code

ROOT = str(notebook_code.ROOT)

# argv: "torch-first", "torch-used-first" or "package-first", then any of: "child" (the kernels of a process
# it starts, as a study worker), "fit", "study", "golden" (what to train); each process costs a torch import,
# so only what a test asserts is asked for
RUN = """
import json, os, subprocess, sys
if sys.argv[1] in ("torch-first", "torch-used-first"):
    import torch
if sys.argv[1] == "torch-used-first":
    torch.backends.cpu.get_cpu_capability()  # its kernel choice is made at the first use
import mnist_assignment
import torch
from dataclasses import replace
from mnist_assignment import kernels, notebook_code
out = {"env": {k: os.environ.get(k) for k in kernels.PINS}, "capability": torch.backends.cpu.get_cpu_capability()}
if "child" in sys.argv[2:]:
    CHILD = "import json, os, torch; print(json.dumps(torch.backends.cpu.get_cpu_capability()))"
    child = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
    out["child_capability"] = json.loads(child.stdout)
if not {"fit", "study", "golden"} & set(sys.argv[2:]):
    print(json.dumps(out))
    sys.exit()
from mnist_assignment import data, notebook_code, stats
torch.set_num_threads(1)  # as the notebook trains
images, labels = data.load_digits(data.SAMPLE_DIR / "train.csv.gz")
graded = notebook_code.load()
train_set, val_set, _ = graded.split_data(images[:1500], labels[:1500])
val_loader = graded.make_loader(val_set, 1000)
base = graded.Config(hidden=(32, 16), epochs=2)
if "fit" in sys.argv[2:]:
    _, history = graded.train(replace(base, batch_size=32), train_set, val_loader)
    out["losses"] = [e["val_loss"] for e in history]
if "study" in sys.argv[2:]:  # the notebook's learning-rate study on seeds 0-2, judged by the paired rule
    acc = {lr: {seed: graded.train(replace(base, lr=lr, seed=seed), train_set, val_loader)[1][-1]["val_acc"]
                for seed in range(3)} for lr in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)}
    best = max(acc, key=lambda lr: sum(acc[lr].values()))
    beaten = sorted(lr for lr in acc if lr != best and stats.paired(acc[best], acc[lr]).low > 0)
    out["ranking"] = [best, beaten]
if "golden" in sys.argv[2:]:  # tests/test_golden.py's baseline run
    sys.path.insert(0, os.path.join(os.environ["PYTHONPATH"], "tests"))
    import test_golden
    out["golden"] = test_golden.histories(graded, configs={"baseline": test_golden.CONFIGS["baseline"]})
print(json.dumps(out))
"""


def run(extra_env: dict, *work: str, first: str = "package-first") -> dict:
    env = {k: v for k, v in os.environ.items() if k not in kernels.PINS and k != kernels.OPT_OUT}
    env.update(extra_env, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", RUN, first, *work], env=env, capture_output=True, text=True,
                         check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cpu_flags() -> set:
    if not os.path.exists("/proc/cpuinfo"):
        return set()
    with open("/proc/cpuinfo") as f:
        return {flag for line in f if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


FLAGS = cpu_flags()
x86_avx2 = pytest.mark.skipif(not kernels.is_x86() or "avx2" not in FLAGS, reason="needs an x86-64 CPU with AVX2")
NATIVE = "AVX512" if "avx512f" in FLAGS else "AVX2"  # what torch picks unpinned on this CPU
UNPINNED = {k: None for k in kernels.PINS}


@pytest.fixture(scope="module")
def pinned():
    return run({}, "fit", "study")


@x86_avx2
def test_importing_the_package_pins_the_kernels_before_torch_loads(pinned):
    # the pins are in the environment, so they also reach every process started from here (the study
    # workers import torch before anything else: the next test's child shows that they take them), and torch
    # took them
    assert pinned["env"] == kernels.PINS
    assert pinned["capability"] == "AVX2"
    # the control: opted out, nothing is set, and torch takes the CPU's widest kernels
    native = run({kernels.OPT_OUT: "1"})  # nothing in the environment: its children take their own too
    assert native["env"] == UNPINNED and native["capability"] == NATIVE


@x86_avx2
def test_importing_torch_first_still_pins_torch_and_the_processes_it_starts():
    late = run({}, "child", first="torch-first")
    # torch's own kernels still follow the variable, read at their first use; MKL may not have
    assert late["capability"] == "AVX2"
    # the variables are set all the same, so the processes it starts (the study workers) are pinned
    assert late["env"] == kernels.PINS and late["child_capability"] == "AVX2"
    used = run({}, first="torch-used-first")  # the variables are set all the same, for its children
    assert used["capability"] == NATIVE and used["env"] == kernels.PINS


@x86_avx2
def test_pinned_digits_hold_on_a_cpu_restricted_to_avx2(pinned):
    # what an AVX2-only CPU offers MKL; on an AVX-512 machine this changes the unpinned digits
    restricted = run({"MKL_ENABLE_INSTRUCTIONS": "AVX2"}, "fit")
    assert restricted["losses"] == pinned["losses"]


@pytest.fixture(scope="module")
def other_path():
    """PyTorch's non-vectorised kernels: another instruction path, as another CPU may take."""
    return run({kernels.OPT_OUT: "1", "ATEN_CPU_CAPABILITY": "default"}, "study", "golden")


@x86_avx2
def test_conclusions_do_not_depend_on_the_kernel_path(pinned, other_path):
    other = other_path
    # torch obeys the variable on this CPU (what makes the pin work on any CPU, AVX2-only ones included)
    assert other["capability"] == "DEFAULT"
    assert other["ranking"] == pinned["ranking"]
    assert pinned["ranking"][1], "no learning rate is beaten: the comparison would hold on any kernel path"


@pytest.mark.skipif(kernels.is_x86(), reason="on x86-64 the tests above apply")
def test_elsewhere_nothing_is_pinned():
    assert run({})["env"] == UNPINNED


@x86_avx2
def test_another_kernel_path_drifts_within_the_golden_tolerance(other_path):
    """tests/test_golden.py's tolerance: not the same bits on another path, the same history to TOLERANCE."""
    recorded = json.loads(test_golden.GOLDEN.read_text())["histories"]
    assert other_path["golden"]["baseline"] != recorded["baseline"]  # the drift is real...
    assert test_golden.differences(other_path["golden"], {"baseline": recorded["baseline"]}) == []  # ...and small
