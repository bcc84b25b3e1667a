import numpy as np
import torch

from mnist_assignment.numpy_mlp import NumpyMLP, fit_numpy


def torch_grads(model: NumpyMLP, x, y):
    """The same network in PyTorch (float64)."""
    ws = [torch.tensor(w, requires_grad=True) for w in model.weights]
    bs = [torch.tensor(b, requires_grad=True) for b in model.biases]
    h = torch.tensor(x)
    for i, (w, b) in enumerate(zip(ws, bs)):
        z = h @ w + b
        h = torch.relu(z) if i < len(ws) - 1 else z
    loss = torch.nn.functional.cross_entropy(h, torch.tensor(y))
    loss.backward()
    return loss.item(), [w.grad.numpy() for w in ws], [b.grad.numpy() for b in bs]


def rel_error(a, b):
    return np.abs(a - b).max() / max(np.abs(a).max(), np.abs(b).max(), 1e-12)


def test_gradients_match_autograd_in_float64():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 20))
    y = rng.integers(0, 10, 32)
    model = NumpyMLP([20, 16, 12, 10], seed=1, dtype=np.float64)
    loss, _, gw, gb = model.loss_and_grads(x, y)
    ref_loss, ref_w, ref_b = torch_grads(model, x, y)
    assert abs(loss - ref_loss) < 1e-12
    for mine, ref in zip(gw + gb, ref_w + ref_b):
        assert mine.shape == ref.shape
        assert rel_error(mine, ref) < 1e-6


def test_shapes_and_the_forward_pass_is_deterministic():
    model = NumpyMLP([784, 32, 16, 10])
    x = np.random.default_rng(0).standard_normal((5, 784)).astype(np.float32)
    logits, _ = model.forward(x)
    assert logits.shape == (5, 10)
    assert np.array_equal(model.forward(x)[0], logits)


def test_short_run_learns(small_split):
    """On the notebook's split, the history as the notebook's loop writes it: one dict per epoch."""
    s = small_split
    arrays = [t.cpu().numpy() for t in (s.x_train, s.y_train, s.x_val, s.y_val)]
    history = fit_numpy(*arrays, hidden=(64, 32), lr=0.05, epochs=3)
    assert [e["epoch"] for e in history] == [1, 2, 3]
    assert set(history[0]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"}
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["val_acc"] > 0.8
