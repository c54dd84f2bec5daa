"""Before the network: k-nearest neighbours, a linear SVM and a softmax classifier
on MNIST, from scratch (classifiers/), compared with the MLP of train.py.

    python -m classifiers.compare                            # all of it: ~7 minutes on a busy 2-core machine
    python -m classifiers.compare --data path/to/mnist.npz   # a local copy, as for train.py
    python -m classifiers.compare --quick                    # a smoke run in seconds, into runs/

On train.py's split (50,000 training images, the last 10,000 training images
for validation, the test set once at the end):
  kNN      times the three distance implementations on a small slice; chooses
           k by 5-fold cross-validation on a subset of the training set; then
           classifies the validation and test sets with the chosen k and all
           50,000 training images;
  linear   trains a linear SVM and a softmax classifier for every learning
           rate and regularisation strength of a grid, keeps the best on the
           validation set, and evaluates it on the test set;
  MLP      its row is read from train.py's results.json (and its prediction
           time measured with model.npz).
Writes to --assets: knn_cv.png, linear_loss.png, linear_search.png,
templates.png; to --out: classifiers.md (the comparison table and every figure
of the run) and classifiers.json (the same as numbers).
"""
import json
import os
import resource
import sys
import time

import numpy as np

from classifiers import KNearestNeighbor, LinearSVM, Softmax
from classifiers.knn import BLOCK_ROWS
from data import (DATA_HELP, NUM_CLASSES, VAL_SIZE, DataError, default_data_path, load_mnist,
                  prepare)
from fileio import save_figure, tile, write_atomically, write_json
from model import MLP
from cli import make_parser, check_writable, checked, positive_int, single_blas_thread

KS = (1, 3, 5, 8, 10, 12, 15, 20, 50, 100)  # k tried by cross-validation
FOLDS = 5
LEARNING_RATES = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
REGS = (1e-5, 1e-4, 1e-3, 1e-2)
BATCH_SIZE = 200
SLICE = (100, 5000)  # test x training images on which the three distance methods are timed

# --quick: every stage on a few thousand images, for a smoke test.
QUICK = dict(train_size=5000, eval_size=1000, cv_size=1000, iters=300,
             learning_rates=(0.1, 0.3), regs=(1e-5, 1e-4), slice=(20, 500))


def parse_args(argv=None):
    p = make_parser("k-nearest neighbours, a linear SVM and a softmax classifier on MNIST, "
                    "from scratch, compared with the MLP of train.py.", __spec__)
    p.add_argument("--data", default=default_data_path(), help=DATA_HELP)
    p.add_argument("--out", default=None,
                   help="folder for classifiers.md and classifiers.json "
                   "(default: docs/reports; runs/classifiers-quick with --quick)")
    p.add_argument("--assets", default=None,
                   help="folder for the PNG figures (default: docs/images; runs/classifiers-quick "
                   "with --quick)")
    p.add_argument("--results", default="results.json",
                   help="train.py's results.json, for the MLP's row")
    p.add_argument("--model", default="model.npz",
                   help="train.py's model.npz, to time the MLP's predictions")
    p.add_argument("--cv-size", default=10000,
                   type=checked(int, lambda v: v >= 2 * FOLDS, f"an integer >= {2 * FOLDS}"),
                   help="kNN cross-validation uses the first CV_SIZE training images "
                   "(1000 with --quick)")
    p.add_argument("--iters", type=positive_int, default=10000,
                   help=f"SGD iterations (batches of {BATCH_SIZE}) per linear-classifier "
                   "trial (300 with --quick)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the linear classifiers' initial weights and batches")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run in seconds: 5,000 training images, 1,000 validation "
                   "and test images, a 2x2 grid; not for the figures")
    args = p.parse_args(argv)
    default_folder = os.path.join("runs", "classifiers-quick") if args.quick else None
    args.out = args.out or default_folder or os.path.join("docs", "reports")
    args.assets = args.assets or default_folder or os.path.join("docs", "images")
    if args.quick:
        args.cv_size = min(args.cv_size, QUICK["cv_size"])
        args.iters = min(args.iters, QUICK["iters"])
    return args


