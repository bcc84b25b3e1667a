"""model.pt written by train and read by predict: round trip, and every bad file refused in one line."""

import contextlib
import io
import os
import pickle
import subprocess
import sys
import zipfile

import pytest
import torch
from conftest import SAMPLE_TEST
from torch import nn

from mnist_assignment.checkpoints import (
    MAX_BYTES,
    CheckpointError,
    config_to_dict,
    load_checkpoint,
    save_checkpoint,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny(nb):
    """A small model with every option the checkpoint must carry: widths, dropout, a norm layer."""
    return nb.Config(hidden=(32, 16), dropout=0.1, norm=nn.LayerNorm, epochs=1, batch_size=128, momentum=0.9,
                     lr=0.05, seed=3)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, small_split, nb, tiny):
    model, _ = nb.train(tiny, small_split.train_set, nb.make_loader(small_split.val_set, 1000))
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    save_checkpoint(path, model, tiny, small_split.mean, small_split.std)
    return path, model


def refused(path) -> str:
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and "\x1b" not in message and str(path) in message
    return message


def test_round_trip_and_bad_cases(tmp_path, small_split, saved, tiny):
    path, model = saved
    loaded, config, mean, std = load_checkpoint(path)
    assert config == config_to_dict(tiny) and (mean, std) == (small_split.mean, small_split.std)
    assert [type(m) for m in loaded] == [type(m) for m in model.modules() if not list(m.children())]
    assert not loaded.training
    model.eval()
    x = small_split.x_val[:10].cpu()
    assert torch.equal(loaded(x), model.cpu()(x))
    assert "no such checkpoint" in refused(tmp_path / "missing.pt")
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(path.read_bytes()[:2000])
    assert "truncated or corrupt" in refused(truncated)
    blob = torch.load(path, weights_only=True)
    assert blob["layers"][:3] == [["Flatten"], ["Linear", 784, 32], ["LayerNorm", 32]]
    blob["layers"][1] = ["Linear", 784, 64]
    mismatched = tmp_path / "mismatch.pt"
    torch.save(blob, mismatched)
    assert "do not match the layers" in refused(mismatched)
    # layers of 17 GB declared beside 0.1 MB of weights: refused without allocating them
    blob["layers"] = [[kind, *(65536 if a in (16, 32, 64) else a for a in args)] for kind, *args in blob["layers"]]
    torch.save(blob, mismatched)
    assert "do not match the layers (Error(s) in loading state_dict for Sequential: size mismatch for 1.weight: " \
        "copying a param with shape torch.Size([32, 784])" in refused(mismatched)
    for layer, problem in [(["system", "rm -rf"], "a layer must be one of Flatten, Linear"),
                           (["Dropout", 1.5], "dropout probability has to be between 0 and 1, but got 1.5"),
                           (["Linear", 784, -1], "Trying to create tensor with negative dimension -1"),
                           (["ReLU", "x"], "ReLU takes numbers, got ['x']"),
                           ([["ReLU"]], "a layer must be one of")]:
        blob = torch.load(path, weights_only=True)
        blob["layers"][2] = layer
        torch.save(blob, mismatched)
        assert f"bad layers in checkpoint ({problem}" in refused(mismatched)


