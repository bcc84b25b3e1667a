"""Write mnist_assignment.ipynb (unexecuted) from the cells below; `make report` executes it.

Editing the notebook means editing this file and running `python scripts/build_notebook.py`;
the cells stay small because the work lives in the package.
"""

from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
CELLS: list[tuple[str, str]] = []


def md(text: str) -> None:
    CELLS.append(("markdown", text.strip()))


def code(text: str, tags: list[str] | None = None) -> None:
    CELLS.append(("code" if not tags else f"code:{','.join(tags)}", text.strip()))


md("""
# Handwritten digit recognition on MNIST with PyTorch

Kaggle's *digit-recognizer* data: 42,000 labelled 28×28 digits. We build a multi-layer perceptron,
train it with our own loop (SGD, learning rate 0.01, cross-entropy), and study what the learning
rate, the batch size, dropout and LayerNorm do — one factor at a time, every run from scratch, several
seeds each, reported as mean ± standard deviation. Every number in the text below is computed from
this run's results.

All code lives in the package `mnist_assignment/` (tested with `make test`); the cells here call it.
""")

code("""
# Parameters (papermill-style; `make report` / `make quick` inject their own values below)
DATA = "data/train.csv"  # Kaggle's train.csv; the bundled sample is used if it is missing
QUICK = False  # a smoke run: 1 seed, 2 epochs, no worker processes
SEEDS = 3  # seeds per configuration
EPOCHS = 20  # epochs per run (the assignment's budget)
OUT_DIR = "."  # figures/, results/ and submission.csv go here
WORKERS = None  # worker processes for the studies (None: one per core)
""", tags=["parameters"])

code("""
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch
from IPython.display import Markdown, display

from mnist_assignment import data, experiments, insights, models, numpy_mlp, plots, training
from mnist_assignment.config import BASELINE, PRESETS

if QUICK:
    SEEDS, EPOCHS, WORKERS = 1, 2, 1  # tiny runs: starting worker processes would cost more than they save
OUT = Path(OUT_DIR)
FIG = OUT / "figures"
STORE = experiments.ResultStore(OUT / "results")
path = Path(DATA) if Path(DATA).exists() else data.find_train_file()
images, labels, source = data.load_source(path)
BASE = replace(BASELINE, epochs=EPOCHS)
pd.set_option("display.precision", 4)
display(Markdown(insights.provenance(source, QUICK, SEEDS, EPOCHS)))
""")

md("""
## 1. Data preparation

**Loading and validity.** `data.load_digits` reads the CSV (or `.csv.gz`) and validates everything
before returning anything: the exact set of columns (reordered by name), integer pixels in 0..255,
labels 0..9, no blank cells, no ragged rows. A bad file stops with one line naming the file, row and
column. Here is what it returned, with the usual null check on top:
""")

code("""
frame = pd.DataFrame(images, columns=data.PIXELS).assign(label=labels)
print(f"shape: {frame.shape}  (rows, 784 pixels + label)")
print(f"missing values: {int(frame.isnull().sum().sum())}")
print(f"pixel range: {images.min()}..{images.max()}, dtype {images.dtype}; labels {labels.min()}..{labels.max()}")
pd.DataFrame({"digit": range(10), "count": torch.bincount(torch.from_numpy(labels), minlength=10).numpy()}).T
""")

code("""
plots.digit_grid(images[:30], [f"label {v}" for v in labels[:30]], FIG / "samples.png",
                 title="the first 30 training digits");
""")

md("""
**Stratified 80/20 split.** scikit-learn's `train_test_split(..., stratify=labels, random_state=0)`
keeps every digit's share the same in both parts, so the validation accuracy is not skewed by a
different class mix. The table and figure show the proportions of both parts.
""")

code("""
x_tr, x_va, y_tr, y_va = data.stratified_split(images, labels)
shares = pd.DataFrame({"train %": 100 * pd.Series(y_tr).value_counts(normalize=True).sort_index(),
                       "validation %": 100 * pd.Series(y_va).value_counts(normalize=True).sort_index()})
shares["difference (points)"] = shares["train %"] - shares["validation %"]
print(f"training part: {len(y_tr):,} digits, validation part: {len(y_va):,}")
display(shares.T.round(3))
plots.class_balance(y_tr, y_va, FIG / "class_balance.png");
""")

