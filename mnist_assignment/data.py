"""Kaggle digit-recognizer CSV -> validated arrays; where the data comes from; what is wrong with it.

`load_digits` is the only way data enters the project. It validates the whole file before
returning anything and raises `DataError` (one line: file, row, column, problem) otherwise.
Rows are counted from 1 over data rows, the header not included. The split, the tensors and the
batches are the notebook's own code (split_data, make_loader).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .files import atomic_path

PIXELS = [f"pixel{i}" for i in range(784)]
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"
CACHE_VERSION = 1


class DataError(ValueError):
    """A data file that cannot be used; the message is one line naming file, row, column."""


# ---------------------------------------------------------------- loading + validation


def load_digits(path: str | Path, kind: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a Kaggle train/test CSV (or .csv.gz): uint8 images [N, 784], int64 labels or None.

    kind: "train" (label column required), "test" (no label column) or None (from the header).
    A binary cache beside the source makes the second load fast; it is keyed by the source's
    size, mtime and sha256 and rebuilt whenever it does not match or does not load.
    """
    images, labels, _ = load_hashed(path, kind)
    return images, labels


def load_hashed(path: str | Path, kind: str | None = None) -> tuple[np.ndarray, np.ndarray | None, str]:
    """load_digits plus the file's sha256, which the cache key computes anyway (one read, one hash)."""
    path = Path(path)
    name = str(path)
    if kind not in (None, "train", "test"):
        raise DataError(f"{name}: kind must be 'train' or 'test', not {kind!r}")
    try:
        raw = path.read_bytes()
        stat = path.stat()
    except FileNotFoundError:
        raise DataError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{name}: is a directory, not a CSV file") from None
    except OSError as err:
        raise DataError(f"{name}: cannot read ({err.strerror})") from None
    key = {"version": CACHE_VERSION, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
           "sha256": hashlib.sha256(raw).hexdigest()}
    cached = _read_cache(path, key)
    if cached is None:
        cached = _parse(name, raw, kind)
        _write_cache(path, key, *cached)
    images, labels = cached
    if kind == "train" and labels is None:
        raise DataError(f"{name}: header: missing column label (this looks like a test file)")
    if kind == "test" and labels is not None:
        raise DataError(f"{name}: header: unexpected column label (this looks like a train file)")
    return images, labels, key["sha256"]


