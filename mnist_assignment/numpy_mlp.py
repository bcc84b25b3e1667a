"""An MLP written from scratch in NumPy: forward, backward and SGD by hand.

The same maths as the notebook's baseline MLP (He-initialised ReLU hidden layers, softmax
cross-entropy, plain SGD), so the two can be compared; tests check the hand-written gradients
against PyTorch autograd in float64.
"""

from __future__ import annotations

import time

import numpy as np


class NumpyMLP:
    def __init__(self, sizes: list[int], seed: int = 0, dtype=np.float32):
        rng = np.random.default_rng(seed)
        # He initialisation, as in the PyTorch model
        self.weights = [(rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(dtype)
                        for a, b in zip(sizes, sizes[1:])]
        self.biases = [np.zeros(b, dtype=dtype) for b in sizes[1:]]

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list]:
        """Logits, and what backward needs: each layer's input and its ReLU mask."""
        cache = []
        h = x
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            z = h @ w + b
            mask = (z > 0).astype(h.dtype)
            cache.append((h, mask))
            h = z * mask
        cache.append((h, None))
        return h @ self.weights[-1] + self.biases[-1], cache

    @staticmethod
    def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean loss and its gradient w.r.t. the logits: (softmax - onehot) / n."""
        shifted = logits - logits.max(axis=1, keepdims=True)  # stable: exp never overflows
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        n = len(y)
        loss = -log_probs[np.arange(n), y].mean()
        grad = np.exp(log_probs)
        grad[np.arange(n), y] -= 1.0
        return float(loss), grad / n

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray):
        logits, cache = self.forward(x)
        loss, g = self.softmax_cross_entropy(logits, y)
        grads_w, grads_b = [None] * len(self.weights), [None] * len(self.weights)
        for i in reversed(range(len(self.weights))):
            h, _ = cache[i]
            grads_w[i] = h.T @ g
            grads_b[i] = g.sum(axis=0)
            if i > 0:
                g = (g @ self.weights[i].T) * cache[i - 1][1]  # through the ReLU of layer i-1
        return loss, logits, grads_w, grads_b

    def sgd_step(self, grads_w, grads_b, lr: float) -> None:
        for w, b, gw, gb in zip(self.weights, self.biases, grads_w, grads_b):
            w -= lr * gw
            b -= lr * gb

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        logits, _ = self.forward(x)
        loss, _ = self.softmax_cross_entropy(logits, y)
        return loss, float((logits.argmax(1) == y).mean())


def fit_numpy(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
              hidden=(128, 64), lr: float = 0.01, batch_size: int = 64, epochs: int = 20,
              seed: int = 0) -> list[dict]:
    """Mini-batch SGD over seeded shuffles -> the history as the notebook's loop writes it (one dict per epoch)."""
    model = NumpyMLP([x_train.shape[1], *hidden, 10], seed)
    history = []
    order_rng = np.random.default_rng(seed + 1)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        loss_sum, correct = 0.0, 0
        order = order_rng.permutation(len(y_train))
        for idx in (order[i:i + batch_size] for i in range(0, len(order), batch_size)):
            loss, logits, gw, gb = model.loss_and_grads(x_train[idx], y_train[idx])
            model.sgd_step(gw, gb, lr)
            loss_sum += loss * len(idx)
            correct += int((logits.argmax(1) == y_train[idx]).sum())
        val_loss, val_acc = model.evaluate(x_val, y_val)
        row = {"epoch": epoch, "train_loss": loss_sum / len(y_train), "train_acc": correct / len(y_train),
               "val_loss": val_loss, "val_acc": val_acc, "seconds": time.perf_counter() - start}
        history.append(row)
    return history
