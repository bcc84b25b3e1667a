import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLE_TEST, SAMPLE_TRAIN, write

from mnist_assignment.cli import main


def run(*args):
    """The real command in a process of its own, as a user types it."""
    return subprocess.run([sys.executable, "-m", "mnist_assignment", *map(str, args)],
                          capture_output=True, text=True)


def test_check_data_accepts_a_good_file(cli):
    result = cli("check-data", SAMPLE_TRAIN, "--kind", "train")
    assert result.returncode == 0, result.stderr
    assert "rows: 8,000" in result.stdout and "class counts" in result.stdout
    # the hash the cache key computed, printed without reading the file a second time
    assert f"sha256: {hashlib.sha256(Path(SAMPLE_TRAIN).read_bytes()).hexdigest()}" in result.stdout


def test_check_data_rejects_a_bad_file_in_one_line(tmp_path, sample_lines):
    """A real process: exit status 2 and one line on stderr, no traceback."""
    lines = list(sample_lines)
    parts = lines[8].split(",")
    parts[401] = "256"
    lines[8] = ",".join(parts)
    path = write(tmp_path / "train.csv", lines)
    result = run("check-data", path, "--kind", "train")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == f"error: {path}: row 8, column pixel400: value 256 is outside 0..255"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("argv", [
    ["check-data"],
    ["check-data", "x.csv", "--kind", "both"],
    ["train", "--data", "x.csv"],
    ["frobnicate"],
])
def test_bad_arguments_exit_2_in_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1


def test_train_then_predict_writes_kaggle_files(tmp_path, cli):
    out = tmp_path / "run"
    result = cli("train", "--data", SAMPLE_TRAIN, "--out", out, "--epochs", "2",
                 "--hidden", "32", "16", "--batch-size", "128")
    assert result.returncode == 0, result.stderr
    assert "bundled sample" in result.stdout
    history = json.loads((out / "history.json").read_text())
    assert [e["epoch"] for e in history["epochs"]] == [1, 2]
    assert set(history["epochs"][0]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc",
                                         "seconds"}
    assert history["config"]["hidden"] == [32, 16]
    assert result.stdout.count("epoch ") >= 2 and "done:" in result.stdout
    sub = tmp_path / "submission.csv"
    result = cli("predict", "--model", out / "model.pt", "--data", SAMPLE_TEST, "--out", sub)
    assert result.returncode == 0, result.stderr
    with open(sub) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["ImageId", "Label"]
    assert len(rows) == 2001
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 2001))
    assert all(0 <= int(r[1]) <= 9 for r in rows[1:])
    # a train file is not a test file; a missing model is one clean line
    bad = cli("predict", "--model", out / "model.pt", "--data", SAMPLE_TRAIN, "--out", sub)
    assert bad.returncode == 2 and "unexpected column label" in bad.stderr
    missing = cli("predict", "--model", tmp_path / "none.pt", "--data", SAMPLE_TEST, "--out", sub)
    assert missing.returncode == 2 and "no such checkpoint" in missing.stderr
    assert "Traceback" not in bad.stderr + missing.stderr


def test_flags_override_the_preset():
    from mnist_assignment.cli import build_parser, config_from_args

    args = build_parser().parse_args(["train", "--data", "d", "--out", "o", "--preset", "best-mlp",
                                      "--lr", "0.5", "--epochs", "3"])
    cfg = config_from_args(args)
    assert cfg.lr == 0.5 and cfg.epochs == 3 and cfg.hidden == (1024, 1024)


def test_sweep_prints_the_summary_table(tmp_path, cli, small_train_csv):
    result = cli("sweep", "regularization", "--data", small_train_csv, "--seeds", "1", "--epochs", "1",
                 "--out", tmp_path / "results", "--workers", "2")
    assert result.returncode == 0, result.stderr
    # four runs on two workers, one progress line each as it finishes
    assert "training 4 runs for 4 results on 2 workers" in result.stdout
    progress = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert [line.split()[0] for line in progress] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert all(line.split()[1] == "regularization" and " val acc " in line for line in progress)
    assert "final val acc %" in result.stdout
    assert "dropout 0.2 + LayerNorm" in result.stdout
    assert len(list((tmp_path / "results" / "regularization").glob("*.json"))) == 4
    bad = cli("sweep", "colour", "--data", SAMPLE_TRAIN)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_train_numpy_mlp(tmp_path, cli):
    result = cli("train", "--model", "numpy-mlp", "--data", SAMPLE_TRAIN, "--out", tmp_path, "--epochs", "2",
                 "--hidden", "32", "16", "--lr", "0.05")
    assert result.returncode == 0, result.stderr
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["config"]["model"] == "numpy-mlp" and len(history["epochs"]) == 2
    assert history["epochs"][-1]["val_acc"] > 0.8
    assert (tmp_path / "model.npz").exists()
    bad = cli("train", "--model", "numpy-mlp", "--data", SAMPLE_TRAIN, "--out", tmp_path, "--optimizer", "adam")
    assert bad.returncode == 2 and "plain SGD" in bad.stderr