md("""
**Normalisation and the DataLoader.** Pixels are scaled to [0, 1] and standardised with the mean and
standard deviation of the *training* part only (no information from validation leaks in), once, not
per batch. The tensors then sit in memory (on the GPU when there is one), and a `torch.utils.data.DataLoader`
serves each batch with a single indexing operation from a freshly shuffled, seeded permutation.
""")

code("""
device = models.pick_device()
split = data.prepare(images, labels, device)
loader = data.make_loader(split.x_train, split.y_train, batch_size=64)
xb, yb = next(iter(loader))
print(f"device: {models.describe_device(device)}")
print(f"normalisation from the training part: mean {split.mean:.4f}, std {split.std:.4f}")
print(f"{len(loader)} batches per epoch; one batch: x {tuple(xb.shape)} {xb.dtype}, y {tuple(yb.shape)} {yb.dtype}")
""")

md("""
## 2. Architecture

A multi-layer perceptron: the 784 pixels go through two hidden layers of 128 and 64 units with ReLU
(the reference projects' 784-128-64-10),
then a linear layer to 10 logits (softmax is part of the loss). Each hidden block is
Linear → (optional norm) → ReLU → (optional Dropout); options that are off are `nn.Identity`, so
`forward` has no branches. Weights start from He initialisation, which is scaled for ReLU.
""")

code("""
model = models.MLP(BASELINE)
print(model)
layers = pd.DataFrame(models.parameter_table(model), columns=["parameter", "shape", "count"])
display(layers)
print(f"total trainable parameters: {models.count_parameters(model):,}")
plots.parameter_counts(models.parameter_table(model), FIG / "parameters.png");
""")

code("""
display(Markdown(insights.source_code(models.hidden_block, models.hidden_layers, models.MLP)))
""")

md("""
## 3. The training loop

Our own loop, shown below. The optimizer is plain SGD with learning rate 0.01 (the assignment's
choice: simple, and stable for this network) and the loss is cross-entropy, the negative log-likelihood
of the correct class under the softmax — the standard loss for a single-label classifier. Each epoch
records the average training loss and accuracy, then the validation loss and accuracy computed in
`eval()` mode without gradients. Sums stay on the device and are read once per epoch (no host sync per
step). A run whose loss becomes NaN, infinite or huge is stopped and marked *diverged*.
""")

code("""
display(Markdown(insights.source_code(training.train, training.evaluate)))
plots.cross_entropy_curve(FIG / "cross_entropy.png");
""")

md("""
## 4. Baseline training

The assignment's configuration: MLP 784-128-64-10, SGD lr 0.01, batch 64, seed 0. The training loss is
also logged every 75 iterations to show the noise within an epoch.
""")

code("""
model, baseline = training.train(replace(BASE, log_every=75), split)
plots.history_curves(baseline.to_dict(), f"baseline: MLP {insights.arch(BASE)}, SGD lr 0.01, batch 64",
                     FIG / "baseline_curves.png");
""")

code("""
plots.iteration_curve(baseline.iterations, baseline.to_dict(), 75, FIG / "baseline_iterations.png");
""")

code("""
final = baseline.final
display(Markdown(
    f"After {len(baseline.epochs)} epochs ({baseline.seconds:.0f} s on {models.describe_device(device)}) the "
    f"baseline reaches **{insights.pct(final['val_acc'])} validation accuracy** (validation loss "
    f"{final['val_loss']:.4f}); training accuracy is {insights.pct(final['train_acc'])}, so the gap between the "
    f"two is {100 * (final['train_acc'] - final['val_acc']):.2f} points. "
    + ("The validation loss was still falling in the last epoch: more epochs would help."
       if baseline.epochs[-1]['val_loss'] < baseline.epochs[-2]['val_loss']
       else "The validation loss stopped falling before the last epoch.")))
""")

md("""
## 5. Analysis

Every study starts from the baseline and changes exactly **one** factor; every run trains from scratch.
The same seeds are used for every value of a study, so runs with the same seed start from the same
weights and see the data in the same order. Curves show the mean over seeds with a ±1 standard
deviation band.

All studies of sections 5-7 are trained here, in one go. Runs that see the same batches — the runs of
a seed at batch 64, whatever their learning rate, dropout rate or LayerNorm — train together as one
*stack*: one batched matmul per layer serves them all, each keeps its own weights, optimizer state and
History (`mnist_assignment/stacked.py`; the tests check that a stacked run matches the same run trained
alone, step by step). Stacks and lone runs go to worker processes, one thread each; a run's time in the
tables below is its share of its stack's time on one core.
""")