def timed(f, *args, **kwargs):
    """(f(*args, **kwargs), seconds it took)."""
    start = time.perf_counter()
    result = f(*args, **kwargs)
    return result, time.perf_counter() - start


def median_seconds(f, repeats=3):
    return float(np.median([timed(f)[1] for _ in range(repeats)]))


# ---- k-nearest neighbours ----------------------------------------------------
def time_distance_methods(X_train, X_test):
    """Seconds of each distance implementation on X_test against X_train (the
    slow one once, the others the median of 3) and their largest relative
    disagreement with the two-loop version."""
    knn = KNearestNeighbor()
    knn.train(X_train, np.zeros(len(X_train), dtype=np.int64))
    reference, two = timed(knn.compute_distances_two_loops, X_test)
    seconds = {"two_loops": two}
    disagreement = {}
    for name, method in (("one_loop", knn.compute_distances_one_loop),
                         ("no_loops", knn.compute_distances_no_loops)):
        seconds[name] = median_seconds(lambda: method(X_test))
        dists = method(X_test)
        disagreement[name] = float(np.max(np.abs(dists - reference)) / np.max(reference))
    return seconds, disagreement


def accuracy_per_k(knn, X, y, ks=KS):
    """Accuracy of the trained knn on (X, y) for every k in ks: the distances of
    each block of test images are computed once and shared by every k."""
    correct = np.zeros(len(ks))
    for start in range(0, len(X), BLOCK_ROWS):
        dists = knn.compute_distances_no_loops(X[start:start + BLOCK_ROWS])
        for i, k in enumerate(ks):
            correct[i] += np.sum(knn.predict_labels(dists, k) == y[start:start + BLOCK_ROWS])
    return correct / len(X)


def cross_validate_k(X, y, ks=KS, folds=FOLDS):
    """accuracies (len(ks), folds): kNN with each k, trained on all folds but
    one and tested on that one."""
    X_folds, y_folds = np.array_split(X, folds), np.array_split(y, folds)
    knn = KNearestNeighbor()
    accuracies = []
    for f in range(folds):
        knn.train(np.concatenate(X_folds[:f] + X_folds[f + 1:]),
                  np.concatenate(y_folds[:f] + y_folds[f + 1:]))
        accuracies.append(accuracy_per_k(knn, X_folds[f], y_folds[f], ks))
    return np.array(accuracies).T


