"""The studies: one factor at a time from the baseline, paired seeds, and the notebook's single models."""

from dataclasses import asdict, replace

import pytest

from mnist_assignment.config import BASELINE, PRESETS
from mnist_assignment.runner import run_label
from mnist_assignment.studies import STUDIES, seed_name, single_models, study_configs, study_jobs


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
    with pytest.raises(ValueError, match="unknown study 'colour'"):
        study_configs("colour")


def test_every_value_runs_on_the_same_seeds_from_the_given_base():
    base = replace(BASELINE, epochs=3)
    jobs = study_jobs(["lr", "regularization"], seeds=2, base=base)
    assert len(jobs) == 2 * (len(STUDIES["lr"][1]) + len(STUDIES["regularization"][1]))
    seeds: dict = {}
    for study, value, cfg in jobs:
        seeds.setdefault((study, value), []).append(cfg.seed)
        assert cfg.epochs == 3
        assert replace(cfg, seed=0) == dict(study_configs(study, base))[value]  # only the seed differs
    assert all(s == [0, 1] for s in seeds.values())


def test_the_notebooks_single_models_follow_the_studies_epochs():
    base = replace(BASELINE, epochs=5)
    full, quick = single_models(base), single_models(base, quick=True)
    assert full["cnn"] == PRESETS["cnn"] and quick["cnn"].epochs == quick["best-mlp"].epochs == 1
    assert full["early stopping"].epochs == 10 and full["early stopping"].patience > 0
    assert full["BatchNorm + dropout"] == replace(base, batchnorm=True, dropout=0.2) == quick["BatchNorm + dropout"]


def test_the_cnn_trains_on_every_seed_under_names_the_notebook_can_find():
    three = single_models(BASELINE, cnn_seeds=3)
    cnns = [three[seed_name("cnn", s)] for s in range(3)]
    assert [c.seed for c in cnns] == [0, 1, 2] and cnns[0] == PRESETS["cnn"]
    assert all(replace(c, seed=0) == PRESETS["cnn"] for c in cnns)  # the preset itself, only the seed differs
    assert set(three) - set(single_models(BASELINE)) == {"cnn seed 1", "cnn seed 2"}
    quick = single_models(BASELINE, quick=True, cnn_seeds=2)
    assert quick["cnn seed 1"] == replace(quick["cnn"], seed=1)  # quick mode's 1 epoch on every seed
    assert run_label("models", "cnn seed 1", 1) == "models cnn seed 1"  # the seed said once
    assert [run_label(s, v, 1) for s, v in (("models", "cnn"), ("lr", 0.01))] == [
        "models cnn seed 1", "lr 0.01 seed 1"]