code("""
STUDIES = ["lr", "batch_size", "regularization", "dropout", "adam_combos", "optimizers", "batchnorm"]
started = time.perf_counter()
runs = experiments.run_studies(STUDIES, images, labels, source.sha256, seeds=SEEDS, base=BASE, store=STORE,
                               workers=WORKERS)
display(Markdown(insights.study_runtime(runs, time.perf_counter() - started)))
""")

md("""
### 5.1 Learning rate
""")

code("""
lr_runs = runs["lr"]
lr_table = experiments.summarise(lr_runs)
plots.study_curves(lr_runs, "learning rate", FIG / "lr_curves.png");
""")

code("""
plots.study_summary(lr_table, "learning rate", "lr", FIG / "lr_summary.png")
display(experiments.display_table(lr_table, "learning rate"))
""")

code("""
display(Markdown(insights.lr_insight(lr_table, lr_runs)))
""")

md("""
### 5.2 Batch size

With a fixed number of epochs a larger batch also means fewer optimizer steps, so we plot the same runs
twice: against epochs, and against optimizer steps.
""")

code("""
bs_runs = runs["batch_size"]
bs_table = experiments.summarise(bs_runs)
plots.study_curves(bs_runs, "batch size", FIG / "batch_curves.png");
""")

code("""
n_train = len(split.y_train)
plots.study_curves(bs_runs, "batch size", FIG / "batch_curves_steps.png", x="steps",
                   steps_per_epoch=lambda b: -(-n_train // b));
""")

code("""
plots.study_summary(bs_table, "batch size", "batch_size", FIG / "batch_summary.png")
display(experiments.display_table(bs_table, "batch size"))
display(Markdown(insights.batch_insight(bs_table, n_train, EPOCHS)))
""")

md("""
## 6. Bonus: dropout and LayerNorm

A 2×2 design — neither, dropout (p = 0.2), LayerNorm, both — then a sweep of the dropout rate from
0.1 to 0.9. Dropout is active only in training; validation runs in `eval()` mode.
""")

code("""
reg_runs = runs["regularization"]
reg_table = experiments.summarise(reg_runs)
plots.study_curves(reg_runs, "regularisation", FIG / "regularization_curves.png");
""")

code("""
plots.study_summary(reg_table, "regularisation", "regularization", FIG / "regularization_summary.png")
display(experiments.display_table(reg_table, "regularisation"))
""")

code("""
drop_runs = runs["dropout"]
drop_table = experiments.summarise(drop_runs)
plots.study_curves(drop_runs, "dropout rate", FIG / "dropout_curves.png")
plots.study_summary(drop_table, "dropout rate", "dropout", FIG / "dropout_summary.png")
display(experiments.display_table(drop_table, "dropout rate"))
display(Markdown(insights.regularization_insight(reg_table, drop_table)))
""")

md("""
## 7. Extensions

### 7.1 Adam with the reference projects' learning-rate / dropout combinations
""")

code("""
adam_runs = runs["adam_combos"]
adam_table = experiments.summarise(adam_runs)
plots.study_curves(adam_runs, "Adam", FIG / "adam_curves.png")
display(experiments.display_table(adam_table, "Adam (lr, dropout)"))
best_adam = adam_table.loc[adam_table.final_val_acc.idxmax()]
sgd = experiments.summarise([r for r in reg_runs if r.value == "none"]).iloc[0]
display(Markdown(
    f"The best Adam combination, {best_adam.value}, reaches {insights.pct(best_adam.final_val_acc, best_adam.final_val_acc_std)} "
    f"against {insights.pct(sgd.final_val_acc, sgd.final_val_acc_std)} for plain SGD at lr 0.01 with the same "
    f"network and epochs: Adam's per-parameter step sizes make much faster progress per epoch "
    + ("and it comes out ahead." if best_adam.final_val_acc > sgd.final_val_acc else
       "but here it does not come out ahead.")))
""")