def test_loading_a_checkpoint_runs_no_notebook_code(saved):
    path, _ = saved
    code = ("import sys\nfrom mnist_assignment.checkpoints import load_checkpoint\n"
            f"model = load_checkpoint({str(path)!r})[0]\n"
            "print(len(model), sorted(m for m in sys.modules if 'notebook' in m))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == [str(len(torch.load(path, weights_only=True)["layers"])), "[]"], out.stderr


@pytest.mark.parametrize("norm", [None, nn.BatchNorm1d])
def test_a_model_comes_back_as_it_computes(tmp_path, nb, norm):
    """Every kind of layer the notebook's MLP can hold, BatchNorm's running statistics included."""
    model = nb.MLP((12, 8), dropout=0.2, norm=norm)
    model.train()
    model(torch.randn(64, 784))  # moves BatchNorm's running statistics away from their start
    save_checkpoint(tmp_path / "m.pt", model, nb.Config(hidden=(12, 8), dropout=0.2, norm=norm), 0.1, 0.3)
    assert model.training  # saving left the model as it was
    loaded, config, _, _ = load_checkpoint(tmp_path / "m.pt")
    model.eval()
    x = torch.randn(5, 784)
    assert torch.equal(loaded(x), model(x))
    assert config["norm"] == (None if norm is None else "BatchNorm1d") and config["hidden"] == [12, 8]
    assert all(isinstance(v, (int, float, str, list, type(None))) for v in config.values())


class Residual(nn.Module):
    """Layers of the kinds a checkpoint holds, but not applied one after the other."""

    def __init__(self, act=None):
        super().__init__()
        self.first, self.act, self.last = nn.Linear(784, 784), act or nn.ReLU(), nn.Linear(784, 10)

    def forward(self, x):
        return self.last(x + self.act(self.first(x)))


def test_a_model_its_layers_do_not_rebuild_is_not_saved(tmp_path, nb):
    for model, problem in [(Residual(), "computes something other than its layers in order"),
                           (Residual(nn.GELU()), "a checkpoint holds only Flatten, Linear, LayerNorm, BatchNorm1d, "
                                                 "ReLU, Dropout layers, not GELU")]:
        with pytest.raises(ValueError, match=problem):
            save_checkpoint(tmp_path / "m.pt", model, nb.Config(), 0.1, 0.3)
        assert not (tmp_path / "m.pt").exists()


@contextlib.contextmanager
def repacked(source, target):
    """A deflated copy of the checkpoint source at target, open for more members."""
    # compresslevel 1: the fastest, and a gigabyte of zeros still packs into a few MB
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info))
        yield out


def test_a_zip_bomb_is_refused_before_anything_is_unpacked(tmp_path, saved):
    """A few MB of zeros declaring gigabytes: refused from the zip directory alone (fast, no memory)."""
    path, _ = saved
    bomb = tmp_path / "bomb.pt"
    with repacked(path, bomb) as out, out.open("archive/data/99", "w", force_zip64=True) as member:
        chunk = bytes(1 << 24)
        for _ in range(MAX_BYTES // len(chunk) + 1):
            member.write(chunk)
    assert bomb.stat().st_size < 10_000_000
    message = refused(bomb)
    assert "refused before loading" in message and "unpacks to 1,090" in message


def test_a_compressed_checkpoint_far_beyond_its_size_is_refused(tmp_path, saved):
    """Smaller than the absolute cap, but packed 10:1: torch.save never writes that."""
    path, _ = saved
    packed = tmp_path / "packed.pt"
    with repacked(path, packed) as out:
        out.writestr("archive/data/99", bytes(20_000_000))
    assert "refused before loading" in refused(packed)


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_checkpoint_holding_code_is_refused_as_such(tmp_path, saved):
    path, _ = saved
    for name, obj in [("code.pt", {"config": {}, "state_dict": Payload()}), ("object.pt", io.BytesIO(b"x"))]:
        target = tmp_path / name
        torch.save(obj, target)
        message = refused(target)
        assert "holds code or whole Python objects" in message, message
        assert "weights_only" not in message and "truncated" not in message and "trust" not in message
    legacy = tmp_path / "legacy.pt"  # a plain pickle, not torch's zip format
    legacy.write_bytes(pickle.dumps(Payload()))
    assert "holds code" in refused(legacy) or "truncated or corrupt" in refused(legacy)


def test_predict_says_the_checkpoint_holds_code_in_one_line_exit_2(tmp_path):
    target = tmp_path / "code.pt"
    torch.save({"state_dict": Payload()}, target)
    result = subprocess.run([sys.executable, "-m", "mnist_assignment", "predict", "--checkpoint", str(target),
                             "--data", str(SAMPLE_TEST), "--out", str(tmp_path / "s.csv")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "holds code" in result.stderr and "\x1b" not in result.stderr
    assert not (tmp_path / "s.csv").exists() and "pwned" not in result.stdout


def test_memory_advice_fits_the_command():
    from mnist_assignment.cli import one_line

    assert "--hidden" not in one_line(MemoryError(), "predict") and "predict" in one_line(MemoryError(), "predict")
    assert "--hidden" in one_line(RuntimeError("DefaultCPUAllocator: can't allocate memory"), "train")
