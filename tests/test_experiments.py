from dataclasses import asdict, replace

import matplotlib
import pytest
import torch

from mnist_assignment import experiments, plots
from mnist_assignment.config import BASELINE, PRESETS, TrainConfig
from mnist_assignment.experiments import (
    STUDIES,
    ResultStore,
    display_table,
    run_configs,
    run_study,
    study_configs,
    summarise,
)
from mnist_assignment.models import build_model

matplotlib.use("Agg")
FAST = replace(BASELINE, hidden=(16, 8), epochs=2, batch_size=256)


@pytest.fixture(scope="module")
def tiny(sample):
    images, labels = sample
    return images[:1000], labels[:1000], "sha-of-tiny"


@pytest.mark.parametrize("study", list(STUDIES))
def test_each_study_changes_exactly_one_factor(study):
    configs = study_configs(study, BASELINE)
    minimum = {"lr": 6, "batch_size": 6, "regularization": 4, "dropout": 5, "adam_combos": 3, "optimizers": 3,
               "batchnorm": 2}
    assert len(configs) >= minimum[study]
    base = asdict(BASELINE)
    changed = set()
    for _, cfg in configs:
        diff = {k for k, v in asdict(cfg).items() if v != base[k]}
        changed |= diff
        assert cfg.seed == BASELINE.seed and cfg.epochs == BASELINE.epochs
    factors = {"lr": {"lr"}, "batch_size": {"batch_size"}, "regularization": {"dropout", "layernorm"},
               "dropout": {"dropout"}, "adam_combos": {"optimizer", "lr", "dropout"},
               "optimizers": {"optimizer", "lr"}, "batchnorm": {"batchnorm", "dropout"}}
    assert changed <= factors[study]


def test_lr_and_batch_ranges():
    lrs = [v for v, _ in study_configs("lr")]
    assert min(lrs) <= 1e-3 and max(lrs) >= 0.5 and len(lrs) >= 6
    sizes = [v for v, _ in study_configs("batch_size")]
    assert min(sizes) == 16 and max(sizes) == 2048 and len(sizes) >= 6


def test_seeds_are_paired_and_results_stored(tiny, tmp_path):
    images, labels, sha = tiny
    store = ResultStore(tmp_path)
    results = run_study("regularization", images, labels, sha, seeds=2, base=FAST, store=store,
                        workers=1, log=lambda m: None)
    assert len(results) == 8
    for _value, runs in experiments.by_value(results).items():
        assert sorted(r.seed for r in runs) == [0, 1]
    assert len(list(tmp_path.glob("regularization/*.json"))) == 8
    # values with the same seed start from the same weights (paired comparisons rest on it)
    by = {(r.value, r.seed): r for r in results}
    starts = []
    for value in ("none", "dropout 0.2", "LayerNorm"):
        torch.manual_seed(0)
        model = build_model(TrainConfig.from_dict(by[(value, 0)].config))
        starts.append([p for name, p in model.named_parameters() if name.endswith("0.weight")])
    for other in starts[1:]:
        assert all(torch.equal(a, b) for a, b in zip(starts[0], other))
    torch.manual_seed(1)
    seed1 = build_model(TrainConfig.from_dict(by[("none", 1)].config))
    assert not torch.equal(next(seed1.parameters()), starts[0][0])
    table = summarise(results)
    assert list(table.value) == ["none", "dropout 0.2", "LayerNorm", "dropout 0.2 + LayerNorm"]
    assert (table.seeds == 2).all()
    shown = display_table(table, "regularisation")
    assert "±" in shown["final val acc %"].iloc[0]


