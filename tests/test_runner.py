"""The runner: many runs through one engine, in worker processes or in this one, stored as they
finish and reused only when config, data and code all match."""

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch

from mnist_assignment import loader, plots, runner, training
from mnist_assignment.config import BASELINE, TrainConfig
from mnist_assignment.models import build_model, multiply_adds
from mnist_assignment.runner import cost, run_all, run_configs, run_studies
from mnist_assignment.stats import by_value, display_table, summarise
from mnist_assignment.store import MODELS, PACKAGE, ResultStore, code_version, result_modules

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parent.parent
FAST = replace(BASELINE, hidden=(16, 8), epochs=2, batch_size=256)


def quiet(_line):
    pass


@pytest.fixture(scope="module")
def tiny(sample):
    images, labels = sample
    return images[:2000], labels[:2000], "sha-of-tiny"


def without_seconds(results):
    """Each result's whole history but the wall times, which differ between any two runs."""
    out = []
    for r in results:
        history = dict(r.history, epochs=[{k: v for k, v in e.items() if k != "seconds"} for e in r.epochs])
        out.append(history)
    return out


def test_seeds_are_paired_and_results_stored(tiny, tmp_path):
    images, labels, sha = tiny
    store = ResultStore(tmp_path)
    results = run_studies(["regularization"], images, labels, sha, seeds=2, base=FAST, store=store,
                          workers=1, log=quiet)["regularization"]
    assert len(results) == 8
    for _value, runs in by_value(results).items():
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
    first = run_configs(jobs, images, labels, sha, store, reuse=True, workers=1, log=quiet)
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
    real = runner._train_one

    def flaky(task, split=None, train=None):
        calls.append(task)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(task, split, train)

    monkeypatch.setattr(runner, "_train_one", flaky)
    # the batch-size study with one seed: every run is a task of its own
    with pytest.raises(KeyboardInterrupt):
        run_studies(["batch_size"], images, labels, sha, seeds=1, base=FAST, store=store, workers=1, log=quiet)
    assert len(list(tmp_path.glob("batch_size/*.json"))) == 2
    monkeypatch.setattr(runner, "_train_one", real)
    logs = []
    run_studies(["batch_size"], images, labels, sha, seeds=1, base=FAST, store=store, workers=1, reuse=True,
                log=logs.append)
    assert "reusing 2" in logs[0]


def test_worker_processes_give_the_same_histories(tiny):
    """Same engine, one thread each: two workers give the in-process numbers to the last bit."""
    images, labels, sha = tiny
    jobs = [("lr", 0.01, FAST), ("dropout", 0.3, replace(FAST, dropout=0.3, lr=0.1, seed=1)),
            ("extras", "shift", replace(FAST, shift=1, batch_size=64, log_every=5, layernorm=True))]
    inline = run_configs(jobs, images, labels, sha, workers=1, log=quiet)
    logs = []
    pooled = run_configs(jobs, images, labels, sha, workers=2, log=logs.append)
    assert logs[0] == "training 3 runs for 3 results on 2 workers"
    assert without_seconds(inline) == without_seconds(pooled)
    assert [r.value for r in pooled] == [0.01, 0.3, "shift"]  # in job order, whatever order they finished in
    assert pooled[2].history["iterations"] and not pooled[0].history["iterations"]


def test_the_longest_runs_start_first_and_progress_is_one_line_each(tiny):
    images, labels, sha = tiny
    jobs = [("a", "small", FAST), ("b", "wide", replace(FAST, hidden=(64, 32), batch_size=64)),
            ("c", "long", replace(FAST, epochs=3)), ("d", "blown", replace(FAST, lr=1e9, epochs=1))]
    expected = sorted(jobs, key=lambda job: cost(job[2]), reverse=True)
    assert [v for _, v, _ in expected] != [v for _, v, _ in jobs]  # the order is the schedule's, not the list's
    logs = []
    run_configs(jobs, images, labels, sha, workers=1, log=logs.append)
    lines = logs[1:]
    assert [line.split(":")[0] for line in lines] == [
        f"[{i}/4] {runner.run_label(s, v, c.seed)}" for i, (s, v, c) in enumerate(expected, 1)]
    by_name = {line.split()[2]: line for line in lines}
    assert by_name["blown"].endswith(" s)") and ": DIVERGED (" in by_name["blown"]
    assert " val acc 0." in by_name["small"]
    small_cnn = replace(FAST, model="cnn", channels=(8, 16), hidden=(16,))
    assert cost(small_cnn) > cost(FAST) and multiply_adds(small_cnn) > multiply_adds(FAST)


