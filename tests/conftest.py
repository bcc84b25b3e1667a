import gzip
import signal
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from mnist_assignment import notebook_code
from mnist_assignment.data import SAMPLE_DIR, load_digits

SAMPLE_TRAIN = SAMPLE_DIR / "train.csv.gz"
SAMPLE_TEST = SAMPLE_DIR / "test.csv.gz"
FIRST = ("test_notebook.py", "test_kernels.py")  # the longest files: started first, the rest fills the other cores


def pytest_collection_modifyitems(items):
    """Longest files first, so that with `-n auto --dist loadfile --no-loadscope-reorder` (make test) they do not
    start last."""
    items.sort(key=lambda item: FIRST.index(item.path.name) if item.path.name in FIRST else len(FIRST))


@pytest.fixture(scope="session")
def sample():
    return load_digits(SAMPLE_TRAIN, kind="train")


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread, as the notebook trains: on a shared machine two threads mostly wait on each other."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def nb():
    """The notebook's graded code (its cells tagged export), loaded from the .ipynb."""
    return notebook_code.load()


@pytest.fixture(scope="session")
def small_split(sample, nb):
    """2,000 real digits through the notebook's split_data (stratified 80/20): enough for a short run to learn.

    The datasets (train_set, val_set), the training part's mean and std, and the tensors by name
    (x_train, y_train, x_val, y_val)."""
    images, labels = sample
    train_set, val_set, (mean, std) = nb.split_data(images[:2000], labels[:2000])
    return SimpleNamespace(train_set=train_set, val_set=val_set, mean=mean, std=std,
                           x_train=train_set.tensors[0], y_train=train_set.tensors[1],
                           x_val=val_set.tensors[0], y_val=val_set.tensors[1])


@pytest.fixture(scope="session")
def sample_lines():
    """The sample's first rows as text lines (header first), for building bad files."""
    with gzip.open(SAMPLE_TRAIN, "rt") as f:
        return [next(f).rstrip("\n") for _ in range(21)]


@pytest.fixture(scope="session")
def small_train_csv(tmp_path_factory):
    """The sample's first 2,000 labelled digits as a CSV: for commands whose data size is not what is tested."""
    with gzip.open(SAMPLE_TRAIN, "rt") as f:
        lines = [next(f) for _ in range(2001)]
    path = tmp_path_factory.mktemp("small") / "train.csv"
    path.write_text("".join(lines))
    return path


@pytest.fixture
def cli(capfd):
    """`python -m mnist_assignment ARGS` called in this process: .returncode, .stdout, .stderr.

    The commands' SIGTERM handler is put back afterwards, so that it stays the test runner's."""
    from mnist_assignment.cli import main

    def call(*args, entry=main):
        capfd.readouterr()
        handler = signal.getsignal(signal.SIGTERM)
        try:
            code = entry([str(a) for a in args])
        finally:
            signal.signal(signal.SIGTERM, handler)
        out, err = capfd.readouterr()
        return SimpleNamespace(returncode=code, stdout=out, stderr=err)

    return call


def write(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.write_text(newline.join(lines) + newline)
    return path


def small_csv(tmp_path: Path, lines: list[str], name: str = "train.csv") -> Path:
    return write(tmp_path / name, lines)


np.set_printoptions(linewidth=120)
