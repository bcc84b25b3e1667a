"""Kaggle digit-recognizer CSV -> validated arrays; where the data comes from; what is wrong with it.

The notebook reads the CSV once, with pandas; before that, `peek` checks in a fraction of a second
what needs no parse (the file is there, a CSV, Kaggle's header, its rows), and after it
`check_values` judges the frame pandas read (whole-number pixels 0..255, labels 0..9, no blank cell,
no short row). `load_source` does the same three steps in one call (check-data, the tests).
Every problem is a `DataError`: one line naming file, row and column, and what to do. Rows are
counted from 1 over data rows, the header not included. The split, the tensors and the batches are
the notebook's own code (split_data, make_loader).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PIXELS = [f"pixel{i}" for i in range(784)]
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"


class DataError(ValueError):
    """A data file that cannot be used; the message is one line naming file, row, column."""

    def _render_traceback_(self):  # IPython shows the line instead of a traceback
        return [str(self)]


# ---------------------------------------------------------------- checks before and after the read


def peek(path: str | Path, kind: str = "train") -> Source:
    """The checks that need no parse: the file is there and is a CSV (gzip or not) with Kaggle's header
    for `kind`, and no row is longer than the header -> where it comes from, its rows and sha256."""
    name = str(path)
    raw = _read(path)
    text = _decode(name, raw)
    columns, has_label = _header(name, text, kind)
    _kind_matches(name, has_label, kind)
    return Source(name, origin_of(path), _count_rows(name, text, len(columns)), hashlib.sha256(raw).hexdigest())


def _count_rows(name: str, text: bytes, width: int) -> int:
    """Data rows (blank lines skipped, as pandas skips them); a row with more fields than the header is an error
    here, because pandas refuses it with a traceback before there is a frame to judge."""
    rows = 0
    for line in text.split(b"\n")[1:]:
        if line.strip():
            rows += 1
            if line.count(b",") >= width:
                raise DataError(f"{name}: row {rows} has {line.count(b',') + 1} fields of {width}: "
                                "fix or remove that row")
    if rows == 0:
        raise DataError(f"{name}: no data rows after the header")
    return rows


def check_values(frame, path: str | Path) -> None:
    """The frame pandas read from path: Kaggle's columns, every row complete, whole-number pixels 0..255 and
    labels 0..9. DataError at the first problem (one line: file, row, column, what to do)."""
    import pandas as pd  # here, not at the top: the checks before the read stay light

    name = str(path)
    columns = ["" if str(c).startswith("Unnamed: ") else str(c) for c in frame.columns]  # pandas names a blank one
    _check_columns(name, columns)
    if frame.empty:
        raise DataError(f"{name}: no data rows after the header")
    blank = frame.isna().to_numpy()
    if blank.any():
        row = int(blank.any(axis=1).argmax())
        first = int(blank[row].argmax())
        if blank[row, first:].all():  # blank from there to the end of the row: the line stops early
            what = "the file looks truncated; download it again" if row == len(frame) - 1 else "fix that row"
            raise DataError(f"{name}: row {row + 1} has {first} fields of {len(columns)}: {what}")
        raise DataError(f"{name}: row {row + 1}, column {columns[first]}: blank cell")
    for column in frame.columns:  # text where a number belongs (a whole column of it is rare: one at a time)
        if not pd.api.types.is_numeric_dtype(frame[column]):
            row = int(pd.to_numeric(frame[column], errors="coerce").isna().to_numpy().argmax())
            top = 9 if column == "label" else 255
            raise DataError(f"{name}: row {row + 1}, column {column}: value {str(frame[column].iloc[row])[:20]!r} "
                            f"is not a number (whole numbers 0..{top})")
    floats = frame.select_dtypes("number").select_dtypes(exclude="integer")  # whole-number columns read as int
    first = _first_cell(floats, (floats % 1 != 0).to_numpy())
    if first:
        row, column, value = first
        advice = "labels are digits 0..9" if column == "label" else "pixels must be whole numbers 0..255, not scaled"
        raise DataError(f"{name}: row {row}, column {column}: value {value:g} is not a whole number: {advice}")
    top = pd.Series(np.where(frame.columns == "label", 9, 255), index=frame.columns)
    outside = frame.loc[:, (frame.min() < 0) | (frame.max() > top)]  # column by column first: fast
    first = _first_cell(outside, ((outside < 0) | (outside > top[outside.columns])).to_numpy())
    if first:
        row, column, value = first
        top = 9 if column == "label" else 255
        raise DataError(f"{name}: row {row}, column {column}: value {value:g} is outside 0..{top}")


def _first_cell(frame, bad: np.ndarray) -> tuple[int, str, float] | None:
    """The first cell, in reading order, where bad (a boolean array shaped like frame) holds: (row from 1,
    column, value)."""
    if not bad.any():
        return None
    row = int(bad.any(axis=1).argmax())
    column = int(bad[row].argmax())
    return row + 1, str(frame.columns[column]), frame.iat[row, column]


def arrays(frame) -> tuple[np.ndarray, np.ndarray | None]:
    """A checked frame -> uint8 images [N, 784] in pixel order, int64 labels (None for a test file)."""
    labels = frame["label"].to_numpy(dtype=np.int64) if "label" in frame.columns else None
    return frame[PIXELS].to_numpy(dtype=np.uint8), labels


# ---------------------------------------------------------------- loading (the command line's path)


def load_digits(path: str | Path, kind: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """load_source's images and labels (kind None: train or test, as the header says)."""
    images, labels, _ = load_source(path, kind)
    return images, labels


