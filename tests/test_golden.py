"""Refactoring guard: the loop's histories on small data, to the last bit, as recorded in tests/golden/.

The kernel pins make these digits the same on any x86-64 CPU with AVX2 (at two threads); regenerate
the file only for a change meant to alter results: python tests/test_golden.py --write
"""

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from mnist_assignment import data, kernels, loader, training
from mnist_assignment.config import BASELINE, PRESETS

GOLDEN = Path(__file__).parent / "golden" / "histories.json"
CONFIGS = {
    "baseline": replace(BASELINE, epochs=3, log_every=10),
    "extras": replace(BASELINE, hidden=(64, 32), dropout=0.2, layernorm=True, optimizer="adamw", lr=3e-3,
                      weight_decay=0.05, schedule="onecycle", label_smoothing=0.1, shift=2, batch_size=32,
                      epochs=3, seed=1),
    "early": replace(BASELINE, optimizer="adam", lr=0.01, epochs=12, patience=2, batch_size=128),
    "cnn": replace(PRESETS["cnn"], channels=(8, 16), hidden=(32,), epochs=2),
    "diverged": replace(BASELINE, lr=1e9, epochs=3),
    "elastic": replace(BASELINE, hidden=(64, 32), shift=1, elastic=15.0, tta=1, batch_size=128, epochs=2),
}


def histories() -> dict:
    images, labels = data.load_digits(data.SAMPLE_DIR / "train.csv.gz")
    split = loader.prepare(images[:2000], labels[:2000])
    out = {}
    with training.cpu_threads(2):
        for name, cfg in CONFIGS.items():
            h = training.run(cfg, split)[1].to_dict()
            for e in h["epochs"]:
                e.pop("seconds")
            out[name] = h
    return json.loads(json.dumps(out))


@pytest.mark.skipif(not kernels.is_x86(), reason="the recorded digits are those of the pinned x86-64 kernels")
def test_the_loop_gives_the_recorded_histories():
    expected = json.loads(GOLDEN.read_text())
    got = histories()
    assert got.keys() == expected.keys()
    for name in expected:
        assert got[name] == expected[name], name
    assert expected["early"]["stopped_early"] and expected["diverged"]["diverged"]


if __name__ == "__main__" and "--write" in sys.argv:
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(histories(), indent=0, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
