import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLE_TEST, SAMPLE_TRAIN, write

from mnist_assignment.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def run(*args):
    """The real command in a process of its own, as a user types it."""
    return subprocess.run([sys.executable, "-m", "mnist_assignment", *map(str, args)],
                          capture_output=True, text=True)


def test_check_data_accepts_a_good_file(cli):
    result = cli("check-data", SAMPLE_TRAIN, "--kind", "train")
    assert result.returncode == 0, result.stderr
    assert "rows: 8,000" in result.stdout and "class counts" in result.stdout
    # the sha256 of the file it read
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
    ["train", "--data", "x.csv", "--out", "o", "--optimizer", "adamw"],
    ["train", "--data", "x.csv", "--out", "o", "--preset", "cnn"],
    ["train", "--data", "x.csv", "--out", "o", "--lr", "nan", "--dropout", "1"],
    ["sweep", "lr", "--data", "x.csv"],
    ["frobnicate"],
])
def test_bad_arguments_exit_2_in_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1


def test_out_of_range_arguments_are_named_before_any_data_is_read(tmp_path, cli):
    result = cli("train", "--data", tmp_path / "missing.csv", "--out", tmp_path / "o", "--lr", "nan", "--dropout",
                 "1", "--hidden", "0", "8", "--momentum", "0.5", "--optimizer", "adam", "--seed", "-1")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    for message in ("--lr must be positive", "--hidden widths must be in 1..65,536, got 0 8",
                    "--dropout must be in [0, 1)", "--momentum applies to --optimizer sgd only", "--seed must be in"):
        assert message in result.stderr
    assert "missing.csv" not in result.stderr and not (tmp_path / "o").exists()


def test_the_defaults_are_the_notebooks_baseline(nb):
    from mnist_assignment.cli import DEFAULTS, build_parser, config_from_args

    baseline = nb.Config()
    assert DEFAULTS == {k: list(v) if k == "hidden" else v for k, v in vars(baseline).items() if k != "norm"}
    args = build_parser().parse_args(["train", "--data", "d", "--out", "o"])
    assert config_from_args(args, nb) == baseline


def test_train_then_predict_writes_kaggle_files(tmp_path, cli):
    out = tmp_path / "run"
    result = cli("train", "--data", SAMPLE_TRAIN, "--out", out, "--epochs", "2",
                 "--hidden", "32", "16", "--batch-size", "128")
    assert result.returncode == 0, result.stderr
    assert "bundled sample" in result.stdout
    history = json.loads((out / "history.json").read_text())
    assert [e["epoch"] for e in history["epochs"]] == [1, 2] and history["diverged"] is False
    assert set(history["epochs"][0]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"}
    assert history["config"]["hidden"] == [32, 16] and history["config"]["norm"] is None
    assert history["data"]["rows"] == 8000 and history["epochs"][-1]["val_acc"] > 0.5  # chance: 0.1
    assert result.stdout.count("epoch ") >= 2 and "done: 2 epochs" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["history.json", "model.pt"]  # no temp file, no lock
    sub = tmp_path / "submission.csv"
    result = cli("predict", "--checkpoint", out / "model.pt", "--data", SAMPLE_TEST, "--out", sub)
    assert result.returncode == 0, result.stderr
    with open(sub) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["ImageId", "Label"]
    assert len(rows) == 2001
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 2001))
    assert all(0 <= int(r[1]) <= 9 for r in rows[1:])
    assert len({r[1] for r in rows[1:]}) == 10  # a trained model, not a constant answer
    # a train file is not a test file; a missing model is one clean line
    bad = cli("predict", "--checkpoint", out / "model.pt", "--data", SAMPLE_TRAIN, "--out", sub)
    assert bad.returncode == 2 and "unexpected column label" in bad.stderr
    missing = cli("predict", "--checkpoint", tmp_path / "none.pt", "--data", SAMPLE_TEST, "--out", sub)
    assert missing.returncode == 2 and "no such checkpoint" in missing.stderr
    assert "Traceback" not in bad.stderr + missing.stderr


def test_train_runs_the_notebooks_train_with_the_flags_it_is_given(tmp_path, cli, nb, small_train_csv):
    """The command's history and weights are those of the notebook's train(Config(...)) on the same split."""
    import torch

    from mnist_assignment.checkpoints import config_to_dict, load_checkpoint
    from mnist_assignment.data import load_digits

    out = tmp_path / "run"
    flags = ["--epochs", "2", "--hidden", "24", "12", "--dropout", "0.1", "--layernorm", "--optimizer", "adam",
             "--lr", "0.002", "--batch-size", "50", "--seed", "4"]
    result = cli("train", "--data", small_train_csv, "--out", out, *flags)
    assert result.returncode == 0, result.stderr
    cfg = nb.Config(epochs=2, hidden=(24, 12), dropout=0.1, norm=torch.nn.LayerNorm, optimizer="adam", lr=0.002,
                    batch_size=50, seed=4)
    images, labels = load_digits(small_train_csv)
    train_set, val_set, (mean, std), _ = nb.split_data(images, labels)
    model, history = nb.train(cfg, train_set, nb.make_loader(val_set, 1000))
    written = json.loads((out / "history.json").read_text())["epochs"]
    for mine, theirs in zip(written, history, strict=True):
        assert {k: mine[k] for k in ("train_loss", "train_acc", "val_loss", "val_acc")} == \
            {k: theirs[k] for k in ("train_loss", "train_acc", "val_loss", "val_acc")}
    loaded, config, loaded_mean, loaded_std = load_checkpoint(out / "model.pt")
    assert config == config_to_dict(cfg) and (loaded_mean, loaded_std) == (mean, std)
    model.eval()
    x = val_set.tensors[0][:20].cpu()
    assert torch.equal(loaded(x), model.cpu()(x))


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
    trained = cli("train", "--data", small_train_csv, "--out", out, "--epochs", "3", "--hidden", "16", "--lr", "1e9")
    assert trained.returncode == 0 and "DIVERGED" in trained.stdout
    history = json.loads((out / "history.json").read_text())  # plain JSON: null where the numbers blew up
    assert history["diverged"] is True and len(history["epochs"]) < 3
    result = cli("predict", "--checkpoint", out / "model.pt", "--data", SAMPLE_TEST, "--out", tmp_path / "s.csv")
    assert result.returncode == 2 and "diverged" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "s.csv").exists()


def test_an_unusable_out_is_refused_before_training(tmp_path, cli):
    afile = tmp_path / "taken"
    afile.write_text("x")
    result = cli("train", "--data", SAMPLE_TRAIN, "--out", afile, "--epochs", "1")
    assert result.returncode == 2 and "is a file" in result.stderr and "epoch" not in result.stdout
    assert afile.read_text() == "x"