def test_shared_configs_train_once(tiny, tmp_path):
    # the lr study's 0.01 and the regularisation study's "none" are the same config here
    images, labels, sha = tiny
    logs = []
    results = run_studies(["lr", "regularization"], images, labels, sha, seeds=1, base=FAST,
                          store=ResultStore(tmp_path), workers=1, log=logs.append)
    assert "training 10 runs for 11 results" in logs[0]
    base_lr = next(r for r in results["lr"] if r.value == 0.01)
    base_reg = next(r for r in results["regularization"] if r.value == "none")
    assert base_lr.history == base_reg.history
    assert len(list(tmp_path.glob("*/*.json"))) == 11


def test_divergence_shows_in_summary_and_plots(tiny, tmp_path):
    images, labels, sha = tiny
    jobs = [("lr", v, replace(FAST, lr=v, seed=s)) for v in (0.01, 1e6) for s in (0, 1)]
    results = run_configs(jobs, images, labels, sha, workers=1, log=quiet)
    table = summarise(results)
    assert table.diverged.tolist() == [0, 2]
    assert "diverged" in display_table(table, "lr")["final val acc %"].iloc[1]
    fig = plots.study_curves(results, "learning rate", tmp_path / "curves.png")
    assert len(fig.axes) == 4
    # the run that blew up at once has a legend entry, not a curve pulling the axes to chance level
    assert [len(ax.get_lines()) for ax in fig.axes] == [2, 1, 1, 1]
    legend = [t.get_text() for t in fig.legends[0].get_texts()] if fig.legends else \
        [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("diverged 2/2, not drawn" in t for t in legend)
    assert (tmp_path / "curves.png").stat().st_size > 10_000
    fig = plots.study_summary(table, "learning rate", "lr", tmp_path / "summary.png")
    assert len(fig.axes) == 2 and (tmp_path / "summary.png").stat().st_size > 5_000
    fig = plots.study_curves(results, "learning rate", tmp_path / "steps.png", x="steps",
                             steps_per_epoch=lambda v: 4)
    assert fig.axes[0].get_xscale() == "log"


def test_other_figures_write_images(tiny, tmp_path):
    images, labels, _ = tiny
    plots.class_balance(labels[:800], labels[800:], tmp_path / "balance.png")
    fig = plots.digit_grid(images[:20], [str(v) for v in labels[:20]], tmp_path / "grid.png")
    assert sum(ax.images != [] for ax in fig.axes) == 20
    fig = plots.confusion(labels, np.roll(labels, 1), tmp_path / "confusion.png")
    assert len(fig.axes) == 2
    for name in ("balance", "grid", "confusion"):
        assert (tmp_path / f"{name}.png").stat().st_size > 5_000


def test_models_train_in_the_same_schedule_and_come_back_whole(tiny):
    images, labels, sha = tiny
    cnn = TrainConfig(model="cnn", channels=(4, 8), hidden=(16,), batchnorm=True, epochs=1, batch_size=128)
    bn_drop = replace(FAST, batchnorm=True, dropout=0.2)
    logs = []
    runs, trained = run_all(["batchnorm"], {"cnn": cnn, "bn": bn_drop}, images, labels, sha,
                            seeds=1, base=FAST, workers=2, log=logs.append)
    assert set(trained) == {"cnn", "bn"} and len(runs["batchnorm"]) == 2
    # bn is also the batchnorm study's seed-0 "BatchNorm + dropout 0.2" run: trained once, used twice
    assert logs[0].startswith("training 3 runs for 4 results")
    study_run = next(r for r in runs["batchnorm"] if r.value == "BatchNorm + dropout 0.2")
    model, history = trained["bn"]
    assert history.epochs == study_run.epochs and not model.training
    split = loader.prepare(images, labels)
    for model, history in trained.values():
        assert training.evaluate(model, split.x_val, split.y_val)[1] == pytest.approx(history.final["val_acc"],
                                                                                      abs=1e-9)


def test_on_a_gpu_every_run_trains_in_this_process_on_it(tiny, monkeypatch):
    """One process owns the GPU: no worker pool whatever `workers` says, and the split made once on
    the device pick_device chose (a stand-in here: no GPU on these machines)."""
    gpu = torch.device("cuda")
    monkeypatch.setattr(runner, "pick_device", lambda: gpu)
    monkeypatch.setattr(runner.mp, "get_context", lambda *a: pytest.fail("no worker pool with a GPU"))
    devices = []

    def prepare_on(images, labels, device="cpu"):
        devices.append(device)
        return loader.prepare(images, labels)  # the real split, kept on the CPU to run here

    images, labels, sha = tiny
    jobs = [("lr", v, replace(FAST, lr=v)) for v in (0.01, 0.1)] + [("batchnorm", "BN", replace(FAST, batchnorm=True))]
    logs = []
    results = run_configs(jobs, images, labels, sha, workers=8, log=logs.append, prepare=prepare_on)
    assert devices == [gpu]  # one split, on the device, for every run
    assert logs[0] == "training 3 runs for 3 results on 1 worker" and len(results) == 3


# ---------------------------------------------------------------- the code key


def defined_in_main(tmp_path: Path, source: str, name: str):
    """`name` from source run as a notebook cell runs it: in __main__, its source readable from a file."""
    path = tmp_path / f"cell_{len(list(tmp_path.glob('cell_*.py')))}.py"
    path.write_text(source)
    namespace = {"__name__": "__main__", "training": training}
    exec(compile(source, str(path), "exec"), namespace)
    assert namespace[name].__module__ == "__main__"
    return namespace[name]


LOOP = '''
def mark(history):
    history.device = "cell"
    return history


def loop(cfg, split, augment=None, stopper=None, on_step=None, log=None):
    model, history = training.train(cfg, split, augment, stopper, on_step, log)
    return model, mark(history)
'''


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory):
    copy = tmp_path_factory.mktemp("package") / "mnist_assignment"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_the_code_key_covers_every_module_a_run_executes(package_copy):
    modules = sorted(package_copy.glob("*.py"))
    executed = {p.name for p in result_modules(package_copy)}
    assert executed >= {"__init__.py", "kernels.py", "runner.py", "training.py", "loader.py", "models.py",
                        "augment.py", "config.py", "store.py", "studies.py"}
    assert not executed & {"plots.py", "report.py", "stats.py", "claims.py"}  # figures and text only
    base = code_version(package=package_copy)
    assert base == code_version()  # an identical copy: the same key
    seen = {base}
    for path in modules:
        text = path.read_text()
        try:
            path.write_text(text + "# edited\n")
            key = code_version(package=package_copy)
        finally:
            path.write_text(text)
        if path.name in executed:
            assert key not in seen, f"an edit of {path.name} left the code key unchanged"
            seen.add(key)
        else:
            assert key == base, f"an edit of {path.name}, which no run executes, changed the code key"
    assert code_version(package=package_copy) == base