md("""
### 7.2 Optimizers

Plain SGD, SGD with momentum 0.9 and Adam, each at a few learning rates near its usual sweet spot (SGD's
own sweep is section 5.1); same network, batch 64, epochs and seeds as the baseline.
""")

code("""
opt_runs = runs["optimizers"]
opt_table = experiments.summarise(opt_runs)
plots.study_curves(opt_runs, "optimizer", FIG / "optimizer_curves.png")
display(experiments.display_table(opt_table, "optimizer"))
display(Markdown(insights.describe_best_and_ties(opt_table, "optimizer")
                 + f" For reference, plain SGD at the assignment's lr 0.01: {insights.pct(sgd.final_val_acc, sgd.final_val_acc_std)}."))
""")

md("""
### 7.3 BatchNorm against LayerNorm

BatchNorm normalises each unit over the *batch*, so in training it uses the batch's statistics and in
evaluation the running averages it collected; LayerNorm normalises each example over its *units* and
behaves the same in both modes. A reference project found BatchNorm hurt (67.1% with dropout); a
common cause is evaluating in training mode. We train both properly, then also evaluate the BatchNorm
model the wrong way to show the size of that mistake.
""")

code("""
bn_runs = runs["batchnorm"]
norm_table = pd.concat([reg_table, experiments.summarise(bn_runs)], ignore_index=True)
plots.study_curves([r for r in reg_runs if r.value in ("none", "LayerNorm")] + bn_runs, "normalisation",
                   FIG / "norm_curves.png")
display(experiments.display_table(norm_table, "normalisation"))
bn_model, bn_hist = training.train(replace(BASE, batchnorm=True, dropout=0.2), split, verbose=False)
right = training.evaluate(bn_model, split.x_val, split.y_val)[1]
bn_model.train()  # the mistake: batch statistics (and dropout) at evaluation time, in small batches
with torch.no_grad():
    wrong_acc = sum((bn_model(xb).argmax(1) == yb).sum().item()
                    for xb, yb in zip(split.x_val.split(16), split.y_val.split(16))) / len(split.y_val)
bn, ln = insights.row(norm_table, "BatchNorm"), insights.row(norm_table, "LayerNorm")
display(Markdown(
    f"Trained and evaluated properly, BatchNorm reaches {insights.pct(bn.final_val_acc, bn.final_val_acc_std)} and "
    f"LayerNorm {insights.pct(ln.final_val_acc, ln.final_val_acc_std)}"
    + (" — within noise of each other." if experiments.within_noise(norm_table, "BatchNorm", "LayerNorm") else ".")
    + f" The BatchNorm + dropout model scores {insights.pct(right)} in `eval()` mode but {insights.pct(wrong_acc)} when "
    "evaluated in `train()` mode with batches of 16: the normalisation then depends on which other digits share the "
    "batch, and dropout is still on."))
""")

md("""
### 7.4 A CNN against the MLP

The `cnn` preset: three 3×3 convolution blocks (24, 48 and 96 channels, BatchNorm, ReLU, 2×2 max-pool), a
128-unit hidden layer, dropout 0.1; AdamW with a one-cycle schedule, label smoothing 0.1 and random
shifts of up to 2 pixels as augmentation. The `best-mlp` preset uses the same training recipe on a
1024-1024 MLP with LayerNorm and dropout 0.3 (20 epochs). One seed each (they are the expensive runs).
""")

code("""
cnn_cfg = PRESETS["cnn"] if not QUICK else replace(PRESETS["cnn"], epochs=1)
mlp_cfg = PRESETS["best-mlp"] if not QUICK else replace(PRESETS["best-mlp"], epochs=1)
cnn, cnn_hist = training.train(cnn_cfg, split)
best_mlp, best_mlp_hist = training.train(mlp_cfg, split)
""")