def test_reuse_only_on_exact_match(tiny, tmp_path):
    images, labels, sha = tiny
    store = ResultStore(tmp_path)
    jobs = [("lr", 0.01, FAST)]
    first = run_configs(jobs, images, labels, sha, store, reuse=True, workers=1, log=lambda m: None)
    logs = []
    again = run_configs(jobs, images, labels, sha, store, reuse=True, workers=1, log=logs.append)
    assert "reusing 1" in logs[0] and again[0].history == first[0].history
    # without reuse it trains again (and, deterministic, gets the same history)
    logs = []
    fresh = run_configs(jobs, images, labels, sha, store, reuse=False, workers=1, log=logs.append)
    assert logs[0].startswith("training 1 run") and not any("reusing" in m for m in logs)
    assert [e["val_loss"] for e in fresh[0].epochs] == [e["val_loss"] for e in first[0].epochs]
    # other data or another config: not reused
    logs = []
    run_configs(jobs, images, labels, "other-sha", store, reuse=True, workers=1, log=logs.append)
    assert not any("reusing" in m for m in logs)
    run_configs([("lr", 0.02, replace(FAST, lr=0.02))], images, labels, sha, store, reuse=True,
                workers=1, log=logs.append)
    assert not any("reusing" in m for m in logs)


def test_interrupted_study_keeps_finished_runs(tiny, tmp_path, monkeypatch):
    images, labels, sha = tiny
    store = ResultStore(tmp_path)
    calls = []
    real = experiments._train_task

    def flaky(task, split=None):
        calls.append(task)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(task, split)

    monkeypatch.setattr(experiments, "_train_task", flaky)
    # the batch-size study with one seed: every run is a task of its own
    with pytest.raises(KeyboardInterrupt):
        run_study("batch_size", images, labels, sha, seeds=1, base=FAST, store=store, workers=1,
                  log=lambda m: None)
    assert len(list(tmp_path.glob("batch_size/*.json"))) == 2
    monkeypatch.setattr(experiments, "_train_task", real)
    logs = []
    run_study("batch_size", images, labels, sha, seeds=1, base=FAST, store=store, workers=1, reuse=True,
              log=logs.append)
    assert "reusing 2" in logs[0]


def without_seconds(results):
    return [[{k: v for k, v in e.items() if k != "seconds"} for e in r.epochs] for r in results]


def test_worker_processes_give_the_same_histories(tiny):
    images, labels, sha = tiny
    jobs = [("lr", v, replace(FAST, lr=v)) for v in (0.01, 0.1)] + [("batch_size", 64, replace(FAST, batch_size=64))]
    inline = run_configs(jobs, images, labels, sha, workers=1, log=lambda m: None)
    logs = []
    pooled = run_configs(jobs, images, labels, sha, workers=2, log=logs.append)
    assert "in 1 stack, on 2 workers" in logs[0]
    assert without_seconds(inline) == without_seconds(pooled)
    assert [r.history["stacked"] for r in pooled] == [2, 2, 1]


def test_runs_are_planned_into_stacks_and_shared_configs_train_once(tiny, tmp_path):
    from mnist_assignment.experiments import plan_tasks, study_jobs

    jobs = study_jobs(["lr", "batch_size", "regularization", "batchnorm"], seeds=2, base=FAST)
    cfgs = [cfg for _, _, cfg in jobs]
    tasks = plan_tasks(cfgs)
    assert sorted(i for task in tasks for i in task) == list(range(len(cfgs)))  # each run once
    for task in tasks:
        members = [cfgs[i] for i in task]
        if any(c.batchnorm for c in members):  # BatchNorm runs stack only with each other, here 2 a seed:
            assert all(c.batchnorm for c in members) and len(task) == 4  # too few alone, so across seeds
        elif len({c.seed for c in members}) > 1:  # across seeds only for runs otherwise alone
            assert len({c.batch_size for c in members}) == 1 and len(task) == 2
    # the lr study's 0.01 and the regularisation study's "none" are the batch-size study's 256 here
    images, labels, sha = tiny
    logs = []
    results = experiments.run_studies(["lr", "regularization"], images, labels, sha, seeds=1, base=FAST,
                                      store=ResultStore(tmp_path), workers=1, log=logs.append)
    assert "training 10 runs for 11 results" in logs[0]
    base_lr = next(r for r in results["lr"] if r.value == 0.01)
    base_reg = next(r for r in results["regularization"] if r.value == "none")
    assert base_lr.history == base_reg.history
    assert len(list(tmp_path.glob("*/*.json"))) == 11