def test_a_module_a_run_starts_to_use_is_covered(package_copy):
    extra = package_copy / "helper_for_test.py"
    try:
        extra.write_text("X = 1\n")
        assert "helper_for_test.py" not in {p.name for p in result_modules(package_copy)}
        before = code_version(package=package_copy)
        training_py = package_copy / "training.py"
        text = training_py.read_text()
        training_py.write_text(text + "from .helper_for_test import X  # noqa\n")
        assert "helper_for_test.py" in {p.name for p in result_modules(package_copy)}
        with_import = code_version(package=package_copy)
        extra.write_text("X = 2\n")
        assert code_version(package=package_copy) not in (before, with_import)
    finally:
        extra.unlink()
        training_py.write_text(text)


def test_the_code_key_covers_a_loop_defined_in_the_notebook(tmp_path):
    loop = defined_in_main(tmp_path, LOOP, "loop")
    key = code_version(loop)
    assert key != code_version()
    assert code_version(defined_in_main(tmp_path, LOOP, "loop")) == key  # the same cell run again: same key
    edited_loop = LOOP.replace("return model, mark(history)", "return model, mark(history)  # edited")
    assert code_version(defined_in_main(tmp_path, edited_loop, "loop")) != key
    # what the loop calls, defined in the notebook too, counts as well
    edited_helper = LOOP.replace('"cell"', '"cell, edited"')
    assert code_version(defined_in_main(tmp_path, edited_helper, "loop")) != key
    # the package's own definitions are covered by the package's files
    assert code_version(training.train, loader.prepare) == code_version()