code("""
compare = pd.DataFrame([
    {"model": name, "parameters": models.count_parameters(m), "M multiply-adds / image": models.multiply_adds(m) / 1e6,
     "epochs": len(h.epochs),
     "final val acc %": 100 * h.final["val_acc"], "best val acc %": 100 * max(e["val_acc"] for e in h.epochs),
     "seconds": h.seconds}
    for name, m, h in [("baseline MLP (SGD)", model, baseline), ("best MLP", best_mlp, best_mlp_hist),
                       ("CNN", cnn, cnn_hist)]])
display(compare.round(2))
plots.history_curves(cnn_hist.to_dict(), "CNN preset", FIG / "cnn_curves.png")
display(Markdown(
    f"The CNN reaches **{insights.pct(cnn_hist.final['val_acc'])}** in {cnn_hist.seconds:.0f} s with "
    f"{models.count_parameters(cnn):,} parameters; the best MLP {insights.pct(best_mlp_hist.final['val_acc'])} "
    f"in {best_mlp_hist.seconds:.0f} s with {models.count_parameters(best_mlp):,}. Convolutions share weights "
    "across positions and pooling tolerates small shifts, which is exactly the structure of handwritten digits. "
    + insights.equal_budget(cnn_hist.to_dict(), best_mlp_hist.to_dict(), models.multiply_adds(cnn),
                            models.multiply_adds(best_mlp))))
""")

md("""
### 7.5 Where the best model goes wrong

Confusion matrix and per-class accuracy of the CNN on the validation part, and a gallery of the digits
it gets wrong (true → predicted).
""")

code("""
pred = training.predict(cnn, split.x_val).cpu().numpy()
truth = split.y_val.cpu().numpy()
plots.confusion(truth, pred, FIG / "confusion.png")
wrong = (pred != truth).nonzero()[0][:30]
plots.digit_grid(x_va[wrong], [f"{truth[i]} → {pred[i]}" for i in wrong], FIG / "mistakes.png",
                 title=f"{(pred != truth).sum()} of {len(truth):,} validation digits misclassified (first 30)");
""")

md("""
### 7.6 Early stopping

Adam at lr 0.001 with dropout 0.2 (the first reference combination) with a patience of 3 epochs on the
validation loss: training stops when it has not improved for 3 epochs and the best weights are restored.
""")

code("""
es_cfg = replace(BASE, optimizer="adam", lr=0.001, dropout=0.2, epochs=max(EPOCHS, 2) * 2, patience=3)
_, es_hist = training.train(es_cfg, split, verbose=False)
best = es_hist.epochs[es_hist.best_epoch - 1]
display(Markdown(
    (f"Stopped after {len(es_hist.epochs)} of at most {es_cfg.epochs} epochs"
     if es_hist.stopped_early else f"Did not stop early within {es_cfg.epochs} epochs")
    + f"; the best validation loss, {best['val_loss']:.4f} (accuracy {insights.pct(best['val_acc'])}), was at epoch "
    f"{es_hist.best_epoch}, and those weights were kept. Training time saved against the full budget: "
    f"{es_cfg.epochs - len(es_hist.epochs)} epochs."))
plots.history_curves(es_hist.to_dict(), f"early stopping (best epoch {es_hist.best_epoch})", FIG / "early_stopping.png");
""")

md("""
### 7.7 A NumPy network from scratch

The baseline network written again in NumPy with hand-written forward and backward passes (the tests
check its gradients against PyTorch's autograd to a relative error below 1e-6 in float64). Same
widths, He initialisation, SGD at lr 0.01, batch 64, on the same normalised split.
""")

code("""
display(Markdown(insights.source_code(numpy_mlp.NumpyMLP.forward, numpy_mlp.NumpyMLP.loss_and_grads)))
""")

code("""
xs = [t.cpu().numpy() for t in (split.x_train, split.y_train, split.x_val, split.y_val)]
_, np_hist = numpy_mlp.fit_numpy(*xs, hidden=BASELINE.hidden, lr=0.01, batch_size=64, epochs=EPOCHS)
plots.history_curves(np_hist.to_dict(), f"NumPy MLP from scratch ({insights.arch(BASE)}, SGD 0.01, batch 64)",
                     FIG / "numpy_curves.png")
display(Markdown(
    f"The NumPy network reaches {insights.pct(np_hist.final['val_acc'])} after {len(np_hist.epochs)} epochs in "
    f"{np_hist.seconds:.0f} s; the PyTorch baseline, same recipe, {insights.pct(baseline.final['val_acc'])} in "
    f"{baseline.seconds:.0f} s. (They start from different random weights, so the curves agree in shape, not to "
    "the digit.)"))
""")