def load_source(path: str | Path, kind: str | None = "train") -> tuple[np.ndarray, np.ndarray | None, Source]:
    """Read a Kaggle train/test CSV (or .csv.gz): uint8 images [N, 784], int64 labels or None, and where it
    comes from (its rows and sha256, from the same read). kind: "train" (label column required), "test" (no
    label column) or None (from the header)."""
    name = str(path)
    raw = _read(path)
    images, labels = _parse(name, raw, kind)
    _kind_matches(name, labels is not None, kind)
    return images, labels, Source(name, origin_of(path), len(images), hashlib.sha256(raw).hexdigest())


def _read(path: str | Path) -> bytes:
    name = str(path)
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{name}: is a directory, not a CSV file") from None
    except OSError as err:
        raise DataError(f"{name}: cannot read ({err.strerror})") from None


def _kind_matches(name: str, has_label: bool, kind: str | None) -> None:
    if kind == "train" and not has_label:
        raise DataError(f"{name}: header: missing column label (this looks like a test file)")
    if kind == "test" and has_label:
        raise DataError(f"{name}: header: unexpected column label (this looks like a train file)")


def _decode(name: str, raw: bytes) -> bytes:
    """Gunzip if needed and refuse what is plainly not a CSV; the bytes stay bytes (fast)."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(f"{name}: corrupt gzip data ({err}): download it again") from None
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
    _check_columns(name, columns)
    return columns, "label" in columns


def _check_columns(name: str, columns: list[str]) -> None:
    """Kaggle's columns (label, if any, and pixel0..pixel783, in any order), each once."""
    if len(columns) > 1 and columns[0] == "":  # DataFrame.to_csv's default writes the row numbers first
        raise DataError(f"{name}: header: the first column is an unnamed index: save the CSV with index=False")
    seen = set()
    for column in columns:
        if column in seen:
            raise DataError(f"{name}: header: column {column or '(empty)'} appears twice")
        seen.add(column)
    unexpected = [c for c in columns if c not in set(PIXELS) | {"label"}]
    if unexpected:
        if len(columns) == 1 or all(not c.startswith("pixel") for c in columns):
            raise DataError(f"{name}: not a digit-recognizer CSV (header starts {','.join(columns)[:40]!r})")
        raise DataError(f"{name}: header: unexpected column {unexpected[0] or '(empty)'}")
    missing = [c for c in PIXELS if c not in seen]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise DataError(f"{name}: header: missing column {missing[0]}{more}")


def _parse(name: str, raw: bytes, kind: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """What the notebook does: the checks before the read, pandas' read, the checks of the frame."""
    import pandas as pd  # here, not at the top: the checks before the read stay light

    text = _decode(name, raw)
    columns, _ = _header(name, text, kind)
    _count_rows(name, text, len(columns))
    frame = pd.read_csv(io.BytesIO(text))
    check_values(frame, name)
    return arrays(frame)


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
    rows = peek(path).rows
    if kaggle_credentials():
        import importlib.util
        import subprocess
        import sys
        import zipfile

        if importlib.util.find_spec("kaggle") is None:  # optional: never installed behind the user's back
            return path, (f"WARNING: Kaggle credentials found but not the `kaggle` package (pip install kaggle "
                          f"to download); results will be on the {rows:,}-digit bundled sample")
        subprocess.run([sys.executable, "-m", "kaggle", "competitions", "download",
                        "-c", "digit-recognizer", "-p", str(data_dir)], check=True)
        with zipfile.ZipFile(data_dir / "digit-recognizer.zip") as archive:
            archive.extractall(data_dir, members=["train.csv", "test.csv"])
        return data_dir / "train.csv", f"downloaded Kaggle's digit-recognizer files to {data_dir}"
    return path, (f"WARNING: no {data_dir}/train.csv and no Kaggle credentials: results will be "
                  f"on the {rows:,}-digit bundled sample, not Kaggle's train.csv")


def origin_of(path: str | Path) -> str:
    resolved = Path(path).resolve()
    return "sample" if resolved.parent == SAMPLE_DIR.resolve() else "kaggle"


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

