"""The result store: every run is one JSON file under results/, written the moment it finishes, and
reused only when its config, data and code all match."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .config import TrainConfig
from .files import write_atomic

CODE_FILES = ("config.py", "data.py", "models.py", "training.py", "stacked.py", "experiments.py")


def code_version() -> str:
    """A hash of the code that produces a result: a stored result is reused only if it matches."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in CODE_FILES:
        digest.update((root / name).read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class Result:
    study: str
    value: object
    seed: int
    config: dict
    history: dict
    seconds: float
    data_sha256: str
    code_version: str

    @property
    def epochs(self) -> list[dict]:
        return self.history["epochs"]

    @property
    def diverged(self) -> bool:
        return self.history["diverged"]


def run_key(cfg: TrainConfig, data_sha256: str, code: str) -> str:
    blob = json.dumps({"config": cfg.to_dict(), "data": data_sha256, "code": code}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class ResultStore:
    """results/<study>/<key>.json, written atomically; reuse only on an exact key match."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, study: str, key: str) -> Path:
        return self.root / study / f"{key}.json"

    def load(self, study: str, key: str) -> Result | None:
        """The stored result, or None (train again) when missing, unreadable or not a whole result."""
        try:
            result = Result(**json.loads(self.path(study, key).read_text()))
            epochs = result.history["epochs"]
            if not epochs or not all({"epoch", "val_acc", "val_loss", "train_acc"} <= set(e) for e in epochs):
                return None
            return result
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None

    def save(self, result: Result, key: str) -> None:
        write_atomic(self.path(result.study, key), json.dumps(result.__dict__, allow_nan=False))
