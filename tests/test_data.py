import gzip

import numpy as np
import pytest
from conftest import SAMPLE_TEST, SAMPLE_TRAIN, write

from mnist_assignment import data
from mnist_assignment.data import DataError, load_digits


def cells(line):
    return line.split(",")


def with_cell(lines, row, column, value):
    """Copy of lines with data row `row` (1-based), column index `column` set to value."""
    out = list(lines)
    parts = cells(out[row])
    parts[column] = value
    out[row] = ",".join(parts)
    return out


def test_sample_loads_with_types_and_shapes(sample):
    images, labels = sample
    assert images.dtype == np.uint8 and images.shape == (8000, 784)
    assert labels.dtype == np.int64 and labels.shape == (8000,)
    assert set(np.unique(labels)) == set(range(10))
    test_images, test_labels = load_digits(SAMPLE_TEST, kind="test")
    assert test_images.shape == (2000, 784) and test_labels is None


def test_values_match_the_text(tmp_path, sample_lines):
    images, labels = load_digits(write(tmp_path / "t.csv", sample_lines))
    first = [int(v) for v in cells(sample_lines[1])]
    assert labels[0] == first[0]
    assert images[0].tolist() == first[1:]


def test_columns_in_another_order_are_reordered_by_name(tmp_path, sample_lines):
    rows = [cells(line) for line in sample_lines]
    order = [0, *range(784, 0, -1)]  # label first, pixels reversed
    shuffled = [",".join(r[i] for i in order) for r in rows]
    a, la = load_digits(write(tmp_path / "a.csv", sample_lines))
    b, lb = load_digits(write(tmp_path / "b.csv", shuffled))
    assert np.array_equal(a, b) and np.array_equal(la, lb)


def test_bom_crlf_and_trailing_blank_lines_are_fine(tmp_path, sample_lines):
    path = tmp_path / "w.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(sample_lines).encode() + b"\r\n\r\n")
    images, labels = load_digits(path)
    assert images.shape == (20, 784)


def test_gzip_is_read(tmp_path, sample_lines):
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(("\n".join(sample_lines) + "\n").encode()))
    assert load_digits(path)[0].shape == (20, 784)


def expect(path, message, kind=None):
    with pytest.raises(DataError) as info:
        load_digits(path, kind=kind)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(str(path) + ":")
    assert message in text, text
    return text


@pytest.mark.parametrize(
    "row, column, value, message",
    [
        (8, 401, "256", "row 8, column pixel400: value 256 is outside 0..255"),
        (3, 1, "-1", "row 3, column pixel0: value -1 is outside 0..255"),
        (5, 0, "10", "row 5, column label: value 10 is outside 0..9"),
        (2, 100, "", "row 2, column pixel99: blank cell"),
        (4, 10, "1.5", "row 4, column pixel9: value 1.5 is not a whole number: pixels must be whole numbers "
                       "0..255, not scaled"),
        (6, 20, "abc", "row 6, column pixel19: value 'abc' is not a number (whole numbers 0..255)"),
        (7, 0, "", "row 7, column label: blank cell"),
        (3, 0, "2.5", "row 3, column label: value 2.5 is not a whole number: labels are digits 0..9"),
    ],
)
def test_bad_cells_are_named(tmp_path, sample_lines, row, column, value, message):
    expect(write(tmp_path / "train.csv", with_cell(sample_lines, row, column, value)), message)


def test_ragged_rows(tmp_path, sample_lines):
    long = list(sample_lines)
    long[9] += ",0"
    expect(write(tmp_path / "long.csv", long), "row 9 has 786 fields of 785: fix or remove that row")
    short = list(sample_lines)
    short[4] = short[4].rsplit(",", 1)[0]
    expect(write(tmp_path / "short.csv", short), "row 4 has 784 fields of 785: fix that row")


def test_a_file_cut_mid_row_says_it_looks_truncated(tmp_path, sample_lines):
    cut = ",".join(cells(sample_lines[20])[:138])
    expect(write(tmp_path / "cut.csv", sample_lines[:20] + [cut]),
           "row 20 has 138 fields of 785: the file looks truncated; download it again")


def test_a_saved_index_column_and_scaled_pixels_say_what_to_do(tmp_path, sample_lines):
    """What DataFrame.to_csv writes by default (the row numbers first), and pixels divided by 255."""
    indexed = ["," + sample_lines[0]] + [f"{i},{line}" for i, line in enumerate(sample_lines[1:])]
    expect(write(tmp_path / "indexed.csv", indexed),
           "header: the first column is an unnamed index: save the CSV with index=False")
    scaled = [sample_lines[0]] + [",".join([line.split(",")[0], *(f"{int(v) / 255:.4f}" for v in cells(line)[1:])])
                                  for line in sample_lines[1:]]
    text = expect(write(tmp_path / "scaled.csv", scaled), "is not a whole number: pixels must be whole numbers "
                                                          "0..255, not scaled")
    assert text.startswith(f"{tmp_path / 'scaled.csv'}: row 1, column pixel")