def test_stacks_are_halved_so_that_no_worker_idles_at_the_end():
    from mnist_assignment.experiments import arithmetic, finish_time, plan_tasks, study_jobs

    cfgs = [cfg for _, _, cfg in study_jobs(["lr"], seeds=3, base=BASELINE)]

    def sizes(workers):
        return sorted(len(t) for t in plan_tasks(cfgs, workers=workers))

    assert sizes(1) == [7, 7, 7]  # one per seed: nothing to balance
    tasks = plan_tasks(cfgs, workers=2)
    assert sorted(i for t in tasks for i in t) == list(range(len(cfgs)))  # each run once
    assert all(len(t) >= 2 for t in tasks)  # halves are still stacks (same numbers as the whole)
    assert all(len({cfgs[i].seed for i in t}) == 1 for t in tasks)  # each half shares its batches
    costs = [len(t) + 1 for t in tasks]  # plan_tasks' cost at batch 64: runs + the shared per-step overhead
    assert finish_time(costs, 2) <= 1.1 * sum(costs) / 2  # 3 whole stacks would end at 16 of 24
    assert finish_time([8, 8, 8], 2) == 16 and arithmetic(BASELINE) == 784 * 128 + 128 * 64 + 64 * 10


def test_divergence_shows_in_summary_and_plots(tiny, tmp_path):
    images, labels, sha = tiny
    jobs = [("lr", v, replace(FAST, lr=v, seed=s)) for v in (0.01, 1e6) for s in (0, 1)]
    results = run_configs(jobs, images, labels, sha, workers=1, log=lambda m: None)
    table = summarise(results)
    assert table.diverged.tolist() == [0, 2]
    assert "diverged" in display_table(table, "lr")["final val acc %"].iloc[1]
    fig = plots.study_curves(results, "learning rate", tmp_path / "curves.png")
    assert len(fig.axes) == 4
    assert all(len(ax.get_lines()) == 2 for ax in fig.axes)
    assert (tmp_path / "curves.png").stat().st_size > 10_000
    fig = plots.study_summary(table, "learning rate", "lr", tmp_path / "summary.png")
    assert len(fig.axes) == 2 and (tmp_path / "summary.png").stat().st_size > 5_000
    fig = plots.study_curves(results, "learning rate", tmp_path / "steps.png", x="steps",
                             steps_per_epoch=lambda v: 4)
    assert fig.axes[0].get_xscale() == "log"


def test_other_figures_write_images(tiny, tmp_path):
    import numpy as np

    images, labels, _ = tiny
    plots.class_balance(labels[:800], labels[800:], tmp_path / "balance.png")
    fig = plots.digit_grid(images[:20], [str(v) for v in labels[:20]], tmp_path / "grid.png")
    assert sum(ax.images != [] for ax in fig.axes) == 20
    fig = plots.confusion(labels, np.roll(labels, 1), tmp_path / "confusion.png")
    assert len(fig.axes) == 2
    for name in ("balance", "grid", "confusion"):
        assert (tmp_path / f"{name}.png").stat().st_size > 5_000


def test_progress_is_one_line_per_task():
    from mnist_assignment.experiments import describe_task

    assert describe_task([(0.9612, "lr 0.01 seed 0")], 7.04) == "lr 0.01 seed 0: val acc 0.9612 (7.0 s)"
    assert describe_task([(None, "lr 1.0 seed 0")], 1.0).endswith("DIVERGED (1.0 s)")
    line = describe_task([(0.95, "lr 0.01 seed 0"), (0.97, "lr 0.1 seed 0"), (None, "lr 1 seed 0")], 30.4)
    assert line == "stack of 3 runs in 30 s; best lr 0.1 seed 0: val acc 0.9700; 1 diverged"


