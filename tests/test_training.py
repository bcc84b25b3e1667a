import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from mnist_assignment import training
from mnist_assignment.augment import (
    ShiftedViews,
    as_it_predicts,
    elastic_distort,
    make_augment,
    random_shift,
    shifted_views,
)
from mnist_assignment.config import BASELINE, TrainConfig
from mnist_assignment.loader import Split
from mnist_assignment.models import (
    CNN,
    MLP,
    build_model,
    conv_block,
    count_parameters,
    describe_device,
    multiply_adds,
    pick_device,
)
from mnist_assignment.training import History, evaluate, flush_denormals, predict, run, train

TINY = replace(BASELINE, hidden=(32, 16), epochs=2, batch_size=128, optimizer="momentum", lr=0.05)


def fit(cfg: TrainConfig, split, log=None) -> History:
    """One run as its config asks (training.run), its history only."""
    return run(cfg, split, log=log)[1]


def numbers(history: History) -> list[dict]:
    """A history's per-epoch numbers without the wall times, which differ between any two runs."""
    return [{k: v for k, v in e.items() if k != "seconds"} for e in history.epochs]


def test_mlp_shapes_order_and_parameter_count():
    model = MLP(replace(BASELINE, hidden=(256, 128), dropout=0.2, layernorm=True))
    assert model(torch.zeros(5, 784)).shape == (5, 10)
    block = model.hidden[0]
    kinds = [type(m).__name__ for m in block]
    assert kinds == ["Linear", "LayerNorm", "ReLU", "Dropout"]
    plain = MLP(replace(BASELINE, hidden=(256, 128)))
    assert [type(m).__name__ for m in plain.hidden[0]] == ["Linear", "ReLU"]  # only what the config asks for
    batchnorm = MLP(replace(BASELINE, batchnorm=True, dropout=0.1))
    assert [type(m).__name__ for m in batchnorm.hidden[1]] == ["Linear", "BatchNorm1d", "ReLU", "Dropout"]
    assert batchnorm.hidden[1][0].bias is None  # BatchNorm's shift takes the bias's place
    assert count_parameters(plain) == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    assert "LayerNorm" in repr(model)


def test_cnn_shapes():
    cfg = TrainConfig(model="cnn", channels=(8, 16), hidden=(32,), batchnorm=True)
    model = build_model(cfg)
    assert isinstance(model, CNN)
    assert model(torch.zeros(3, 784)).shape == (3, 10)
    assert model.hidden[0][0].in_features == 16 * 7 * 7


def test_a_conv_block_normalises_the_pooled_maps():
    block = conv_block(3, 4, TrainConfig(model="cnn", batchnorm=True))
    conv, pool, norm, relu = block
    x = torch.randn(5, 3, 8, 8)
    pooled = nn.functional.max_pool2d(conv(x), 2)
    mean = pooled.mean((0, 2, 3), keepdim=True)
    var = pooled.var((0, 2, 3), unbiased=False, keepdim=True)
    expected = ((pooled - mean) / torch.sqrt(var + norm.eps)).relu()  # the fresh BatchNorm's scale 1, shift 0
    assert torch.allclose(block(x), expected, atol=1e-5)
    # its running statistics are those of the 4x4 pooled maps, not of the 8x8 convolution output
    assert torch.allclose(norm.running_mean, 0.1 * mean.flatten(), atol=1e-6)


def test_without_batchnorm_a_conv_block_has_the_numbers_of_relu_then_pool():
    block = conv_block(3, 4, TrainConfig(model="cnn"))
    conv = block[0]
    x = torch.randn(5, 3, 8, 8)
    usual = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2))  # the textbook order: max and ReLU commute
    grads = []
    for net in (block, usual):
        out = net(x)
        conv.weight.grad = None
        out.square().sum().backward()
        grads.append((out.detach(), conv.weight.grad.clone()))
    for ours, theirs in zip(*grads, strict=True):
        assert torch.equal(ours, theirs)


def test_multiply_adds_per_image():
    assert multiply_adds(BASELINE) == 784 * 128 + 128 * 64 + 64 * 10
    cnn = TrainConfig(model="cnn", channels=(8, 16), hidden=(32,))
    convs = 28 * 28 * 8 * 1 * 9 + 14 * 14 * 16 * 8 * 9  # padding 1 keeps each side until the pool
    assert multiply_adds(cnn) == convs + 16 * 7 * 7 * 32 + 32 * 10
    # the model it describes: the flattened width after the pools is the first hidden layer's input
    assert build_model(cnn).hidden[0][0].in_features == 16 * 7 * 7


