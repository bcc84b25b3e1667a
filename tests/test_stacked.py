"""Stacked runs must be the runs one would get one by one: same start, same data, same steps."""

from dataclasses import replace

import pytest
import torch
from torch import nn

from mnist_assignment.config import BASELINE
from mnist_assignment.stacked import StackedMLP, stack_key, train_stack
from mnist_assignment.training import cpu_threads, train

BASE = replace(BASELINE, hidden=(32, 16), batch_size=50, epochs=2, log_every=1)


def lone_and_stacked(cfgs, split):
    with cpu_threads(1):  # as the study workers run; restored for the other tests
        alone = [train(c, split, verbose=False) for c in cfgs]
        stack, histories = train_stack(cfgs, split)
    return alone, stack, histories


def assert_same_weights(alone, stack, cfgs):
    for (model, _), unstacked in zip(alone, stack.unstack()):
        for a, b in zip(model.state_dict().values(), unstacked.state_dict().values()):
            torch.testing.assert_close(b, a, atol=5e-5, rtol=1e-4)


def assert_same_run(lone_history, stacked_history, atol):
    lone_steps = [it["train_loss"] for it in lone_history.iterations]
    stacked_steps = [it["train_loss"] for it in stacked_history.iterations]
    assert len(lone_steps) == len(stacked_steps) > 0
    # every step's loss, from the first one on
    assert stacked_steps == pytest.approx(lone_steps, abs=atol)
    for a, b in zip(lone_history.epochs, stacked_history.epochs):
        for key in ("train_loss", "val_loss"):
            assert b[key] == pytest.approx(a[key], abs=atol)
        n_val = 400  # small_split's validation part: accuracies may differ by a flipped sample at most
        assert abs(b["val_acc"] - a["val_acc"]) <= 1 / n_val + 1e-9


@pytest.mark.parametrize("optimizer, lrs", [("sgd", (0.003, 0.03, 0.3)), ("momentum", (0.01, 0.03)),
                                            ("adam", (0.0003, 0.001, 0.003))])
def test_stack_matches_one_by_one_runs_step_by_step(small_split, optimizer, lrs):
    cfgs = [replace(BASE, optimizer=optimizer, lr=lr) for lr in lrs]
    alone, stack, histories = lone_and_stacked(cfgs, small_split)
    for (_, history), stacked_history in zip(alone, histories):
        assert_same_run(history, stacked_history, atol=2e-5)
        assert stacked_history.stacked == len(cfgs)
    assert_same_weights(alone, stack, cfgs)  # and the weights they end with


def test_stack_with_dropout_and_layernorm_matches_one_by_one(small_split):
    """The regularisation study as one stack: dropout masks come from each run's own generator."""
    cfgs = [replace(BASE, **kw) for kw in ({}, {"dropout": 0.2}, {"layernorm": True},
                                           {"dropout": 0.5, "layernorm": True})]
    alone, stack, histories = lone_and_stacked(cfgs, small_split)
    for (_, history), stacked_history in zip(alone, histories):
        assert_same_run(history, stacked_history, atol=2e-5)
    assert_same_weights(alone, stack, cfgs)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_runs_with_different_seeds_share_a_stack_with_their_own_batches(small_split, optimizer):
    """The batch-size study's case: one run per seed; and a mix, two runs on one seed, one on another
    (the momentum study's pairs, joined across seeds: experiments.plan_tasks)."""
    cfgs = [replace(BASE, seed=s, dropout=p, optimizer=optimizer) for s, p in ((0, 0.0), (1, 0.3), (0, 0.3), (2, 0.0))]
    alone, stack, histories = lone_and_stacked(cfgs, small_split)
    for (_, history), stacked_history in zip(alone, histories):
        assert_same_run(history, stacked_history, atol=2e-5)
    assert_same_weights(alone, stack, cfgs)


def test_stack_starts_from_the_lone_runs_weights():
    cfgs = [replace(BASE, lr=lr, seed=3) for lr in (0.01, 0.1)]
    stack = StackedMLP(cfgs)
    torch.manual_seed(3)
    from mnist_assignment.models import MLP

    lone = MLP(cfgs[0])
    for unstacked in stack.unstack():
        for a, b in zip(lone.state_dict().values(), unstacked.state_dict().values()):
            assert torch.equal(a, b)  # bit for bit: the same seed draws the same initial weights