CELL_WITH_A_CLASS = '''
class Batches:
    @property
    def blank(self):
        return 0.0

    @staticmethod
    def size():
        return 64


def helper():
    return 1


def loop(cfg, split):
    return [helper() for _ in range(2)], Batches()
'''


@pytest.mark.parametrize("edit", [("return 0.0", "return 1.0"), ("return 64", "return 32"),
                                  ("return 1\n", "return 2\n")],
                         ids=["a property", "a staticmethod", "a helper used only in a comprehension"])
def test_the_code_key_follows_properties_methods_and_comprehensions(tmp_path, edit):
    key = code_version(defined_in_main(tmp_path, CELL_WITH_A_CLASS, "loop"))
    assert code_version(defined_in_main(tmp_path, CELL_WITH_A_CLASS.replace(*edit), "loop")) != key


def test_results_from_other_code_are_trained_again(tiny, tmp_path):
    images, labels, sha = tiny
    store = ResultStore(tmp_path)
    jobs = [("lr", 0.01, FAST)]
    loop = defined_in_main(tmp_path, LOOP, "loop")
    first = run_configs(jobs, images, labels, sha, store, reuse=True, workers=1, log=quiet, train=loop)
    assert first[0].history["device"] == "cell"  # the loop it was given
    logs = []
    run_configs(jobs, images, labels, sha, store, reuse=True, workers=1, log=logs.append, train=loop)
    assert logs[0].startswith("reusing 1")
    edited = defined_in_main(tmp_path, LOOP.replace('"cell"', '"cell 2"'), "loop")
    for train in (edited, training.train):
        logs = []
        result = run_configs(jobs, images, labels, sha, store, reuse=True, workers=1, log=logs.append,
                             train=train)
        assert logs[0].startswith("training 1 run") and not any("reusing" in m for m in logs)
        assert result[0].code_version == code_version(train) != first[0].code_version
    assert result[0].history["device"] == "cpu"
    assert len(list(tmp_path.glob("lr/*.json"))) == 3


# ---------------------------------------------------------------- what the workers run


def test_the_workers_run_the_split_and_loop_they_are_given(tiny):
    """Closures defined here travel to the workers by value: the runs show they used them."""
    token = f"tag-{time.time_ns()}"

    def tagged_prepare(images, labels, device="cpu"):
        split = loader.prepare(images, labels, device, val_fraction=0.5)
        split.tag = token
        return split

    def tagged_train(cfg, split, augment=None, stopper=None, on_step=None, log=None):
        model, history = training.train(cfg, split, augment, stopper, on_step, log)
        history.device = f"{split.tag} {len(split.y_val)} {os.getpid()}"
        return model, history

    images, labels, sha = tiny
    jobs = [("lr", v, replace(FAST, lr=v)) for v in (0.01, 0.1)]
    pooled = run_configs(jobs, images, labels, sha, workers=2, log=quiet, prepare=tagged_prepare,
                         train=tagged_train)
    inline = run_configs(jobs, images, labels, sha, workers=1, log=quiet, prepare=tagged_prepare,
                         train=tagged_train)
    for pooled_run, inline_run in zip(pooled, inline, strict=True):
        tag, n_val, pid = pooled_run.history["device"].split()
        assert (tag, n_val) == (token, "1000") and int(pid) != os.getpid()  # run in a worker
        assert inline_run.history["device"] == f"{token} 1000 {os.getpid()}"
    assert without_seconds(pooled)[0]["epochs"] == without_seconds(inline)[0]["epochs"]
    default = run_configs(jobs[:1], images, labels, sha, workers=1, log=quiet)
    assert default[0].history["device"] == "cpu" and default[0].epochs[-1]["val_acc"] != inline[0].epochs[-1]["val_acc"]