def run_knn(train, val, test, args, say):
    (X, y), (X_val, y_val), (X_test, y_test) = train, val, test
    n_test, n_train = QUICK["slice"] if args.quick else SLICE
    say(f"\nkNN: the three distance implementations on {n_test} test x {n_train} "
        "training images")
    seconds, disagreement = time_distance_methods(X[:n_train], X_test[:n_test])
    for name in ("two_loops", "one_loop", "no_loops"):
        agree = (f"  (max relative difference {disagreement[name]:.1e})"
                 if name in disagreement else "")
        say(f"  {name.replace('_', ' '):9}  {seconds[name]:8.4f} s  "
            f"{seconds['two_loops'] / seconds[name]:7.0f}x{agree}")

    cv_size = min(args.cv_size, len(X))
    say(f"kNN: {FOLDS}-fold cross-validation on the first {cv_size} training images")
    cv, cv_seconds = timed(cross_validate_k, X[:cv_size], y[:cv_size],
                           [k for k in KS if k <= cv_size * (FOLDS - 1) // FOLDS])
    ks = KS[:len(cv)]
    means = cv.mean(axis=1)
    best_k = ks[int(np.argmax(means))]  # argmax: on a tie, the smaller k
    for k, accs in zip(ks, cv):
        say(f"  k = {k:3d}: {accs.mean():.4f} +- {accs.std():.4f}"
            + ("   <- chosen" if k == best_k else ""))

    knn = KNearestNeighbor()
    _, train_seconds = timed(knn.train, X, y)
    say(f"kNN: all {len(X)} training images, k = {best_k}")
    val_per_k, val_seconds = timed(accuracy_per_k, knn, X_val, y_val, ks)
    val_accuracy = float(val_per_k[ks.index(best_k)])
    pred, predict_seconds = timed(knn.predict, X_test, k=best_k)
    test_accuracy = float(np.mean(pred == y_test))
    say(f"  validation {val_accuracy:.4f}, test {test_accuracy:.4f}; "
        f"predicting {len(X_test)} test images took {predict_seconds:.1f} s")
    # For the record only, after k was chosen: what the other k would have
    # scored on the test set. Choosing k by this would be fitting the test set.
    test_per_k = accuracy_per_k(knn, X_test, y_test, ks)
    say("  test accuracy of every k (not used to choose): "
        + ", ".join(f"{k}: {a:.4f}" for k, a in zip(ks, test_per_k)))
    return {
        "distance_slice": [n_test, n_train], "distance_seconds": seconds,
        "distance_disagreement": disagreement,
        "cv_size": cv_size, "folds": FOLDS, "ks": list(ks), "cv_accuracy": cv.tolist(),
        "cv_seconds": cv_seconds, "k": best_k,
        "val_accuracy_per_k": val_per_k.tolist(), "val_seconds_all_k": val_seconds,
        "test_accuracy_per_k_not_used_to_choose": test_per_k.tolist(),
        "val_accuracy": val_accuracy, "test_accuracy": test_accuracy,
        "train_seconds": train_seconds, "predict_seconds": predict_seconds,
        "num_test": len(X_test),
    }


# ---- linear classifiers -----------------------------------------------------
def features(X, mean):
    """X (N, 784) -> (N, 785): centred on the training set's mean image, plus a
    column of ones whose weights are the biases (the "bias trick")."""
    return np.hstack([X - mean, np.ones((len(X), 1), dtype=X.dtype)])


def search_linear(cls, train, val, learning_rates, regs, iters, seed):
    """Train cls for every (learning rate, reg); the best by validation accuracy
    is returned with every trial: (best_model, best_trial, trials)."""
    (X, y), (X_val, y_val) = train, val
    trials, best_model, best = [], None, None
    for lr in learning_rates:
        for reg in regs:
            model = cls(seed=seed)
            history, seconds = timed(model.train, X, y, learning_rate=lr, reg=reg,
                                     num_iters=iters, batch_size=BATCH_SIZE)
            trial = {"learning_rate": lr, "reg": reg, "train_seconds": seconds,
                     "train_accuracy": float(np.mean(model.predict(X) == y)),
                     "val_accuracy": float(np.mean(model.predict(X_val) == y_val)),
                     "final_loss": float(np.mean(history[-100:])), "loss_history": history}
            trials.append(trial)
            if best is None or trial["val_accuracy"] > best["val_accuracy"]:
                best_model, best = model, trial
    return best_model, best, trials


def run_linear(train, val, test, args, say):
    mean = train[0].mean(axis=0)
    train, val, test = ((features(X, mean), y) for X, y in (train, val, test))
    lrs, regs = (QUICK["learning_rates"], QUICK["regs"]) if args.quick else (LEARNING_RATES, REGS)
    out = {}
    for name, cls in (("svm", LinearSVM), ("softmax", Softmax)):
        say(f"\n{cls.__name__}: {len(lrs)} learning rates x {len(regs)} regularisation "
            f"strengths, {args.iters} iterations of batch {BATCH_SIZE} each")
        (model, best, trials), seconds = timed(search_linear, cls, train, val, lrs, regs,
                                               args.iters, args.seed)
        for t in trials:
            say(f"  lr {t['learning_rate']:<5g} reg {t['reg']:<6g} train {t['train_accuracy']:.4f}"
                f"  val {t['val_accuracy']:.4f}  loss {t['final_loss']:.3f}  "
                f"{t['train_seconds']:.1f}s" + ("   <- best" if t is best else ""))
        pred, _ = timed(model.predict, test[0])
        test_accuracy = float(np.mean(pred == test[1]))
        predict_seconds = median_seconds(lambda: model.predict(test[0]), repeats=5)
        say(f"  best: lr {best['learning_rate']:g}, reg {best['reg']:g}: validation "
            f"{best['val_accuracy']:.4f}, test {test_accuracy:.4f} "
            f"({seconds:.0f} s for the search)")
        out[name] = {"learning_rate": best["learning_rate"], "reg": best["reg"],
                     "val_accuracy": best["val_accuracy"], "test_accuracy": test_accuracy,
                     "train_seconds": best["train_seconds"], "predict_seconds": predict_seconds,
                     "search_seconds": seconds, "iters": args.iters, "batch_size": BATCH_SIZE,
                     "loss_history": best["loss_history"], "W": model.W,
                     "grid": [{k: v for k, v in t.items() if k != "loss_history"}
                              for t in trials]}
    return out


# ---- the MLP, from train.py's files ------------------------------------------
def mlp_row(results_path, model_path, test):
    """The MLP's figures from results.json, and the time model.npz takes to
    classify the test set; a "missing" note instead of what is not there."""
    row = {"missing": []}
    try:
        with open(results_path) as f:
            results = json.load(f)
        row.update({key: results[key] for key in ("val_accuracy", "test_accuracy",
                                                  "train_seconds", "sizes")})
    except FileNotFoundError:
        row["missing"].append(f"no {results_path}: run python train.py")
    except (OSError, ValueError, KeyError, TypeError) as e:
        row["missing"].append(f"{results_path} is not a results.json from train.py "
                              f"({type(e).__name__}: {e})")
    try:
        model = MLP.load(model_path)
        if model.sizes[0] != test[0].shape[1]:
            raise ValueError(f"{model_path}: takes {model.sizes[0]} inputs, not "
                             f"{test[0].shape[1]}")
    except ValueError as e:  # MLP.load's one-line errors, a missing file among them
        row["missing"].append(str(e))
    else:
        row["predict_seconds"] = median_seconds(lambda: model.predict(test[0]))
        row["model_test_accuracy"] = model.accuracy(*test)
        # Only comparable on the whole test set (not with --quick's 1,000 images).
        same_set = len(test[1]) == 10000 and "test_accuracy" in row
        if same_set and abs(row["model_test_accuracy"] - row["test_accuracy"]) > 1e-9:
            row["missing"].append(f"{model_path} scores {row['model_test_accuracy']:.4f} on "
                                  f"this test set, {results_path} says {row['test_accuracy']:.4f}: "
                                  "not from the same run?")
    return row


# ---- pictures ----------------------------------------------------------------
def plot_knn_cv(knn, path):
    import matplotlib.pyplot as plt
    ks, cv = np.array(knn["ks"]), 100 * np.array(knn["cv_accuracy"])
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for f in range(cv.shape[1]):
        ax.plot(ks, cv[:, f], ".", color="gray", alpha=0.5,
                label="one fold" if f == 0 else None)
    ax.errorbar(ks, cv.mean(axis=1), yerr=cv.std(axis=1), fmt="o-", capsize=3,
                label=f"{knn['folds']}-fold CV on {knn['cv_size']:,} training images "
                      "(mean +- std)")
    ax.plot(ks, 100 * np.array(knn["val_accuracy_per_k"]), "s--",
            label="validation set, all 50,000 training images" if knn["cv_size"] < 50000
            else "validation set")
    ax.axvline(knn["k"], color="C3", lw=0.8, ls=":", label=f"chosen: k = {knn['k']}")
    ax.set_xscale("log")
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.minorticks_off()
    ax.set(xlabel="k (nearest neighbours that vote)", ylabel="accuracy (%)",
           title="k-nearest neighbours (L2, raw pixels): accuracy against k")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def plot_linear_loss(linear, path):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (name, title) in zip(axes, (("svm", "Linear SVM (hinge loss)"),
                                       ("softmax", "Softmax (cross-entropy loss)"))):
        run = linear[name]
        losses = np.asarray(run["loss_history"])
        iters = np.arange(1, len(losses) + 1)
        window = max(1, min(200, len(losses) // 20))
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(iters, losses, lw=0.3, alpha=0.3, color="C0", label="per batch")
        ax.plot(iters[window - 1:], smooth, color="C0", label=f"mean of {window} batches")
        ax.set(xlabel=f"iteration (batch of {run['batch_size']})", ylabel="loss", yscale="log",
               title=f"{title}\nlr {run['learning_rate']:g}, reg {run['reg']:g}: "
                     f"val {run['val_accuracy']:.2%}, test {run['test_accuracy']:.2%}")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def plot_linear_search(linear, path):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (name, title) in zip(axes, (("svm", "Linear SVM"), ("softmax", "Softmax"))):
        grid = linear[name]["grid"]
        lrs = sorted({t["learning_rate"] for t in grid})
        regs = sorted({t["reg"] for t in grid})
        acc = np.full((len(lrs), len(regs)), np.nan)
        for t in grid:
            acc[lrs.index(t["learning_rate"]), regs.index(t["reg"])] = 100 * t["val_accuracy"]
        im = ax.imshow(acc, cmap="viridis", aspect="auto")
        best = np.unravel_index(np.nanargmax(acc), acc.shape)
        for (i, j), value in np.ndenumerate(acc):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                    color="black" if value > np.nanmean(acc) else "white",
                    fontweight="bold" if (i, j) == best else "normal")
        ax.set_xticks(range(len(regs)), [f"{r:g}" for r in regs])
        ax.set_yticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
        ax.set(xlabel="regularisation strength reg", ylabel="learning rate",
               title=f"{title}: validation accuracy (%)")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    save_figure(fig, path)


def plot_templates(linear, path):
    """Each class's weights (without the bias) as a 28x28 image: red where ink
    (above the mean image) raises the class's score, blue where it lowers it."""
    import matplotlib.pyplot as plt
    rows = []
    for name in ("svm", "softmax"):
        W = linear[name]["W"][:-1].T.reshape(NUM_CLASSES, 28, 28).astype(np.float64)
        rows.append(W / np.abs(W).max(axis=(1, 2), keepdims=True))  # each its own scale
    mosaic, corners = tile(np.concatenate(rows), NUM_CLASSES, gap_x=3, gap_top=12)
    height, width = mosaic.shape
    fig, ax = plt.subplots(figsize=(width / 30, height / 30 + 0.3))
    ax.imshow(mosaic, cmap=plt.get_cmap("RdBu_r").with_extremes(bad="white"),
              vmin=-1, vmax=1, interpolation="nearest")
    for i, (top, left) in enumerate(corners):
        model = "SVM" if i < NUM_CLASSES else "softmax"
        ax.text(left + 14, top - 2, f"{model}: {i % NUM_CLASSES}", ha="center",
                va="bottom", fontsize=8)
    ax.axis("off")
    ax.set_title("The learned templates: each class's weights as an image "
                 "(red +, blue -)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


# ---- the comparison -----------------------------------------------------------
def percent(x):
    return f"{100 * x:.2f} %"


def comparison_rows(knn, linear, mlp, num_test):
    """[(method, validation, test, time to train, time to predict)] as text."""
    rows = [(f"k-nearest neighbours, k = {knn['k']} (L2, raw pixels)",
             percent(knn["val_accuracy"]), percent(knn["test_accuracy"]),
             f"{knn['train_seconds']:.2f} s (stores the images)",
             f"{knn['predict_seconds']:.1f} s")]
    for name, label in (("svm", "linear SVM"), ("softmax", "softmax classifier")):
        run = linear[name]
        rows.append((f"{label} (lr {run['learning_rate']:g}, reg {run['reg']:g})",
                     percent(run["val_accuracy"]), percent(run["test_accuracy"]),
                     f"{run['train_seconds']:.1f} s", f"{1000 * run['predict_seconds']:.1f} ms"))
    sizes = "-".join(map(str, mlp.get("sizes", []))) or "784-128-64-10"
    have = "test_accuracy" in mlp
    rows.append((f"MLP {sizes} (train.py)",
                 percent(mlp["val_accuracy"]) if have and mlp["val_accuracy"] is not None else "-",
                 percent(mlp["test_accuracy"]) if have else "-",
                 f"{mlp['train_seconds']:.1f} s" if have else "-",
                 f"{1000 * mlp['predict_seconds']:.1f} ms" if "predict_seconds" in mlp else "-"))
    if num_test != 10000:
        rows = [r[:4] + (r[4] + f" ({num_test} images)" if r[4] != "-" else r[4],)
                for r in rows]
    return rows


def markdown_table(rows):
    header = ("method", "validation accuracy", "test accuracy", "time to train",
              "time to predict 10,000 images")
    lines = ["| " + " | ".join(header) + " |", "|---|---:|---:|---:|---:|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def report(summary, rows):
    """docs/reports/classifiers.md: the table and every figure behind it."""
    knn, linear, mlp = summary["knn"], summary["linear"], summary["mlp"]
    s = knn["distance_seconds"]
    n_test, n_train = knn["distance_slice"]
    lines = [
        "# Baselines: kNN, linear SVM, softmax, and the MLP",
        "",
        f"Written by `python -m classifiers.compare{' --quick' if summary['quick'] else ''}` "
        f"(data: {summary['data']}; {summary['train_size']:,} training, "
        f"{summary['val_size']:,} validation, {summary['test_size']:,} test images). "
        f"{summary['seconds']:.0f} s in all, peak memory {summary['peak_mb']:.0f} MB, "
        f"load average {summary['load_start']:.2f} at the start and "
        f"{summary['load_end']:.2f} at the end, {summary['blas_threads']} BLAS thread(s).",
        "",
        markdown_table(rows),
        "",
        "Training times: kNN only stores the images; the linear classifiers' time is "
        f"the best setting's SGD run ({linear['svm']['iters']:,} batches of "
        f"{linear['svm']['batch_size']}); the MLP's is the training passes of train.py's "
        "run, from its results.json. The linear classifiers' prediction time counts "
        "the matrix product and argmax on the prepared features.",
    ]
    if mlp["missing"]:
        lines += ["", "MLP row: " + "; ".join(mlp["missing"]) + "."]
    lines += [
        "",
        f"## kNN: the distances, {n_test} test x {n_train:,} training images",
        "",
        "| implementation | seconds | speed-up | extrapolated to 10,000 x 50,000 |",
        "|---|---:|---:|---:|",
    ]
    scale = 10000 * 50000 / (n_test * n_train)
    for name in ("two_loops", "one_loop", "no_loops"):
        lines.append(f"| {name.replace('_', ' ')} | {s[name]:.4f} | "
                     f"{s['two_loops'] / s[name]:.0f}x | {s[name] * scale:,.0f} s |")
    lines += [
        "",
        f"Measured: all {knn['num_test']:,} test images against all {summary['train_size']:,} "
        f"training images, no-loop distances block by block and the vote of the "
        f"k = {knn['k']} nearest: {knn['predict_seconds']:.1f} s.",
        "",
        f"## kNN: {knn['folds']}-fold cross-validation on the first {knn['cv_size']:,} "
        f"training images ({knn['cv_seconds']:.0f} s)",
        "",
        "| k | CV accuracy (mean +- std) | validation accuracy (all training images) | "
        "test accuracy (for the record, not used to choose) |",
        "|---:|---:|---:|---:|",
    ]
    for k, accs, val, test in zip(knn["ks"], knn["cv_accuracy"], knn["val_accuracy_per_k"],
                                  knn["test_accuracy_per_k_not_used_to_choose"]):
        mark = " (chosen)" if k == knn["k"] else ""
        lines.append(f"| {k}{mark} | {percent(np.mean(accs))} +- {percent(np.std(accs))} | "
                     f"{percent(val)} | {percent(test)} |")
    for name, title in (("svm", "Linear SVM"), ("softmax", "Softmax")):
        run = linear[name]
        lines += ["", f"## {title}: validation accuracy over the grid "
                  f"({run['search_seconds']:.0f} s)", "",
                  "| learning rate | reg | training accuracy | validation accuracy | "
                  "mean loss, last 100 batches |", "|---:|---:|---:|---:|---:|"]
        for t in run["grid"]:
            lines.append(f"| {t['learning_rate']:g} | {t['reg']:g} | "
                         f"{percent(t['train_accuracy'])} | {percent(t['val_accuracy'])} | "
                         f"{t['final_loss']:.3f} |")
    return "\n".join(lines) + "\n"


def peak_memory_mb():
    """The largest resident memory of this process so far (ru_maxrss is in KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None):
    # One BLAS thread, as for train.py: the linear classifiers' batches are small, and
    # the machine may be shared. OPENBLAS_NUM_THREADS=2 gives kNN's large products a
    # second core.
    single_blas_thread()
    args = parse_args(argv)
    t_start = time.perf_counter()
    load_start = os.getloadavg()[0]
    import matplotlib
    matplotlib.use("Agg")
    source = args.data or "keras.datasets.mnist"
    try:
        check_writable(args.out)
        check_writable(args.assets, "--assets")
        train, val, test = prepare(load_mnist(args.data, NUM_CLASSES), VAL_SIZE, source)
    except DataError as e:
        sys.exit(f"error: {e}")
    if args.quick:
        train, val, test = ((X[:n], y[:n]) for (X, y), n in (
            (train, QUICK["train_size"]), (val, QUICK["eval_size"]), (test, QUICK["eval_size"])))
    def say(line):  # flushed, so that progress shows when the output goes to a file
        print(line, flush=True)

    say(f"data: {source}: {len(train[0])} training, {len(val[0])} validation, "
        f"{len(test[0])} test images")

    knn = run_knn(train, val, test, args, say)
    linear = run_linear(train, val, test, args, say)
    mlp = mlp_row(args.results, args.model, test)

    figures = {"knn_cv.png": plot_knn_cv, "linear_loss.png": plot_linear_loss,
               "linear_search.png": plot_linear_search, "templates.png": plot_templates}
    for name, plot in figures.items():
        plot(knn if name == "knn_cv.png" else linear, os.path.join(args.assets, name))

    rows = comparison_rows(knn, linear, mlp, len(test[0]))
    summary = {
        "data": os.path.basename(os.path.normpath(source)), "quick": args.quick,
        "train_size": len(train[0]), "val_size": len(val[0]), "test_size": len(test[0]),
        "seed": args.seed, "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "knn": knn, "mlp": mlp,
        # The weights are in templates.png, the loss curves in linear_loss.png.
        "linear": {name: {k: v for k, v in run.items() if k not in ("W", "loss_history")}
                   for name, run in linear.items()},
        "load_start": load_start, "load_end": os.getloadavg()[0],
        "seconds": time.perf_counter() - t_start, "peak_mb": peak_memory_mb(),
    }
    say("\n" + markdown_table(rows))
    for note in mlp["missing"]:
        say(f"note: MLP row: {note}")
    write_atomically(os.path.join(args.out, "classifiers.md"),
                     lambda f: f.write(report(summary, rows).encode()))
    write_json(os.path.join(args.out, "classifiers.json"), summary)
    say(f"wrote {', '.join(figures)} to {args.assets}, classifiers.md, classifiers.json to "
        f"{args.out} ({summary['seconds']:.0f} s in all, peak memory "
        f"{summary['peak_mb']:.0f} MB, load average {load_start:.2f} -> "
        f"{summary['load_end']:.2f})")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("\ninterrupted: every file written is either untouched or complete.")