def test_a_diverging_run_stops_alone_and_leaves_the_others_intact(small_split):
    cfgs = [replace(BASE, lr=lr, epochs=3, log_every=0) for lr in (0.01, 1e4)]
    with cpu_threads(1):
        _, histories = train_stack(cfgs, small_split)
    ok, blown = histories
    assert blown.diverged and len(blown.epochs) == 1 and blown.epochs[0]["val_acc"] is None
    assert not ok.diverged and len(ok.epochs) == 3
    lone = train(cfgs[0], small_split, verbose=False)[1]
    assert [e["val_loss"] for e in ok.epochs] == pytest.approx([e["val_loss"] for e in lone.epochs], abs=2e-4)


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_a_diverged_run_leaves_the_stack_and_the_others_train_on_as_alone(small_split, optimizer):
    """The diverged run's weights, LayerNorm and optimizer state are cut out after its epoch; the
    runs left must go on exactly as they would alone (step by step), their state cut correctly."""
    base = replace(BASE, optimizer=optimizer, epochs=3)
    cfgs = [replace(base, layernorm=True, lr=1e4),  # diverges in epoch 1, shares LayerNorm with the third
            replace(base, lr=0.001),
            replace(base, layernorm=True, dropout=0.3, lr=0.003)]
    alone, stack, histories = lone_and_stacked(cfgs, small_split)
    blown = histories[0]
    assert blown.diverged and len(blown.epochs) == 1
    for (_, history), stacked_history in zip(alone[1:], histories[1:]):
        assert not stacked_history.diverged and len(stacked_history.epochs) == 3
        assert_same_run(history, stacked_history, atol=2e-5)
    unstacked = stack.unstack()
    assert unstacked[0] is None and len(stack.cfgs) == 2
    for (model, _), kept in zip(alone[1:], unstacked[1:]):
        for a, b in zip(model.state_dict().values(), kept.state_dict().values()):
            torch.testing.assert_close(b, a, atol=5e-5, rtol=1e-4)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_batchnorm_runs_stack_and_match_one_by_one(small_split, optimizer):
    """Each run normalises over its own batch and keeps its own running statistics; the unstacked
    models evaluate with those, as the lone runs' BatchNorm1d do."""
    cfgs = [replace(BASE, batchnorm=True, optimizer=optimizer, **kw)
            for kw in ({}, {"dropout": 0.2}, {"lr": 0.03, "seed": 1})]
    alone, stack, histories = lone_and_stacked(cfgs, small_split)
    for (_, history), stacked_history in zip(alone, histories):
        assert_same_run(history, stacked_history, atol=2e-5)  # val_loss: eval mode, running statistics
    assert_same_weights(alone, stack, cfgs)  # incl. running mean/var and num_batches_tracked
    assert stack_key(cfgs[0]) != stack_key(replace(cfgs[0], batchnorm=False))  # never mixed with plain runs
    assert stack_key(replace(cfgs[0], optimizer="adam")) is None  # stacked.stack_key says why


def test_a_diverged_batchnorm_run_leaves_with_its_statistics(small_split):
    base = replace(BASE, batchnorm=True, epochs=3)
    cfgs = [replace(base, lr=0.01), replace(base, lr=1e4), replace(base, lr=0.03, dropout=0.2)]
    alone, stack, histories = lone_and_stacked(cfgs, small_split)
    assert histories[1].diverged and len(histories[1].epochs) == 1 and stack.unstack()[1] is None
    for i in (0, 2):
        assert_same_run(alone[i][1], histories[i], atol=2e-5)
        for a, b in zip(alone[i][0].state_dict().values(), stack.unstack()[i].state_dict().values()):
            torch.testing.assert_close(b, a, atol=5e-5, rtol=1e-4)  # running statistics included


def test_stack_key_groups_only_runs_that_can_share_batches():
    assert stack_key(BASE) == stack_key(replace(BASE, lr=0.1, dropout=0.3, layernorm=True, seed=1))
    for different in ({"batch_size": 32}, {"epochs": 3}, {"hidden": (16, 16)}, {"optimizer": "adam"}):
        assert stack_key(replace(BASE, **different)) != stack_key(BASE)
    for alone in ({"model": "cnn"}, {"shift": 2}, {"elastic": 15.0}, {"schedule": "onecycle"},
                  {"optimizer": "adamw"}, {"patience": 2}, {"label_smoothing": 0.1}, {"weight_decay": 0.01}):
        assert stack_key(replace(BASE, **alone)) is None
    with pytest.raises(ValueError, match="cannot be trained as one stack"):
        train_stack([BASE, replace(BASE, batch_size=10)], None)


def test_the_one_private_torch_call_still_computes_torch_adam():
    """stacked.fused_adam_ wraps torch._fused_adam_; if a torch release changes it, this fails."""
    from mnist_assignment.stacked import fused_adam_

    gen = torch.Generator().manual_seed(0)
    ours = [torch.randn(5, 3, generator=gen), torch.randn(7, generator=gen)]
    theirs = [nn.Parameter(p.clone()) for p in ours]
    reference = torch.optim.Adam(theirs, lr=0.01, fused=True)
    m, v, step = [torch.zeros_like(p) for p in ours], [torch.zeros_like(p) for p in ours], torch.zeros(())
    for _ in range(3):
        grads = [torch.randn(p.shape, generator=gen) for p in ours]
        for p, g in zip(theirs, grads):
            p.grad = g.clone()
        reference.step()
        step += 1
        fused_adam_(ours, grads, m, v, [step] * len(ours), lr=0.01)
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b.detach())


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_run_gets_the_same_numbers_in_a_half_stack(small_split, optimizer):
    """experiments.balanced halves stacks to keep every worker busy: how many workers there are
    must not change a digit, so a run in half a stack must give exactly what it gives in the whole."""
    cfgs = [replace(BASE, optimizer=optimizer, lr=lr, dropout=p, layernorm=ln)
            for lr, p, ln in ((0.003, 0.0, False), (0.01, 0.2, True), (0.03, 0.2, False), (0.1, 0.0, True),
                              (0.3, 0.5, False))]
    with cpu_threads(1):
        whole = train_stack(cfgs, small_split)[1]
        halves = train_stack(cfgs[:3], small_split)[1] + train_stack(cfgs[3:], small_split)[1]
    for a, b in zip(whole, halves):
        assert [e["val_loss"] for e in a.epochs] == [e["val_loss"] for e in b.epochs]  # exactly
        assert [it["train_loss"] for it in a.iterations] == [it["train_loss"] for it in b.iterations]