PARENT = """
import os, sys
from dataclasses import replace
from pathlib import Path
from mnist_assignment import runner, training
from mnist_assignment.config import BASELINE
from mnist_assignment.data import SAMPLE_DIR, load_digits

MARKS = Path(sys.argv[1])


def marked_train(cfg, split, augment=None, stopper=None, on_step=None, log=None):
    (MARKS / str(os.getpid())).touch()
    return training.train(cfg, split, augment, stopper, on_step, log)


images, labels = load_digits(SAMPLE_DIR / "train.csv.gz")
long = replace(BASELINE, hidden=(64, 32), batch_size=16, epochs=500)
jobs = [("lr", v, replace(long, lr=v)) for v in (0.01, 0.02)]
runner.run_configs(jobs, images[:2000], labels[:2000], "sha", workers=2, log=print, train=marked_train)
"""


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its exit to be collected counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads processes from /proc")
def test_workers_stop_when_their_parent_dies(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(marks)], env=dict(os.environ, PYTHONPATH=str(ROOT)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 180
        while len(workers) < 2:  # each worker marks every run it starts (its warm-up first)
            assert parent.poll() is None, parent.stderr.read().decode()[-1000:]
            assert time.monotonic() < deadline, "the workers never started training"
            time.sleep(0.2)
            workers = [int(p.name) for p in marks.iterdir()]
        assert all(alive(pid) for pid in workers) and os.getpid() not in workers
        time.sleep(1.0)  # in the middle of a run
        parent.kill()  # SIGKILL: no chance to stop its pool
        parent.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if alive(pid)], "workers outlived their parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        parent.stderr.close()


# ---------------------------------------------------------------- single models


def test_single_models_are_reused_with_their_weights(tiny, tmp_path):
    images, labels, sha = tiny
    store = ResultStore(tmp_path)
    models = {"bn": replace(FAST, batchnorm=True, dropout=0.2)}  # also the batchnorm study's seed-0 run

    def schedule(log):
        return run_all(["batchnorm"], models, images, labels, sha, seeds=1, base=FAST, store=store, reuse=True,
                       workers=1, log=log)

    logs = []
    runs, trained = schedule(logs.append)
    assert logs[0] == "training 2 runs for 3 results on 1 worker"
    (weights,) = tmp_path.glob(f"{MODELS}/*.npz")
    logs = []
    runs_again, reused = schedule(logs.append)
    assert logs == ["reusing 3 stored results with matching config, data and code"]
    assert not any("unreadable or incomplete" in m for m in logs)
    first, again = trained["bn"][0].state_dict(), reused["bn"][0].state_dict()
    assert first.keys() == again.keys() and all(torch.equal(first[k], again[k]) for k in first)
    assert reused["bn"][1] == trained["bn"][1] and runs_again == runs
    split = loader.prepare(images, labels)
    model, history = reused["bn"]
    assert not model.training
    assert training.evaluate(model, split.x_val, split.y_val)[1] == history.final["val_acc"]
    # without its weights a single model is trained again, and the log says why
    weights.unlink()
    logs = []
    _, retrained = schedule(logs.append)
    assert any("unreadable or incomplete" in m and MODELS in m for m in logs)
    assert "training 1 run for 1 result on 1 worker" in logs
    assert all(torch.equal(first[k], retrained["bn"][0].state_dict()[k]) for k in first)
    assert weights.exists()
