"""The notebook's graded code cells (sections 1-3), printed from the package's source.

The notebook defines the data pipeline, the models and the loop in its own code cells, and every run
uses those definitions; the package keeps the same code for the command line. This prints the cells
from the package, for pasting after a change to the package (tests/test_graded_cells.py checks that
the two agree): python scripts/graded_cells.py
"""

import inspect

from mnist_assignment import loader, models, training

CELLS = {
    "data": (loader, ["Split", "stratified_split", "normalise", "prepare", "TensorPairs", "ShuffledBatches",
                      "make_loader"]),
    "models": (models, ["hidden_block", "he_init", "hidden_layers", "MLP", "conv_block", "CNN", "build_model"]),
    "loop": (training, ["make_optimizer", "train_one_epoch", "evaluate", "train"]),
}
HEADERS = {
    "data": '''from dataclasses import dataclass

from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, Sampler''',
    "models": '''from torch import nn

from mnist_assignment.config import TrainConfig''',
    "loop": '''from mnist_assignment.training import History, format_epoch, make_scheduler, progress''',
}


def cell(name: str) -> str:
    module, names = CELLS[name]
    return "\n\n\n".join([HEADERS[name]] + [inspect.getsource(getattr(module, n)).rstrip() for n in names]) + "\n"


if __name__ == "__main__":
    for name in CELLS:
        print(f"# ---- {name}\n{cell(name)}")