def test_dropout_drops_its_share_and_its_masks_follow_the_seed():
    """nn.Dropout draws from the global RNG, which train seeds with the run's seed."""
    model = MLP(replace(BASELINE, dropout=0.3))
    dropout = model.hidden[0][2]
    assert isinstance(dropout, nn.Dropout) and dropout.p == 0.3
    dropped = (dropout(torch.ones(10_000)) == 0).float().mean().item()
    assert abs(dropped - 0.3) < 0.02
    x = torch.randn(4, 784)
    torch.manual_seed(5)
    first = model(x)
    torch.manual_seed(5)
    assert torch.equal(first, model(x))
    assert not torch.equal(first, model(x))  # the stream moved on: other masks


def test_bad_configs_are_refused():
    for bad in [dict(optimizer="rmsprop"), dict(dropout=1.0), dict(hidden=()), dict(lr=0),
                dict(layernorm=True, batchnorm=True), dict(batch_size=0), dict(tta=-1), dict(tta=4),
                dict(elastic=-1.0), dict(elastic=math.nan), dict(elastic=101.0)]:
        with pytest.raises(ValueError):
            replace(BASELINE, **bad)
    with pytest.raises(ValueError, match="unknown config"):
        TrainConfig.from_dict({"lr": 0.1, "colour": "red"})


def test_eval_mode_is_deterministic_with_dropout():
    model = MLP(replace(BASELINE, dropout=0.5))
    x = torch.randn(8, 784)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def test_device_pick_falls_back_to_cpu_and_prefers_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device().type == "cpu"
    assert "cpu" in describe_device(pick_device())
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pick_device().type == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device().type == "cuda"


def test_short_run_learns_and_history_is_plain_data(small_split):
    history = fit(replace(TINY, epochs=3), small_split)
    losses = [e["train_loss"] for e in history.epochs]
    assert losses[-1] < losses[0]
    assert history.final["val_acc"] > 0.75
    assert all(e["seconds"] > 0 for e in history.epochs)
    again = History.from_json(history.to_json())
    assert again == history
    assert json.loads(history.to_json())["epochs"][0]["epoch"] == 1


def test_can_overfit_64_samples(small_split):
    x, y = small_split.x_train[:64], small_split.y_train[:64]

    tiny = Split(x, y, x, y, small_split.mean, small_split.std, np.arange(64))
    cfg = replace(BASELINE, hidden=(128, 64), optimizer="adam", lr=1e-3, batch_size=16, epochs=60)
    history = fit(cfg, tiny)
    assert history.final["train_acc"] == 1.0
    assert history.final["val_loss"] < 0.05


def test_identical_history_on_rerun(small_split):
    a = fit(replace(TINY, dropout=0.2), small_split)
    b = fit(replace(TINY, dropout=0.2), small_split)
    strip = [{k: v for k, v in e.items() if k != "seconds"} for e in a.epochs]
    assert strip == [{k: v for k, v in e.items() if k != "seconds"} for e in b.epochs]
    assert [e["train_loss"].hex() for e in a.epochs] == [e["train_loss"].hex() for e in b.epochs]
    c = fit(replace(TINY, dropout=0.2, seed=1), small_split)
    assert c.epochs[0]["train_loss"] != a.epochs[0]["train_loss"]


def test_divergence_is_a_result(small_split):
    history = fit(replace(TINY, lr=1e4, epochs=5), small_split)
    assert history.diverged
    assert len(history.epochs) < 5
    History.from_json(history.to_json())
    nan_run = fit(replace(TINY, lr=1e6, epochs=3), small_split)
    assert nan_run.diverged and nan_run.final["train_loss"] is None  # NaN stored as null: valid JSON
    assert nan_run.final["val_acc"] is None


def test_early_stopping_restores_best_weights(small_split):
    cfg = replace(TINY, optimizer="adam", lr=3e-3, hidden=(256, 256), epochs=40, patience=2)
    model, history = run(cfg, small_split)
    assert history.stopped_early and len(history.epochs) < 40
    best = min(history.epochs, key=lambda e: e["val_loss"])
    assert history.best_epoch == best["epoch"]
    loss, _ = evaluate(model, small_split.x_val, small_split.y_val)
    assert math.isclose(loss, best["val_loss"], rel_tol=1e-5)


