"""Refactoring guard: the notebook's loop on small data gives the histories recorded in tests/golden/.

Three small runs (2,000 sample rows, 3 epochs, one torch thread) through notebook_code.load(): the
baseline, dropout + LayerNorm + Adam, and batch 32. Their losses and accuracies must match the recorded
ones to TOLERANCE: any change of recipe, data order or initial weights moves them by far more, which
test_the_comparison_catches_* prove by making each change and seeing the comparison fail.

What the kernel pins (mnist_assignment/kernels.py) guarantee: on x86-64 CPUs with AVX2, torch, MKL and
oneDNN take the same AVX2 paths, so in practice the report's digits repeat from one such CPU to another.
What they do not: bitwise equality across CPU vendors, instruction sets (ARM), library builds or thread
counts is not promised, and last-bit differences can appear. This test therefore allows that drift
(checked by tests/test_kernels.py on PyTorch's non-vectorised kernels) and nothing more.

Regenerate the file only for a change meant to alter results: PYTHONPATH=. python tests/test_golden.py --write
"""

# isort: off
import mnist_assignment  # noqa: F401 (first: it pins the CPU kernels before torch loads, when run as a script)
# isort: on
import json
import math
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from mnist_assignment import data, kernels, notebook_code

GOLDEN = Path(__file__).parent / "golden" / "histories.json"
ROWS = 2000
METRICS = ("train_loss", "train_acc", "val_loss", "val_acc")
FINAL = ("train_loss_eval", "train_acc_eval")  # the last epoch's: the final model on the training part, eval mode
# another kernel path (AVX-512, or no vectorisation) moved these values by at most 1.5e-7; one image more or
# less right of the 400 validation digits is 0.0025, and a 1% change of the learning rate moved a loss by 7e-3
TOLERANCE = 1e-4
CONFIGS = {  # name -> Config fields
    "baseline": {"epochs": 3},
    "dropout_layernorm_adam": {"epochs": 3, "dropout": 0.2, "norm": nn.LayerNorm, "optimizer": "adam",
                               "lr": 0.001, "seed": 1},
    "batch_32": {"epochs": 3, "batch_size": 32},
}


def histories(nb=None, configs=CONFIGS) -> dict:
    """{name: [{epoch, train_loss, train_acc, val_loss, val_acc} per epoch, the last with FINAL too]} on one torch
    thread."""
    nb = nb or notebook_code.load()
    images, labels = data.load_digits(data.SAMPLE_DIR / "train.csv.gz")
    train_set, val_set, _ = nb.split_data(images[:ROWS], labels[:ROWS])
    val_loader = nb.make_loader(val_set, 1000)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return {name: [{"epoch": e["epoch"], **{k: e[k] for k in (*METRICS, *FINAL) if k in e}}
                       for e in nb.train(nb.Config(**fields), train_set, val_loader)[1]]
                for name, fields in configs.items()}
    finally:
        torch.set_num_threads(threads)


def differences(got: dict, expected: dict, tolerance: float = TOLERANCE) -> list[str]:
    """Each value further than tolerance from the recorded one (and each missing run or epoch)."""
    found = []
    for name, runs in expected.items():
        mine = got.get(name, [])
        if len(mine) != len(runs):
            found.append(f"{name}: {len(mine)} epochs, recorded {len(runs)}")
        for a, b in zip(mine, runs):
            keys = METRICS + (FINAL if b is runs[-1] else ())
            found += [f"{name} epoch {b['epoch']} {k}: {a.get(k)!r}, recorded {b[k]!r}" for k in keys
                      if k not in a or not math.isclose(a[k], b[k], rel_tol=0, abs_tol=tolerance)]
    return found


@pytest.fixture(scope="module")
def recorded():
    return json.loads(GOLDEN.read_text())["histories"]


pinned_only = pytest.mark.skipif(not kernels.is_x86(), reason="recorded with the pinned x86-64 (AVX2) kernels")


@pinned_only
def test_the_loop_gives_the_recorded_histories(recorded):
    got = histories()
    assert got.keys() == recorded.keys()
    assert differences(got, recorded) == []
    assert recorded["baseline"][-1]["val_acc"] > 0.8  # a recording of a run that learns
    assert all(set(FINAL) <= set(run[-1]) for run in recorded.values())  # the gap's terms are compared too


@pinned_only
def test_the_comparison_catches_a_final_measure_taken_otherwise(recorded):
    """The final model's training-part accuracy counted with dropout on (train mode) is not the recorded one."""
    got = histories(configs={"dropout_layernorm_adam": CONFIGS["dropout_layernorm_adam"]})
    got["dropout_layernorm_adam"][-1]["train_acc_eval"] = got["dropout_layernorm_adam"][-1]["train_acc"]
    assert differences(got, {"dropout_layernorm_adam": recorded["dropout_layernorm_adam"]}) != []
    del got["dropout_layernorm_adam"][-1]["train_acc_eval"]
    assert differences(got, {"dropout_layernorm_adam": recorded["dropout_layernorm_adam"]}) != []


@pinned_only
def test_the_comparison_catches_a_change_of_learning_rate(recorded):
    got = histories(configs={"baseline": {**CONFIGS["baseline"], "lr": 0.0101}})
    assert differences(got, {"baseline": recorded["baseline"]}) != []


@pinned_only
def test_the_comparison_catches_another_batch_order(recorded, nb, monkeypatch):
    make_loader = nb.make_loader

    def reshuffled(dataset, batch_size, shuffle=False, seed=0):  # the training batches in another order
        return make_loader(dataset, batch_size, shuffle, seed + 1 if shuffle else seed)

    monkeypatch.setattr(nb, "make_loader", reshuffled)  # train() looks it up in the notebook's namespace
    assert differences(histories(nb, {"baseline": CONFIGS["baseline"]}), {"baseline": recorded["baseline"]}) != []


@pinned_only
def test_the_comparison_catches_other_initial_weights(recorded, nb, monkeypatch):
    mlp = nb.MLP

    def reinitialised(*args, **kwargs):  # same architecture, weights drawn from another seed
        torch.manual_seed(1)
        return mlp(*args, **kwargs)

    monkeypatch.setattr(nb, "MLP", reinitialised)
    assert differences(histories(nb, {"baseline": CONFIGS["baseline"]}), {"baseline": recorded["baseline"]}) != []


if __name__ == "__main__" and "--write" in sys.argv:
    GOLDEN.parent.mkdir(exist_ok=True)
    blob = {"about": f"tests/test_golden.py: {ROWS} sample rows, one torch thread, "
                     f"{torch.backends.cpu.get_cpu_capability()} kernels, torch {torch.__version__.split('+')[0]}",
            "configs": {name: {k: getattr(v, "__name__", v) for k, v in fields.items()}
                        for name, fields in CONFIGS.items()},
            "histories": histories()}
    GOLDEN.write_text(json.dumps(blob, indent=1) + "\n")
    print(f"wrote {GOLDEN}")
