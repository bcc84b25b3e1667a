import gzip
from pathlib import Path

import numpy as np
import pytest

from mnist_assignment.data import SAMPLE_DIR, load_digits, prepare

SAMPLE_TRAIN = SAMPLE_DIR / "train.csv.gz"
SAMPLE_TEST = SAMPLE_DIR / "test.csv.gz"


@pytest.fixture(scope="session")
def sample():
    return load_digits(SAMPLE_TRAIN, kind="train")


@pytest.fixture(scope="session")
def small_split(sample):
    """2,000 real digits, stratified 80/20: enough for a short run to learn."""
    images, labels = sample
    return prepare(images[:2000], labels[:2000])


@pytest.fixture(scope="session")
def sample_lines():
    """The sample's first rows as text lines (header first), for building bad files."""
    with gzip.open(SAMPLE_TRAIN, "rt") as f:
        return [next(f).rstrip("\n") for _ in range(21)]


def write(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.write_text(newline.join(lines) + newline)
    return path


def small_csv(tmp_path: Path, lines: list[str], name: str = "train.csv") -> Path:
    return write(tmp_path / name, lines)


np.set_printoptions(linewidth=120)