def test_iteration_log(small_split):
    history = fit(replace(TINY, log_every=5), small_split)
    steps_per_epoch = -(-len(small_split.y_train) // TINY.batch_size)
    assert [r["iteration"] for r in history.iterations] == list(range(5, 2 * steps_per_epoch + 1, 5))
    assert all(r["train_loss"] > 0 for r in history.iterations)


def test_verbose_prints_one_line_per_epoch(small_split, capsys, monkeypatch):
    monkeypatch.setenv("CI", "true")
    fit(TINY, small_split, log=print)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch   1/2") and "val loss" in lines[0]


def test_progress_bars_do_not_change_the_numbers(small_split, monkeypatch):
    cfg = replace(TINY, epochs=2)
    quiet = fit(cfg, small_split)
    monkeypatch.setattr(training, "show_bars", lambda: True)  # as in Jupyter: tqdm.auto's bars
    watched = fit(cfg, small_split, log=print)

    assert numbers(watched) == numbers(quiet)


def test_flush_denormals_zeroes_tiny_floats_only_inside():
    tiny = torch.tensor([1e-39])  # below float32's smallest normal number, 1.2e-38
    with flush_denormals():
        assert (tiny * 1.0).item() == 0.0
        assert (torch.tensor([1e-37]) * 1.0).item() == pytest.approx(1e-37)  # normal floats untouched
    assert (tiny * 1.0).item() == pytest.approx(1e-39)  # restored on the way out


def test_random_shift_moves_digits_within_bounds():
    x = torch.zeros(4, 784)
    x[:, 14 * 28 + 14] = 1.0
    gen = torch.Generator().manual_seed(0)
    shifted = random_shift(x, 2, 0.0, gen)
    assert shifted.shape == x.shape and torch.all(shifted.sum(1) == 1)
    rows, cols = shifted.nonzero()[:, 1] // 28, shifted.nonzero()[:, 1] % 28
    assert torch.all((rows - 14).abs() <= 2) and torch.all((cols - 14).abs() <= 2)


def blob(blank: float) -> torch.Tensor:
    """Two images: a filled 8x8 square at the centre (1.0) on blank, and blank alone."""
    x = torch.full((2, 28, 28), blank)
    x[0, 10:18, 10:18] = 1.0
    return x.view(2, 784)


def test_elastic_distortion_bends_a_digit_but_keeps_it_in_place():
    blank = -0.42
    x = blob(blank)
    same = elastic_distort(x, 0.0, blank, torch.Generator().manual_seed(0))
    assert torch.allclose(same, x, atol=1e-5)  # strength 0: every pixel samples itself
    bent = elastic_distort(x, 15.0, blank, torch.Generator().manual_seed(0))
    assert bent.shape == x.shape
    assert torch.equal(bent, elastic_distort(x, 15.0, blank, torch.Generator().manual_seed(0)))  # the run's own stream
    assert not torch.equal(bent, elastic_distort(x, 15.0, blank, torch.Generator().manual_seed(1)))
    assert torch.allclose(bent[1], torch.full((784,), blank), atol=1e-5)  # nothing comes from nowhere
    assert (bent[0] - x[0]).abs().max() > 0.5  # the square's edges moved
    ink, moved = x[0] - blank, bent[0] - blank
    assert abs(moved.sum() / ink.sum() - 1) < 0.15  # bent, not erased or smeared over the image
    pos = torch.arange(28.0)
    for axis in (0, 1):  # the centre of mass stays within two pixels
        profile_x, profile_m = ink.view(28, 28).sum(axis), moved.view(28, 28).sum(axis)
        assert abs((profile_m @ pos) / profile_m.sum() - (profile_x @ pos) / profile_x.sum()) < 2


def test_the_augmentation_is_none_only_when_shift_and_elastic_are_off():
    assert make_augment(TINY, -0.42) is None
    x = blob(-0.42)
    elastic = make_augment(replace(TINY, elastic=15.0), -0.42)
    assert not torch.equal(elastic(x), x)
    both = make_augment(replace(TINY, elastic=15.0, shift=2), -0.42)
    again = make_augment(replace(TINY, elastic=15.0, shift=2), -0.42)
    assert torch.equal(both(x), again(x))  # seeded from the config, like every other random choice of a run


def test_shifted_views_move_every_pixel_by_each_offset_and_fill_with_blank():
    x = torch.arange(2 * 784, dtype=torch.float32).view(2, 784)
    views = list(shifted_views(x, 1, -7.0))
    assert len(views) == 9
    image = x.view(2, 28, 28)
    for (dy, dx), view in zip([(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)], views, strict=True):
        view = view.view(2, 28, 28)
        for i in (0, 13, 27):  # the pixel (i, j) of a view is (i + dy, j + dx) of the image, or blank
            for j in (0, 14, 27):
                inside = 0 <= i + dy < 28 and 0 <= j + dx < 28
                expected = image[:, i + dy, j + dx] if inside else torch.full((2,), -7.0)
                assert torch.equal(view[:, i, j], expected), (dy, dx, i, j)
    assert torch.equal(views[4], x)  # the middle one is the image itself


def test_test_time_shifts_predict_from_the_mean_softmax_over_the_views(small_split):
    torch.manual_seed(0)
    model = MLP(replace(BASELINE, hidden=(32,))).eval()
    x, y = small_split.x_val[:50], small_split.y_val[:50]
    with torch.no_grad():
        mean_probs = torch.stack([model(v).softmax(1) for v in shifted_views(x, 1, small_split.blank)]).mean(0)
    cfg = replace(BASELINE, tta=1)
    views = as_it_predicts(model, cfg, small_split.blank)
    assert isinstance(views, ShiftedViews) and as_it_predicts(model, BASELINE, small_split.blank) is model
    labels = predict(views, x)
    assert torch.equal(labels, mean_probs.argmax(1))
    assert not torch.equal(labels, predict(model, x))  # an untrained model: the views disagree
    loss, acc = evaluate(views, x, y)
    assert math.isclose(loss, nn.functional.nll_loss(mean_probs.log(), y).item(), rel_tol=1e-5)
    assert acc == (labels == y).sum().item() / len(y)


def test_a_run_with_test_time_shifts_records_its_accuracy_with_them(small_split):
    cfg = replace(TINY, model="cnn", channels=(4, 8), hidden=(16,), epochs=1, tta=1)
    model, history = run(cfg, small_split)
    views = as_it_predicts(model, cfg, small_split.blank)
    assert history.tta_val_acc == evaluate(views, small_split.x_val, small_split.y_val)[1]
    assert history.accuracy == history.tta_val_acc
    assert History.from_json(history.to_json()).tta_val_acc == history.tta_val_acc
    plain = fit(replace(cfg, tta=0), small_split)
    assert plain.tta_val_acc is None and plain.accuracy == plain.final["val_acc"]
    assert numbers(plain) == numbers(history)  # the shifts change the final prediction only, not the training


def test_the_loop_uses_the_helpers_it_is_handed(small_split):
    seen, losses = [], []

    def augment(xb):
        seen.append(len(xb))
        return xb

    model, history = train(TINY, small_split, augment=augment, on_step=losses.append)
    n = len(small_split.y_train)
    assert len(seen) == len(losses) == TINY.epochs * -(-n // TINY.batch_size) and sum(seen) == TINY.epochs * n
    assert all(loss.dim() == 0 for loss in losses)
    assert numbers(history) == numbers(fit(TINY, small_split))  # an augmentation that changes nothing


def test_a_run_hands_the_loop_what_its_config_asks_for(small_split):
    handed = []

    def loop(cfg, split, augment=None, stopper=None, on_step=None, log=None):
        handed.append((augment, stopper, on_step, log))
        return train(cfg, split, augment, stopper, on_step, log)

    run(TINY, small_split, train=loop)
    assert handed.pop() == (None, None, None, None)
    _, history = run(replace(TINY, shift=1, patience=3, log_every=4, epochs=1), small_split, train=loop, log=print)
    augment, stopper, on_step, log = handed.pop()
    assert callable(augment) and isinstance(stopper, training.EarlyStopping) and stopper.patience == 3
    assert isinstance(on_step, training.IterationLog) and log is print
    assert history.iterations == on_step.rows and history.iterations[0]["iteration"] == 4


def test_evaluation_in_batches_gives_the_numbers_of_one_pass(small_split):
    torch.manual_seed(0)
    model = MLP(replace(BASELINE, hidden=(32,), batchnorm=True))
    x, y = small_split.x_val, small_split.y_val
    loss, acc = evaluate(model, x, y)
    whole_loss, whole_acc = evaluate(model, x, y, batch_size=len(y))
    assert acc == whole_acc and math.isclose(loss, whole_loss, rel_tol=1e-5)
    with torch.no_grad():
        assert acc == (model(x).argmax(1) == y).sum().item() / len(y) and not model.training