md("""
### 7.8 Kaggle submission

The CNN predicts Kaggle's `test.csv` (found next to the training file) and we write `submission.csv`
in Kaggle's format: `ImageId,Label`, ImageId counting from 1.
""")

code("""
test_path = next((p for p in (path.with_name("test.csv"), path.with_name("test.csv.gz")) if p.exists()), None)
if test_path is None:
    print(f"no test.csv next to {path}: skipping the submission")
else:
    test_images, _ = data.load_digits(test_path, kind="test")
    test_pred = training.predict(cnn, data.normalise(test_images, split.mean, split.std).to(device)).cpu()
    submission = pd.DataFrame({"ImageId": range(1, len(test_pred) + 1), "Label": test_pred.numpy()})
    OUT.mkdir(parents=True, exist_ok=True)
    submission.to_csv(OUT / ".submission.tmp", index=False)
    (OUT / ".submission.tmp").replace(OUT / "submission.csv")
    print(f"wrote {OUT / 'submission.csv'}: {len(submission):,} rows")
    display(pd.DataFrame({"predicted count": submission.Label.value_counts().sort_index()}).T)
    plots.digit_grid(test_images[:20], [f"pred {v}" for v in test_pred[:20].tolist()], FIG / "test_predictions.png",
                     title="the first 20 test digits and the CNN's predictions");
""")

md("""
## 8. Conclusions
""")

code("""
lr_best = experiments.best_value(lr_table)
bs_best = experiments.best_value(bs_table)
reg_best = experiments.best_value(reg_table)
reg_ties = [v for v in reg_table.value if v != reg_best and experiments.within_noise(reg_table, reg_best, v)]
best_rows = [(f"SGD, lr {lr_best:g}", insights.row(lr_table, lr_best)),
             (f"SGD, batch {insights.fmt_value(bs_best)}", insights.row(bs_table, bs_best)),
             ("no regularisation" if reg_best == "none" else reg_best, insights.row(reg_table, reg_best)),
             (f"Adam, {best_adam.value}", best_adam)]
plots.bars([name for name, _ in best_rows] + ["best MLP (1 seed)", "CNN (1 seed)"],
           [100 * r.final_val_acc for _, r in best_rows] + [100 * best_mlp_hist.final["val_acc"], 100 * cnn_hist.final["val_acc"]],
           [100 * r.final_val_acc_std for _, r in best_rows] + [0, 0],
           "final validation accuracy (%)", "the best setting of each study, and the two extension models",
           FIG / "summary.png")
display(Markdown(f'''
- **Data.** {source.rows:,} digits, classes roughly balanced; the stratified split keeps every class's share
  within {shares["difference (points)"].abs().max():.2f} points between the parts.
- **Baseline.** The {insights.arch(BASE)} MLP with SGD at lr 0.01 reaches {insights.pct(baseline.final["val_acc"])}
  after {len(baseline.epochs)} epochs.
- **Learning rate.** Best at {lr_best:g} of the values tried ({insights.pct(insights.row(lr_table, lr_best).final_val_acc)});
  {int((lr_table.diverged > 0).sum())} value(s) diverged. {"The assignment's 0.01 is safe but slow for this budget." if lr_best > 0.01 else ""}
- **Batch size.** Best at {insights.fmt_value(bs_best)}; with a fixed number of epochs, the batch size also sets the number of updates.
- **Regularisation.** Highest mean of the 2×2: {reg_best}{f" (within noise of it: {', '.join(reg_ties)})" if reg_ties else ""}.
- **Beyond the assignment.** The CNN reaches {insights.pct(cnn_hist.final["val_acc"])}, the best MLP
  {insights.pct(best_mlp_hist.final["val_acc"])}.
- **Next.** Train longer or with momentum/Adam and a schedule at the good learning rates; tune the batch size
  together with the learning rate (scale them together); more seeds where differences are within noise.
'''))
""")


def build() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    for kind, source in CELLS:
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            tags = kind.split(":", 1)[1].split(",") if ":" in kind else []
            nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": tags} if tags else {}))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"  # stable ids keep diffs small
    return nb


if __name__ == "__main__":
    target = ROOT / "mnist_assignment.ipynb"
    nbformat.write(build(), target)
    print(f"wrote {target} ({len(CELLS)} cells)")