def test_the_frame_pandas_reads_is_judged_by_the_same_checks(tmp_path, sample_lines):
    """The notebook's own read (pd.read_csv) and check_values: the messages of load_digits, no second parse."""
    import pandas as pd

    path = write(tmp_path / "train.csv", with_cell(sample_lines, 8, 401, "256"))
    with pytest.raises(DataError, match=r"row 8, column pixel400: value 256 is outside 0\.\.255$"):
        data.check_values(pd.read_csv(path), path)
    good = write(tmp_path / "good.csv", sample_lines)
    frame = pd.read_csv(good)
    assert data.check_values(frame, good) is None  # nothing to say: the notebook goes on
    images, labels = data.arrays(frame)
    expected = load_digits(good)
    assert np.array_equal(images, expected[0]) and np.array_equal(labels, expected[1])


def test_the_check_before_the_read_needs_no_parse(tmp_path, sample_lines, monkeypatch):
    """peek: header, rows and hash in one pass over the bytes; a bad value is left for the read."""
    import pandas as pd

    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: pytest.fail("peek parsed the file"))
    path = write(tmp_path / "train.csv", with_cell(sample_lines, 3, 5, "999"))
    source = data.peek(path)
    assert (source.rows, source.origin, len(source.sha256)) == (20, "kaggle", 64)
    with pytest.raises(DataError, match="missing column label"):
        data.peek(SAMPLE_TEST, kind="train")
    long = list(sample_lines)
    long[9] += ",0"
    with pytest.raises(DataError, match="row 9 has 786 fields of 785"):
        data.peek(write(tmp_path / "long.csv", long))


def test_a_blank_line_inside_is_skipped_as_pandas_skips_it(tmp_path, sample_lines):
    lines = sample_lines[:5] + [""] + sample_lines[5:]
    images, labels = load_digits(write(tmp_path / "gap.csv", lines))
    assert images.shape == (20, 784) and data.peek(tmp_path / "gap.csv").rows == 20


def test_header_problems(tmp_path, sample_lines):
    header = cells(sample_lines[0])
    dup = [",".join(header[:-1] + ["pixel5"])] + sample_lines[1:]
    expect(write(tmp_path / "dup.csv", dup), "header: column pixel5 appears twice")
    missing = [",".join(header[:-1])] + [line.rsplit(",", 1)[0] for line in sample_lines[1:]]
    expect(write(tmp_path / "missing.csv", missing), "header: missing column pixel783")
    extra = [sample_lines[0] + ",colour"] + [line + ",0" for line in sample_lines[1:]]
    expect(write(tmp_path / "extra.csv", extra), "header: unexpected column colour")


@pytest.mark.parametrize("kind", ["train", "test", None])
def test_a_file_without_its_header_is_named_as_such(tmp_path, sample_lines, kind):
    """Saved with header=False: line 1 is a row of numbers, not a header whose columns repeat."""
    rows = sample_lines[1:] if kind != "test" else [line.split(",", 1)[1] for line in sample_lines[1:]]
    path = write(tmp_path / f"{kind or 'digits'}.csv", rows)
    text = expect(path, "line 1 is data, not a header", kind=kind)
    wanted = "test" if kind == "test" else "train"  # kind None: told by the row's width (785: a train file)
    header = '"pixel0,...,pixel783"' if wanted == "test" else '"label,pixel0,...,pixel783"'
    assert text == f"{path}: line 1 is data, not a header: a Kaggle {wanted}.csv starts with {header}"
    odd = write(tmp_path / "odd.csv", [",".join(cells(line)[:10]) for line in sample_lines[1:]])
    assert expect(odd, "line 1 is data").endswith('a Kaggle train.csv starts with "label,pixel0,...,pixel783", '
                                                  'a test.csv with "pixel0,...,pixel783"')


def test_kind_mismatch(tmp_path):
    expect(SAMPLE_TEST, "missing column label", kind="train")
    expect(SAMPLE_TRAIN, "unexpected column label", kind="test")


def test_not_a_csv(tmp_path):
    html = tmp_path / "train.csv"
    html.write_text("<!DOCTYPE html><html><body>Please sign in</body></html>")
    expect(html, "HTML/XML page, not a CSV")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(bytes(range(256)) * 10)
    expect(binary, "binary data, not a CSV")
    other = tmp_path / "other.csv"
    other.write_text("name,age\nada,36\n")
    expect(other, "not a digit-recognizer CSV")
    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n")
    expect(empty, "empty file")
    header_only = tmp_path / "header.csv"
    header_only.write_text(gzip.decompress(SAMPLE_TRAIN.read_bytes()).decode().split("\n")[0] + "\n")
    expect(header_only, "no data rows")
    expect(tmp_path / "nope.csv", "no such file")


def test_gzip_integrity(tmp_path):
    truncated = tmp_path / "train.csv.gz"
    truncated.write_bytes(SAMPLE_TRAIN.read_bytes()[:50_000])
    expect(truncated, "corrupt gzip data")
    fake = tmp_path / "fake.csv.gz"
    fake.write_text("label,pixel0\n")
    expect(fake, "not gzip data")


def test_the_leakage_count_is_about_the_notebooks_own_split(nb, sample):
    """data.problems says which copies cross the 80/20 split without loading torch: the rows it takes for
    validation are those of the notebook's split_data."""
    import torch

    images, labels = sample[0][:2000], sample[1][:2000]
    for seed in (0, 1):
        rows = data.validation_rows(labels, seed=seed)
        _, val_set, (mean, std) = nb.split_data(images, labels, seed)
        assert torch.equal(val_set.tensors[0].cpu(), nb.normalise(images[rows], mean, std))  # the same rows, in order