def _decode(name: str, raw: bytes) -> bytes:
    """Gunzip if needed and refuse what is plainly not a CSV; the bytes stay bytes (fast)."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(f"{name}: corrupt gzip data ({err})") from None
    elif name.endswith(".gz"):
        raise DataError(f"{name}: not gzip data although the name ends in .gz")
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    if raw[-1:].isspace() and (raw[-1:] != b"\n" or raw[-2:-1].isspace()):
        raw = raw.rstrip()  # trailing blank lines are harmless; one final newline needs no copy
    if not raw:
        raise DataError(f"{name}: empty file")
    head = raw[:65536]
    if head.lstrip()[:1] == b"<":
        raise DataError(f"{name}: an HTML/XML page, not a CSV (a failed download?)")
    if b"\x00" in head:
        raise DataError(f"{name}: binary data, not a CSV file")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 4:  # not merely a character cut at the 64 KiB boundary
            raise DataError(f"{name}: binary data, not a CSV file (invalid UTF-8)") from None
    return raw


KAGGLE_HEADER = {"train": '"label,pixel0,...,pixel783"', "test": '"pixel0,...,pixel783"'}
NUMBER = re.compile(r"[+-]?\d+(\.\d*)?")


def _header(name: str, text: bytes, kind: str | None = None) -> tuple[list[str], bool]:
    first = text.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", errors="replace")
    columns = [c.strip().strip('"') for c in first.split(",")]
    # a file saved without its header (index=False, header=False) starts with a row of numbers, which
    # would otherwise read as a header whose columns repeat ("0" twice): say what is missing instead
    if sum(bool(NUMBER.fullmatch(c)) for c in columns) * 2 > len(columns):
        if kind is None:  # from the row's width: Kaggle's train rows have the label besides the 784 pixels
            kind = {len(PIXELS) + 1: "train", len(PIXELS): "test"}.get(len(columns))
        says = (f"a Kaggle {kind}.csv starts with {KAGGLE_HEADER[kind]}" if kind else
                f"a Kaggle train.csv starts with {KAGGLE_HEADER['train']}, a test.csv with {KAGGLE_HEADER['test']}")
        raise DataError(f"{name}: line 1 is data, not a header: {says}")
    seen = set()
    for column in columns:
        if column in seen:
            raise DataError(f"{name}: header: column {column or '(empty)'} appears twice")
        seen.add(column)
    has_label = "label" in seen
    unexpected = [c for c in columns if c not in set(PIXELS) | {"label"}]
    if unexpected:
        if len(columns) == 1 or all(not c.startswith("pixel") for c in columns):
            raise DataError(f"{name}: not a digit-recognizer CSV (header starts {first[:40]!r})")
        raise DataError(f"{name}: header: unexpected column {unexpected[0] or '(empty)'}")
    missing = [c for c in PIXELS if c not in seen]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise DataError(f"{name}: header: missing column {missing[0]}{more}")
    return columns, has_label


def _parse(name: str, raw: bytes, kind: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    text = _decode(name, raw)
    columns, has_label = _header(name, text, kind)
    if b"\n" not in text:
        raise DataError(f"{name}: no data rows after the header")
    order = [columns.index(c) for c in (["label"] if has_label else []) + PIXELS]
    images, labels, done = [], [], 0
    try:  # fast path: the C parser, strict integers, in chunks; anything odd goes to _diagnose
        import pandas as pd  # here, not at the top: check-data on a cached file never parses

        # chunks of rows keep the int64 copy small: peak memory stays near the file's own size
        with pd.read_csv(io.BytesIO(text), dtype=np.int64, skip_blank_lines=False, engine="c", header=0,
                         names=columns, chunksize=CHUNK_ROWS) as reader:
            for frame in reader:
                values = frame.to_numpy()
                if values.shape[1] != len(columns):
                    _diagnose(name, text, columns)
                pixels, label = _check_chunk(name, values[:, order], has_label, done)
                images.append(pixels)
                labels.append(label)
                done += len(values)
    except (ValueError, OverflowError) as err:  # pandas' ParserError is a ValueError
        if isinstance(err, DataError):
            raise
        _diagnose(name, text, columns)
        raise DataError(f"{name}: could not be parsed as integers") from None
    if done == 0:
        raise DataError(f"{name}: no data rows after the header")
    return np.concatenate(images), (np.concatenate(labels) if has_label else None)


CHUNK_ROWS = 4096


def _check_chunk(name: str, values: np.ndarray, has_label: bool, done: int):
    """Range checks of one chunk of rows (columns already in label, pixel0.. order) -> uint8, labels."""
    pixels = values[:, 1:] if has_label else values
    bad = np.argwhere((pixels < 0) | (pixels > 255))
    if len(bad):
        row, col = bad[0]
        raise DataError(f"{name}: row {done + row + 1}, column pixel{col}: "
                        f"value {pixels[row, col]} is outside 0..255")
    labels = None
    if has_label:
        labels = values[:, 0].astype(np.int64)
        bad = np.flatnonzero((labels < 0) | (labels > 9))
        if len(bad):
            raise DataError(f"{name}: row {done + bad[0] + 1}, column label: "
                            f"value {labels[bad[0]]} is outside 0..9")
    return np.ascontiguousarray(pixels, dtype=np.uint8), labels


def _diagnose(name: str, text: bytes, columns: list[str]) -> None:
    """Slow exact scan, run only when the fast parser refused the file: say where and why."""
    lines = text.decode("utf-8", errors="replace").split("\n")[1:]
    for row, fields in enumerate(csv.reader(line.rstrip("\r") for line in lines), start=1):
        if not fields:
            raise DataError(f"{name}: row {row}: empty line")
        if len(fields) != len(columns):
            raise DataError(f"{name}: row {row}: {len(fields)} fields, expected {len(columns)}")
        for column, cell in zip(columns, fields):
            cell = cell.strip()
            if cell == "":
                raise DataError(f"{name}: row {row}, column {column}: blank cell")
            try:
                value = int(cell)
            except ValueError:
                raise DataError(f"{name}: row {row}, column {column}: "
                                f"value {cell[:20]!r} is not an integer") from None
            top = 9 if column == "label" else 255
            if not 0 <= value <= top:
                raise DataError(f"{name}: row {row}, column {column}: "
                                f"value {value} is outside 0..{top}")


# ---------------------------------------------------------------- cache


def _cache_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.cache.npz")


def _read_cache(path: Path, key: dict) -> tuple[np.ndarray, np.ndarray | None] | None:
    try:
        with np.load(_cache_path(path)) as npz:
            meta = json.loads(bytes(npz["meta"]).decode())
            if meta["key"] != key:
                return None
            images = npz["images"]
            labels = npz["labels"] if meta["has_labels"] else None
        if hashlib.sha256(images.tobytes()).hexdigest() != meta["images_sha256"]:
            return None
        if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != 784:
            return None
        return images, labels
    except Exception:  # a missing, truncated or foreign cache is simply rebuilt
        return None


def _write_cache(path: Path, key: dict, images: np.ndarray, labels: np.ndarray | None) -> None:
    meta = {"key": key, "has_labels": labels is not None,
            "images_sha256": hashlib.sha256(images.tobytes()).hexdigest()}
    try:
        with atomic_path(_cache_path(path)) as tmp, open(tmp, "wb") as f:
            np.savez(f, images=images, labels=labels if labels is not None else np.zeros(0),
                     meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    except OSError:  # a read-only or full data folder only costs speed
        pass


# ---------------------------------------------------------------- finding the data


@dataclass(frozen=True)
class Source:
    """Where the data came from, for the provenance line of every result."""

    path: str
    origin: str  # "kaggle" (the user's file in Kaggle's format) or "sample" (bundled)
    rows: int
    sha256: str

    @property
    def name(self) -> str:
        """The file name only: reports never print a folder of the machine they ran on."""
        return Path(self.path).name

    def describe(self) -> str:
        if self.origin == "sample":
            return f"ran on the {self.rows:,}-digit bundled sample ({self.name}), not Kaggle's train.csv"
        return f"{self.name}: {self.rows:,} rows, sha256 {self.sha256[:16]}…"


def find_train_file(data_dir: str | Path = "data") -> Path:
    """data/train.csv(.gz) when the user put it there, else the bundled sample."""
    for name in ("train.csv", "train.csv.gz"):
        if (Path(data_dir) / name).exists():
            return Path(data_dir) / name
    return SAMPLE_DIR / "train.csv.gz"


def kaggle_credentials() -> bool:
    home = Path.home()
    return bool(os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY")) or any(
        (d / "kaggle.json").is_file() for d in (home / ".kaggle", home / ".config" / "kaggle"))


def ensure_train_data(data_dir: str | Path = "data") -> tuple[Path, str]:
    """The train file to use and a sentence saying where it came from.

    data/train.csv(.gz) if present; else Kaggle's files via the official `kaggle` package when
    credentials are configured; else the bundled sample, said loudly.
    """
    data_dir = Path(data_dir)
    path = find_train_file(data_dir)
    if origin_of(path) != "sample":
        return path, f"using {path}"
    if kaggle_credentials():
        import importlib.util
        import subprocess
        import sys
        import zipfile

        if importlib.util.find_spec("kaggle") is None:  # optional: never installed behind the user's back
            rows = len(load_digits(path)[0])
            return path, (f"WARNING: Kaggle credentials found but not the `kaggle` package (pip install kaggle "
                          f"to download); results will be on the {rows:,}-digit bundled sample")
        subprocess.run([sys.executable, "-m", "kaggle", "competitions", "download",
                        "-c", "digit-recognizer", "-p", str(data_dir)], check=True)
        with zipfile.ZipFile(data_dir / "digit-recognizer.zip") as archive:
            archive.extractall(data_dir, members=["train.csv", "test.csv"])
        return data_dir / "train.csv", f"downloaded Kaggle's digit-recognizer files to {data_dir}"
    rows = len(load_digits(path)[0])
    return path, (f"WARNING: no {data_dir}/train.csv and no Kaggle credentials: results will be "
                  f"on the {rows:,}-digit bundled sample, not Kaggle's train.csv")


def origin_of(path: str | Path) -> str:
    resolved = Path(path).resolve()
    return "sample" if resolved.parent == SAMPLE_DIR.resolve() else "kaggle"


def load_source(path: str | Path) -> tuple[np.ndarray, np.ndarray, Source]:
    images, labels, sha256 = load_hashed(path, kind="train")  # one read and one hash of the file
    source = Source(str(path), origin_of(path), len(labels), sha256)
    return images, labels, source


def summary(images: np.ndarray, labels: np.ndarray | None) -> dict:
    """Rows, pixel mean/std (/255) and class counts. The pixel statistics come from a histogram of
    the 256 byte values, built in chunks: no float copy of the whole file."""
    counts = np.zeros(256, dtype=np.int64)
    for start in range(0, len(images), 4096):
        counts += np.bincount(images[start:start + 4096].ravel(), minlength=256)
    values = np.arange(256) / 255.0
    n = max(int(counts.sum()), 1)
    mean = float(counts @ values) / n
    std = math.sqrt(max(float(counts @ values**2) / n - mean**2, 0.0))
    out = {"rows": int(len(images)), "pixel_mean": round(mean, 4), "pixel_std": round(std, 4)}
    if labels is not None:
        out["class_counts"] = np.bincount(labels, minlength=10).tolist()
    return out


def duplicate_groups(images: np.ndarray) -> list[np.ndarray]:
    """Indices of rows that are exact copies of each other, one array per group of two or more."""
    rng = np.random.default_rng(0)
    weights = rng.standard_normal((images.shape[1], 2))
    keys = np.concatenate([images[s:s + 4096].astype(np.float64) @ weights for s in range(0, len(images), 4096)])
    order = np.lexsort(keys.T[::-1])
    ordered = keys[order]
    starts = np.flatnonzero(np.r_[True, (ordered[1:] != ordered[:-1]).any(axis=1), True])
    groups = []
    for start, end in zip(starts[:-1], starts[1:]):  # runs of equal keys, confirmed byte for byte
        if end - start > 1:
            members = order[start:end]
            same = members[(images[members] == images[members[0]]).all(axis=1)]
            if len(same) > 1:
                groups.append(np.sort(same))
    return groups


@dataclass(frozen=True)
class Problem:
    """One sentence about what makes a file a poor basis for training or validation."""

    text: str
    fatal: bool = False  # no stratified 80/20 split can be made: training must not start

    def __str__(self) -> str:
        return self.text


def validation_rows(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """The rows the notebook's split_data(images, labels, seed) puts in validation: the same call, so that
    what problems() says about the 80/20 split is about the split the run makes. Here without torch:
    check-data stays light."""
    from sklearn.model_selection import train_test_split

    return train_test_split(np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=seed)[1]


def problems(images: np.ndarray, labels: np.ndarray | None) -> list[Problem]:
    """Each problem of the data, one sentence each (empty: none)."""
    found = []
    constant = int((images.min(axis=1) == images.max(axis=1)).sum())
    if constant:
        found.append(Problem(f"{constant:,} of {len(images):,} images are a single flat colour (all pixels equal)"))
    if labels is not None:
        counts = np.bincount(labels, minlength=10)
        present = np.flatnonzero(counts)
        if len(present) == 1:
            found.append(Problem(f"only one class (digit {present[0]}): accuracy will mean nothing", fatal=True))
        rare = [d for d in present if counts[d] < 2]
        if rare:
            found.append(Problem(f"digit {', '.join(map(str, rare))} has fewer than 2 examples: a stratified "
                                 "split needs at least 2 of every class present", fatal=True))
    groups = duplicate_groups(images)
    if groups:
        copies = sum(len(g) - 1 for g in groups)
        text = f"{copies:,} images are exact copies of others ({len(groups):,} groups)"
        if labels is not None and len(images) >= 10 and not any(counts[d] < 2 for d in np.flatnonzero(counts)):
            in_val = np.zeros(len(images), dtype=bool)
            in_val[validation_rows(labels)] = True
            crossing = sum(1 for g in groups if in_val[g].any() and not in_val[g].all())
            text += (f"; {crossing:,} groups have copies on both sides of the 80/20 split, so validation sees "
                     "digits it trained on (leakage)" if crossing else "; none crosses the 80/20 split")
        found.append(Problem(text))
    return found

