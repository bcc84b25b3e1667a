"""The notebook's graded code (sections 1-3), run through notebook_code.load(): split, loader, model, loop."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from mnist_assignment import data, stats

pytestmark = pytest.mark.usefixtures("one_thread")
EPOCH_KEYS = {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds", "batch_losses"}
FINAL_KEYS = {"train_loss_eval", "train_acc_eval"}  # the last epoch's: the final model on the training part


def numbers(history):
    """A history without its timings: what must repeat exactly."""
    return [{k: v for k, v in e.items() if k != "seconds"} for e in history]


@pytest.fixture(scope="module")
def val_loader(nb, small_split):
    return nb.make_loader(small_split.val_set, 1000)


def fit(nb, small_split, val_loader, **changes):
    return nb.train(nb.Config(**{"epochs": 2, **changes}), small_split.train_set, val_loader)[1]


def test_a_short_run_learns(nb, small_split, val_loader):
    history = fit(nb, small_split, val_loader)
    assert [e["epoch"] for e in history] == [1, 2]
    assert set(history[0]) == EPOCH_KEYS and set(history[1]) == EPOCH_KEYS | FINAL_KEYS
    assert history[-1]["val_acc"] > 0.7 and history[-1]["train_loss"] < history[0]["train_loss"]  # chance: 0.1
    steps = -(-len(small_split.train_set) // 64)
    assert all(len(e["batch_losses"]) == steps for e in history)
    # 1,600 rows are 25 whole batches of 64: the epoch's loss is the mean of its batch losses
    assert history[0]["train_loss"] == pytest.approx(np.mean(history[0]["batch_losses"]), rel=1e-5)


def test_the_gap_is_measured_on_like_terms(nb, small_split, val_loader):
    """train_acc_eval: the returned model on the training part in eval mode, as val_acc is on the validation part;
    with dropout 0.5 it is not the running average train_acc (dropout on, weights moving)."""
    cfg = nb.Config(epochs=2, dropout=0.5)
    model, history = nb.train(cfg, small_split.train_set, val_loader)
    loss_fn = nn.CrossEntropyLoss()
    again = nb.evaluate(model, nb.make_loader(small_split.train_set, 64), loss_fn)
    assert history[-1]["train_loss_eval"] == pytest.approx(again[0], rel=1e-5)
    assert history[-1]["train_acc_eval"] == again[1]
    assert history[-1]["val_acc"] == nb.evaluate(model, val_loader, loss_fn)[1]
    assert history[-1]["train_acc_eval"] != history[-1]["train_acc"]


def test_a_diverged_run_stops_and_shows_it(nb, small_split, val_loader):
    history = fit(nb, small_split, val_loader, lr=1e9, epochs=5)
    # the loop stops at the epoch stats.diverged (the tables' and figures' judge) calls diverged, not before
    assert len(history) < 5 and stats.diverged(history)
    assert not any(stats.diverged(history[:i]) for i in range(1, len(history)))


def test_the_same_seed_repeats_and_another_does_not(nb, small_split, val_loader):
    cfg = {"dropout": 0.2, "epochs": 1}  # dropout: its masks come from the seed too
    a = fit(nb, small_split, val_loader, **cfg)
    assert numbers(fit(nb, small_split, val_loader, **cfg)) == numbers(a)
    b = fit(nb, small_split, val_loader, seed=1, **cfg)
    assert b[0]["batch_losses"][0] != a[0]["batch_losses"][0] and b[0]["val_loss"] != a[0]["val_loss"]


def test_the_shuffled_loader_covers_every_row_once_and_reshuffles(nb):
    rows = torch.arange(100)
    loader = nb.make_loader(TensorDataset(rows, rows % 10), batch_size=16, shuffle=True, seed=3)
    epochs = [[x for x, _ in loader] for _ in range(2)]
    for batches in epochs:
        assert [len(b) for b in batches] == [16] * 6 + [4]
        assert torch.equal(torch.cat(batches).sort().values, rows)  # every row exactly once
    assert not torch.equal(torch.cat(epochs[0]), torch.cat(epochs[1]))  # a new order each epoch
    again = nb.make_loader(TensorDataset(rows, rows % 10), batch_size=16, shuffle=True, seed=3)
    assert torch.equal(torch.cat([x for x, _ in again]), torch.cat(epochs[0]))  # the seed fixes the orders
    x, y = next(iter(loader))
    assert torch.equal(y, x % 10)  # rows and labels stay paired
    plain = nb.make_loader(TensorDataset(rows, rows), batch_size=16)
    assert torch.equal(torch.cat([x for x, _ in plain]), rows)  # unshuffled: in order


def test_the_split_is_stratified_and_disjoint(nb, sample):
    images, labels = sample
    train_set, val_set, (mean, std) = nb.split_data(images, labels)
    val_rows = data.validation_rows(labels)  # the same train_test_split call (tests/test_data.py checks it)
    assert len(val_set) == len(val_rows) == len(labels) // 5 and len(train_set) + len(val_set) == len(labels)
    assert len(set(val_rows.tolist())) == len(val_rows)
    assert torch.equal(val_set.tensors[1].cpu(), torch.from_numpy(labels[val_rows]))
    train_rows = np.setdiff1d(np.arange(len(labels)), val_rows)  # the training part is every other row
    assert np.array_equal(np.sort(train_set.tensors[1].cpu().numpy()), np.sort(labels[train_rows]))
    shares = [100 * np.bincount(y, minlength=10) / len(y)
              for y in (train_set.tensors[1].cpu().numpy(), val_set.tensors[1].cpu().numpy())]
    assert np.abs(shares[0] - shares[1]).max() < 1  # percentage points
    assert torch.equal(nb.split_data(images, labels)[1].tensors[0], val_set.tensors[0])  # the same split every time


def test_normalisation_uses_training_statistics_only(nb, sample):
    images, labels = sample[0][:2000], sample[1][:2000]
    train_set, val_set, (mean, std) = nb.split_data(images, labels)
    val_rows = data.validation_rows(labels)
    train_rows = np.setdiff1d(np.arange(len(labels)), val_rows)
    pixels = images[train_rows] / 255
    assert mean == pytest.approx(pixels.mean()) and std == pytest.approx(pixels.std())
    x = train_set.tensors[0]
    assert abs(x.mean().item()) < 1e-4 and abs(x.std().item() - 1) < 1e-3 and x.dtype == torch.float32
    assert torch.allclose(val_set.tensors[0].cpu(), torch.from_numpy((images[val_rows] / 255 - mean) / std).float(),
                          atol=1e-5)
    # the validation images changed beyond recognition: the statistics and the training part do not move
    brighter = images.copy()
    brighter[val_rows] = 255
    train2, val2, stats2 = nb.split_data(brighter, labels)
    assert stats2 == (mean, std) and torch.equal(train2.tensors[0], x)
    assert not torch.equal(val2.tensors[0], val_set.tensors[0])


def layer_types(model):
    return [type(m).__name__ for m in model.layers]


def test_print_shows_only_the_layers_that_exist(nb):
    model = nb.MLP()
    assert layer_types(model) == ["Flatten", "Linear", "ReLU", "Linear", "ReLU", "Linear"]
    text = str(model)
    assert "Dropout" not in text and "Norm" not in text
    assert [(m.in_features, m.out_features) for m in model.layers if isinstance(m, nn.Linear)] == \
        [(784, 128), (128, 64), (64, 10)]
    assert nb.MLP()(torch.zeros(3, 1, 28, 28)).shape == (3, 10)  # images or flat rows


def test_dropout_and_norm_add_their_layers_where_they_belong(nb):
    model = nb.MLP(hidden=(32, 16), dropout=0.3, norm=nn.LayerNorm)
    assert layer_types(model) == ["Flatten", "Linear", "LayerNorm", "ReLU", "Dropout",
                                  "Linear", "LayerNorm", "ReLU", "Dropout", "Linear"]
    assert [m.normalized_shape for m in model.layers if isinstance(m, nn.LayerNorm)] == [(32,), (16,)]
    assert all(m.p == 0.3 for m in model.layers if isinstance(m, nn.Dropout))
    assert layer_types(nb.MLP(hidden=(8,), norm=nn.BatchNorm1d)) == ["Flatten", "Linear", "BatchNorm1d", "ReLU",
                                                                     "Linear"]
    assert layer_types(nb.MLP(hidden=(8,), dropout=0.5)) == ["Flatten", "Linear", "ReLU", "Dropout", "Linear"]


def test_the_optimizer_is_the_one_the_config_names(nb):
    params = list(nb.MLP(hidden=(8,)).parameters())
    sgd = nb.make_optimizer(nb.Config(lr=0.1, momentum=0.9), params)
    adam = nb.make_optimizer(nb.Config(optimizer="adam", lr=0.001), params)
    assert type(sgd) is torch.optim.SGD and sgd.defaults["momentum"] == 0.9 and sgd.defaults["lr"] == 0.1
    assert type(adam) is torch.optim.Adam and adam.defaults["lr"] == 0.001


def test_evaluate_is_one_pass_in_eval_mode(nb, small_split):
    torch.manual_seed(0)
    model = nb.MLP(hidden=(16,), dropout=0.5).to(nb.device)
    model.train()
    x, y = small_split.x_val, small_split.y_val
    loss, acc = nb.evaluate(model, nb.make_loader(small_split.val_set, 64), nn.CrossEntropyLoss())
    assert not model.training  # dropout off
    with torch.no_grad():
        logits = model(x)
    assert loss == pytest.approx(nn.functional.cross_entropy(logits, y).item(), rel=1e-5)
    assert acc == (logits.argmax(1) == y).sum().item() / len(y)


def test_one_epoch_steps_once_a_batch(nb, small_split):
    torch.manual_seed(0)
    model = nb.MLP(hidden=(16,)).to(nb.device)
    cfg = replace(nb.Config(), lr=0.05)
    optimizer = nb.make_optimizer(cfg, model.parameters())
    steps = []
    optimizer.register_step_post_hook(lambda *_: steps.append(1))
    loader = nb.make_loader(small_split.train_set, 100, shuffle=True)
    loss, acc, batch_losses = nb.train_one_epoch(model, loader, optimizer, nn.CrossEntropyLoss())
    assert len(steps) == len(batch_losses) == 16 and model.training
    assert loss == pytest.approx(np.mean(batch_losses), rel=1e-5) and 0 <= acc <= 1


def definitions(nb, marker, **names):
    """The functions (and literal assignments) of the notebook cell whose source holds marker, defined over the
    graded module's names plus `names`: a cell's code tested without running the rest of the cell."""
    import ast
    import json

    from mnist_assignment.notebook_code import NOTEBOOK

    (source,) = ["".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"]
                 if c["cell_type"] == "code" and marker in "".join(c["source"])]
    tree = ast.parse(source)
    tree.body = [node for node in tree.body if isinstance(node, ast.FunctionDef)
                 or (isinstance(node, ast.Assign) and isinstance(node.value, (ast.Dict, ast.Constant)))]
    namespace = {**vars(nb), **names}
    exec(compile(tree, f"<cell with {marker}>", "exec"), namespace)
    return namespace


def test_each_seed_runs_on_its_own_split_in_the_workers_too(nb, sample):
    """run(cfg) trains on split_data(images, labels, seed=cfg.seed), in a worker as here; the splits cache goes to
    the workers empty."""
    from mnist_assignment import parallel

    images, labels = sample[0][:1000], sample[1][:1000]
    cell = definitions(nb, "def run_study(", images=images, labels=labels, SEEDS=2, WORKERS=2, parallel=parallel,
                       replace=replace)
    cell["seed_split"](0)  # this process's cache: not sent
    runs = cell["run_study"]({"base": nb.Config(epochs=1)})["base"]
    assert cell["splits"] == {}
    for seed, history in enumerate(runs):
        train_set, val_set, _ = nb.split_data(images, labels, seed)
        expected = nb.train(nb.Config(epochs=1, seed=seed), train_set, nb.make_loader(val_set, 1000))[1]
        assert numbers(history) == numbers(expected), seed
    assert runs[0][-1]["val_loss"] != runs[1][-1]["val_loss"]


def test_early_stopping_builds_the_configs_model_on_the_data_it_is_given(nb, small_split, val_loader):
    cell = definitions(nb, "def train_early_stopping(", EPOCHS=2, copy=__import__("copy"))
    cfg = nb.Config(norm=nn.LayerNorm, dropout=0.2)
    model, history, best, (loss, acc) = cell["train_early_stopping"](cfg, small_split.train_set, val_loader,
                                                                      max_epochs=2)
    assert layer_types(model).count("LayerNorm") == 2 and layer_types(model).count("Dropout") == 2
    assert len(history) == 2 and best in (1, 2)
    assert (loss, acc) == nb.evaluate(model, val_loader, nn.CrossEntropyLoss())  # the restored weights, again
    assert loss == pytest.approx(history[best - 1]["val_loss"], rel=1e-5)
