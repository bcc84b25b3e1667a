"""The studies: one factor at a time from one baseline, every run from scratch, paired seeds.

A study is a list of configs made with `dataclasses.replace`; every (config, seed) is one run.
"""

from __future__ import annotations

from dataclasses import replace

from .config import BASELINE, PRESETS, TrainConfig

# study name -> (label of the factor, [(value, overrides of the baseline)])
STUDIES: dict[str, tuple[str, list[tuple[object, dict]]]] = {
    "lr": ("learning rate", [(v, {"lr": v}) for v in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)]),
    "batch_size": ("batch size", [(v, {"batch_size": v}) for v in (16, 32, 64, 128, 256, 512, 2048)]),
    "regularization": ("regularisation", [
        ("none", {}),
        ("dropout 0.2", {"dropout": 0.2}),
        ("LayerNorm", {"layernorm": True}),
        ("dropout 0.2 + LayerNorm", {"dropout": 0.2, "layernorm": True}),
    ]),
    "dropout": ("dropout rate", [(v, {"dropout": v}) for v in (0.1, 0.3, 0.5, 0.7, 0.9)]),
    # the reference projects' Adam combinations: (learning rate, dropout)
    "adam_combos": ("Adam (lr, dropout)", [
        (f"lr {lr:g}, dropout {p:g}", {"optimizer": "adam", "lr": lr, "dropout": p})
        for lr, p in ((0.001, 0.2), (0.0005, 0.4), (0.0001, 0.6))
    ]),
    # extensions: each optimizer at a few learning rates around its usual sweet spot
    "optimizers": ("optimizer", [
        (f"{name} lr {lr:g}", {"optimizer": opt, "lr": lr})
        for name, opt, lrs in (("SGD", "sgd", (0.1,)), ("momentum", "momentum", (0.01, 0.03)),
                               ("Adam", "adam", (0.0003, 0.001, 0.01)))
        for lr in lrs
    ]),
    # BatchNorm, alone and with dropout (the reference project's "BatchNorm hurts" setting);
    # compare with the regularization study's rows for none / LayerNorm
    "batchnorm": ("normalisation", [
        ("BatchNorm", {"batchnorm": True}),
        ("BatchNorm + dropout 0.2", {"batchnorm": True, "dropout": 0.2}),
    ]),
}
LOG_AXIS = {"lr", "batch_size"}


def study_configs(study: str, base: TrainConfig = BASELINE) -> list[tuple[object, TrainConfig]]:
    """(value, config) for each value of a study: the baseline with exactly one factor changed."""
    if study not in STUDIES:
        raise ValueError(f"unknown study {study!r}; choose from {', '.join(STUDIES)}")
    return [(value, replace(base, **overrides)) for value, overrides in STUDIES[study][1]]



def study_jobs(studies: list[str], seeds: int, base: TrainConfig) -> list[tuple[str, object, TrainConfig]]:
    """Every value of every study with the same seeds 0..seeds-1 (paired init and data order)."""
    return [(study, value, replace(cfg, seed=seed))
            for study in studies for value, cfg in study_configs(study, base) for seed in range(seeds)]



def single_models(base: TrainConfig = BASELINE, quick: bool = False, cnn_seeds: int = 1) -> dict[str, TrainConfig]:
    """The notebook's single runs of section 7 (7.3-7.6), trained in the studies' schedule.

    The CNN trains on seeds 0..cnn_seeds-1 (named by seed_name), so that the report can give its
    spread like every study's; the other models once, on seed 0.
    """
    presets = {name: replace(PRESETS[name], epochs=1) if quick else PRESETS[name] for name in ("cnn", "best-mlp")}
    return {
        **presets,
        **{seed_name("cnn", s): replace(presets["cnn"], seed=s) for s in range(1, cnn_seeds)},
        # twice the studies' epochs, so that there is room to stop before the end
        "early stopping": replace(base, optimizer="adam", lr=0.001, dropout=0.2, epochs=max(base.epochs, 2) * 2,
                                  patience=3),
        "BatchNorm + dropout": replace(base, batchnorm=True, dropout=0.2),
    }


def seed_name(name: str, seed: int) -> str:
    """A single model's name in single_models for this seed: "cnn", "cnn seed 1", ..."""
    return name if seed == 0 else f"{name} seed {seed}"
