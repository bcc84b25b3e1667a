"""The one frozen config every run is made from; a sweep is a list of `dataclasses.replace` copies."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
SCHEDULES = ("constant", "onecycle")
MODELS = ("mlp", "cnn")
MAX_LR = 1e30  # far beyond any useful rate, and still a float32 (a larger one overflows inside torch)
MAX_TTA = 3  # 49 views of every image: more only costs time
MAX_ELASTIC = 100.0  # strength (alpha) of elastic distortion: far beyond this the digits turn to noise
MAX_WIDTH = 65_536  # a wider layer would not fit in memory on the machines this runs on


@dataclass(frozen=True)
class TrainConfig:
    model: str = "mlp"  # "mlp" or "cnn"
    hidden: tuple[int, ...] = (128, 64)  # mlp: hidden widths; cnn: widths of its fc layers
    channels: tuple[int, ...] = (32, 64)  # cnn only: conv widths, one 2x2 pool after each
    dropout: float = 0.0  # after every hidden ReLU
    layernorm: bool = False
    batchnorm: bool = False
    optimizer: str = "sgd"  # sgd | momentum (sgd, 0.9) | adam | adamw
    lr: float = 0.01  # the assignment's SGD learning rate
    weight_decay: float = 0.0
    schedule: str = "constant"  # "onecycle": warm up then anneal, stepped every batch
    label_smoothing: float = 0.0
    shift: int = 0  # augmentation: random translation of up to this many pixels
    elastic: float = 0.0  # augmentation: elastic distortion of this strength (training.elastic_distort); 0 = off
    tta: int = 0  # test time: predict from the mean softmax over every shift of up to tta pixels; 0 = off
    batch_size: int = 64
    epochs: int = 20
    patience: int = 0  # early stopping on validation loss; 0 = off
    log_every: int = 0  # also record the training loss every k iterations; 0 = off
    seed: int = 0

    def __post_init__(self):
        # lists arrive from JSON and argparse; tuples keep the config hashable
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        problems = []
        if self.model not in MODELS:
            problems.append(f"model must be one of {', '.join(MODELS)}, not {self.model!r}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if not self.hidden or any(h < 1 for h in self.hidden) or any(c < 1 for c in self.channels):
            problems.append(f"need at least one hidden width, all positive; got {list(self.hidden)}")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout must be in [0, 1), got {self.dropout}")
        if self.layernorm and self.batchnorm:
            problems.append("choose layernorm or batchnorm, not both")
        if not 0 < self.lr <= MAX_LR:  # also refuses NaN and inf
            problems.append(f"lr must be positive and at most {MAX_LR:g}, got {self.lr}")
        if not 0 <= self.weight_decay <= MAX_LR or not 0 <= self.label_smoothing < 1:
            problems.append("weight_decay must be in [0, 1e30] and label_smoothing in [0, 1)")
        if any(w > MAX_WIDTH for w in (*self.hidden, *self.channels)):
            problems.append(f"widths and channels must be at most {MAX_WIDTH:,}")
        if not 0 <= self.seed < 2**63:
            problems.append(f"seed must be in 0..2**63-1, got {self.seed}")
        if self.batch_size < 1 or self.epochs < 1:
            problems.append("batch_size and epochs must be at least 1")
        if self.patience < 0 or self.log_every < 0 or self.shift < 0:
            problems.append("patience, log_every and shift must not be negative")
        if not 0 <= self.elastic <= MAX_ELASTIC:  # also refuses NaN
            problems.append(f"elastic must be in [0, {MAX_ELASTIC:g}], got {self.elastic}")
        if not 0 <= self.tta <= MAX_TTA:
            problems.append(f"tta must be in 0..{MAX_TTA} ((2 tta + 1)^2 views of every image), got {self.tta}")
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict:
        out = asdict(self)
        out["hidden"], out["channels"] = list(self.hidden), list(self.channels)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
        return cls(**data)


# the assignment's model: 784-128-64-10 (the reference projects' MLP), ReLU, SGD lr 0.01,
# cross-entropy, batch 64; small enough that the studies' ~90 runs stay cheap
BASELINE = TrainConfig()

PRESETS = {
    "baseline": BASELINE,
    # the CNN's training recipe on a wide MLP, plus elastic distortions (which regularise it better than
    # dropout, so none) and 9 shifted views: >= 99.0% on every seed 0-2 in ~2-3 min on 2 cores (bench/README.md)
    "best-mlp": TrainConfig(hidden=(1024, 1024), layernorm=True, optimizer="adamw", lr=3e-3,
                            weight_decay=0.05, schedule="onecycle", label_smoothing=0.1, shift=2,
                            elastic=15.0, tta=1, batch_size=128, epochs=20),
    # three conv blocks of 16-32-64 channels, BatchNorm after each pool (models.conv_block), 16 epochs,
    # predicting from 9 shifted views: >= 99.5% on every seed 0-2 in under 3 min on 2 cores (README)
    "cnn": TrainConfig(model="cnn", channels=(16, 32, 64), hidden=(128,), batchnorm=True, dropout=0.1,
                       optimizer="adamw", lr=3e-3, weight_decay=0.05, schedule="onecycle",
                       label_smoothing=0.1, shift=2, tta=1, batch_size=64, epochs=16),
}