def test_a_cnn_with_test_time_shifts_predicts_with_them(tmp_path, cli, small_train_csv):
    import torch

    from mnist_assignment.augment import as_it_predicts
    from mnist_assignment.checkpoints import load_checkpoint
    from mnist_assignment.data import load_digits
    from mnist_assignment.loader import normalise
    from mnist_assignment.training import predict

    out = tmp_path / "cnn"
    result = cli("train", "--data", small_train_csv, "--out", out, "--preset", "cnn", "--epochs", "1")
    assert result.returncode == 0, result.stderr
    history = json.loads((out / "history.json").read_text())
    assert history["config"]["tta"] == 1 and 0 <= history["tta_val_acc"] <= 1
    assert "with test-time shifts" in result.stdout and "9 shifted views" in result.stdout
    sub = tmp_path / "submission.csv"
    assert cli("predict", "--checkpoint", out / "model.pt", "--data", SAMPLE_TEST, "--out", sub).returncode == 0
    with open(sub) as f:
        written = [int(r[1]) for r in list(csv.reader(f))[1:]]
    model, cfg, mean, std = load_checkpoint(out / "model.pt")
    x = normalise(load_digits(SAMPLE_TEST, kind="test")[0], mean, std)
    with torch.no_grad():
        assert written == predict(as_it_predicts(model, cfg, -mean / std), x).tolist()
        assert written != predict(model, x).tolist()  # one epoch on 2,000 digits: the views change some labels


def test_predict_refuses_to_overwrite_its_inputs(tmp_path, cli, small_train_csv):
    out = tmp_path / "run"
    assert cli("train", "--data", small_train_csv, "--out", out, "--epochs", "1", "--hidden", "16",
               "--batch-size", "256").returncode == 0
    test_copy = tmp_path / "test.csv.gz"
    test_copy.write_bytes(SAMPLE_TEST.read_bytes())
    before = (test_copy.read_bytes(), (out / "model.pt").read_bytes())
    for target in (test_copy, tmp_path / "." / "test.csv.gz", out / "model.pt"):
        result = cli("predict", "--checkpoint", out / "model.pt", "--data", test_copy, "--out", target)
        assert result.returncode == 2 and "refusing to overwrite" in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1
    assert (test_copy.read_bytes(), (out / "model.pt").read_bytes()) == before
    ok = cli("predict", "--checkpoint", out / "model.pt", "--data", test_copy, "--out", tmp_path / "sub.csv")
    assert ok.returncode == 0, ok.stderr


def test_help_and_argument_errors_do_not_load_torch():
    code = ("import sys\nfrom mnist_assignment.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\nmain(['train'])\n"
            "print(sorted(m for m in ('torch', 'sklearn', 'numpy', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert "error:" in out.stderr


def test_a_diverged_model_is_not_served(tmp_path, cli, small_train_csv):
    out = tmp_path / "run"
    trained = cli("train", "--data", small_train_csv, "--out", out, "--epochs", "1", "--hidden", "16", "--lr", "1e9")
    assert trained.returncode == 0 and "DIVERGED" in trained.stdout
    result = cli("predict", "--checkpoint", out / "model.pt", "--data", SAMPLE_TEST, "--out", tmp_path / "s.csv")
    assert result.returncode == 2 and "diverged" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "s.csv").exists()


def test_an_unusable_out_is_refused_before_training(tmp_path, cli):
    afile = tmp_path / "taken"
    afile.write_text("x")
    result = cli("train", "--data", SAMPLE_TRAIN, "--out", afile, "--epochs", "1")
    assert result.returncode == 2 and "is a file" in result.stderr and "epoch" not in result.stdout
    assert afile.read_text() == "x"