def test_models_train_in_the_same_schedule_and_come_back_whole(tiny):
    images, labels, sha = tiny
    cnn = TrainConfig(model="cnn", channels=(4, 8), hidden=(16,), batchnorm=True, epochs=1, batch_size=128)
    bn_drop = replace(FAST, batchnorm=True, dropout=0.2)
    logs = []
    runs, trained = experiments.run_all(["batchnorm"], {"cnn": cnn, "bn": bn_drop}, images, labels, sha,
                                        seeds=1, base=FAST, workers=2, log=logs.append)
    assert set(trained) == {"cnn", "bn"} and len(runs["batchnorm"]) == 2
    # bn is also the batchnorm study's seed-0 "BatchNorm + dropout 0.2" run: trained once, used twice
    assert logs[0].startswith("training 3 runs for 4 results")
    study_run = next(r for r in runs["batchnorm"] if r.value == "BatchNorm + dropout 0.2")
    model, history = trained["bn"]
    assert history.epochs == study_run.epochs and not model.training
    from mnist_assignment.data import prepare
    from mnist_assignment.training import evaluate

    split = prepare(images, labels)
    assert evaluate(model, split.x_val, split.y_val)[1] == pytest.approx(history.final["val_acc"], abs=1e-9)
    assert experiments.arithmetic(BASELINE) == 784 * 128 + 128 * 64 + 64 * 10


def test_on_a_gpu_every_run_trains_in_this_process_on_it(tiny, monkeypatch):
    """One process owns the GPU: no worker pool whatever `workers` says; stacks and lone runs alike
    get the data on the device pick_device chose (a stand-in here: no GPU on these machines)."""
    from mnist_assignment import models

    gpu = torch.device("cuda")
    monkeypatch.setattr(models, "pick_device", lambda: gpu)
    monkeypatch.setattr(experiments.mp, "get_context", lambda *a: pytest.fail("no worker pool with a GPU"))
    devices, real_prepare = [], experiments.prepare

    def prepare_on(images, labels, device="cpu"):
        devices.append(device)
        return real_prepare(images, labels)  # the real split, kept on the CPU to run here

    monkeypatch.setattr(experiments, "prepare", prepare_on)
    images, labels, sha = tiny
    alone = replace(FAST, batchnorm=True, optimizer="adam")
    jobs = [("lr", v, replace(FAST, lr=v)) for v in (0.01, 0.1)] + [("batchnorm", "BN", alone)]
    logs = []
    results = experiments.run_configs(jobs, images, labels, sha, workers=8, log=logs.append)
    assert devices == [gpu]  # one split, on the device, for every task
    assert "in 1 stack, on 1 worker" in logs[0] and len(results) == 3
    assert [r.history["stacked"] for r in results] == [2, 2, 1]


def test_the_notebooks_single_models_follow_the_studies_epochs():
    base = replace(BASELINE, epochs=5)
    full, quick = experiments.single_models(base), experiments.single_models(base, quick=True)
    assert full["cnn"] == PRESETS["cnn"] and quick["cnn"].epochs == quick["best-mlp"].epochs == 1
    assert full["early stopping"].epochs == 10 and full["early stopping"].patience > 0
    assert full["BatchNorm + dropout"] == replace(base, batchnorm=True, dropout=0.2) == quick["BatchNorm + dropout"]


def test_the_cnn_trains_on_every_seed_under_names_the_notebook_can_find():
    three = experiments.single_models(BASELINE, cnn_seeds=3)
    cnns = [three[experiments.seed_name("cnn", s)] for s in range(3)]
    assert [c.seed for c in cnns] == [0, 1, 2] and cnns[0] == PRESETS["cnn"]
    assert all(replace(c, seed=0) == PRESETS["cnn"] for c in cnns)  # the preset itself, only the seed differs
    assert set(three) - set(experiments.single_models(BASELINE)) == {"cnn seed 1", "cnn seed 2"}
    quick = experiments.single_models(BASELINE, quick=True, cnn_seeds=2)
    assert quick["cnn seed 1"] == replace(quick["cnn"], seed=1)  # quick mode's 1 epoch on every seed
    assert experiments.run_label("models", "cnn seed 1", 1) == "models cnn seed 1"  # the seed said once
    assert [experiments.run_label(s, v, 1) for s, v in (("models", "cnn"), ("lr", 0.01))] == [
        "models cnn seed 1", "lr 0.01 seed 1"]
