"""Look inside a trained network: where it fails, what it learned, how robust it is.

    python -m experiments.evaluate                                   # model.npz from train.py
    python -m experiments.evaluate --model runs/model.npz --out runs

writes, from the saved weights, the training history and the MNIST test set
(the pictures to docs/images/ and evaluation.json to docs/, or all to --out):
    confusion_matrix.png  which class is taken for which (counts, per-class accuracy)
    mistakes.png          the wrong test images, the most confident mistakes first
    weights.png           the first layer's weights, one image per hidden unit
    robustness.png        test accuracy as Gaussian pixel noise and rotation grow
    dead_relu.png         fraction of dead ReLU units per hidden layer, per epoch
    evaluation.json       all of the above as numbers
and prints the per-class precision/recall table. The classes are named as the
model was trained (train.py --classes; the digits by default).
"""
import json
import os
import sys

import numpy as np

from cli import make_parser, check_writable, positive_int, single_blas_thread
from data import DATA_HELP, DIGITS, DataError, default_data_path, load_mnist
from fileio import save_figure, tile, write_json
from model import MLP
from handwriting.preprocess import rotate
from provenance import environment, weights_sha256

NOISE_STDS = [0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0]  # on pixels scaled to [0, 1]
ANGLES = [0, 5, 10, 15, 20, 30, 45, 60, 90]  # degrees, each turned both ways
MISTAKES_SHOWN = 48
# The default homes of the pictures and of the report, as the README links them.
ASSETS, DOCS = os.path.join("docs", "images"), os.path.join("docs", "reports")


def parse_args(argv=None):
    p = make_parser("Evaluate a trained MLP on the MNIST test set: confusion matrix, "
                    "mistakes, first-layer weights, robustness to noise and rotation, dead "
                    "ReLUs.", __spec__)
    p.add_argument("--model", default="model.npz", help="weights saved by train.py")
    p.add_argument("--results", default=None,
                   help="results.json from the same training run, for the dead-ReLU "
                   "history (default: results.json beside --model, if it is there)")
    p.add_argument("--data", default=default_data_path(), help=DATA_HELP)
    p.add_argument("--out", default=None,
                   help="folder for the images and evaluation.json (default: the images "
                   f"to {ASSETS}/, evaluation.json to {DOCS}/, where the README shows them)")
    p.add_argument("--seed", type=int, default=0, help="seed of the pixel noise")
    p.add_argument("--limit", type=positive_int, default=None,
                   help="use only the first LIMIT test images (a quicker look)")
    return p.parse_args(argv)


# ---- numbers ---------------------------------------------------------------
def confusion_matrix(y_true, y_pred, num_classes=len(DIGITS)):
    """counts[t, p] = how many images of class t were predicted as p."""
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes ** 2)
    return flat.reshape(num_classes, num_classes)


def per_class_scores(counts):
    """Precision, recall and support per class from a confusion matrix.

    recall[c]    = correct c / images that are c      (how many c's it finds)
    precision[c] = correct c / images predicted as c  (how often "c" is right)
    A class never predicted has precision 0 (there is nothing right about it).
    """
    correct = np.diag(counts).astype(np.float64)
    support = counts.sum(axis=1)
    predicted = counts.sum(axis=0)
    recall = np.divide(correct, support, out=np.zeros_like(correct), where=support > 0)
    precision = np.divide(correct, predicted, out=np.zeros_like(correct), where=predicted > 0)
    return precision, recall, support


def confused_pairs(counts, top=8):
    """The largest off-diagonal entries: [(true, predicted, count)], largest first."""
    off = counts.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(off, axis=None, kind="stable")[::-1][:top]
    pairs = [(int(t), int(p), int(off[t, p])) for t, p in zip(*np.unravel_index(order, off.shape))]
    return [pair for pair in pairs if pair[2] > 0]


def noun(classes):
    """What to call a class in tables and plots: "digit" for the digits, else "class"."""
    return "digit" if list(classes) == DIGITS else "class"


def format_table(counts, classes=DIGITS):
    precision, recall, support = per_class_scores(counts)
    width = max(5, *(len(c) for c in classes))
    lines = [f"{noun(classes):>{width}}  precision  recall  support"]
    for c, name in enumerate(classes):
        lines.append(f"{name:>{width}}  {precision[c]:>9.4f}  {recall[c]:>6.4f}  {support[c]:>7}")
    lines.append(f"{'all':>{width}}  {precision.mean():>9.4f}  {recall.mean():>6.4f}  "
                 f"{support.sum():>7}   (macro averages)")
    return "\n".join(lines)


def add_noise(images, std, rng):
    """Images plus Gaussian noise of the given std, clipped back to [0, 1]."""
    noisy = images + images.dtype.type(std) * rng.standard_normal(images.shape, images.dtype)
    return np.clip(noisy, 0, 1, out=noisy)


def robustness(model, images, y, noise_stds=NOISE_STDS, angles=ANGLES, seed=0):
    """Test accuracy on noisy and on rotated copies of ``images`` (N, rows, cols).

    Rotation is checked both ways (counter-clockwise and clockwise) because
    handwriting leans one way more often than the other.
    """
    rng = np.random.default_rng(seed)
    flat = images.reshape(len(images), -1)
    noise = [model.accuracy(add_noise(flat, s, rng), y) for s in noise_stds]
    ccw = [model.accuracy(rotate(images, a).reshape(len(images), -1), y) for a in angles]
    cw = [model.accuracy(rotate(images, -a).reshape(len(images), -1), y) for a in angles]
    return {"noise_std": list(noise_stds), "noise_accuracy": noise,
            "angle_degrees": list(angles), "rotation_accuracy_ccw": ccw,
            "rotation_accuracy_cw": cw}


# ---- pictures --------------------------------------------------------------
def plot_confusion(counts, path, classes=DIGITS):
    """Counts in every cell; colour shows only the mistakes (the diagonal's
    ~1000s would wash out the handful of confusions that matter)."""
    import matplotlib.pyplot as plt
    k = len(counts)
    _, recall, _ = per_class_scores(counts)
    off = counts.astype(float)
    np.fill_diagonal(off, np.nan)
    # Constrained layout makes room for the colour bar and the long y tick labels
    # (tight_layout left the y label outside the picture). It cannot with square
    # cells forced (aspect "equal"); the figure's proportions keep them nearly so.
    fig, ax = plt.subplots(figsize=(7.5, 6.5), layout="constrained")
    im = ax.imshow(off, cmap="Reds", vmin=0, vmax=max(1, np.nanmax(off)), aspect="auto")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="wrong predictions")
    for t in range(k):
        for p in range(k):
            n = counts[t, p]
            if t == p:
                ax.add_patch(plt.Rectangle((p - 0.5, t - 0.5), 1, 1, color="#d8ecd8"))
            if n or t == p:
                dark = t != p and n > 0.6 * np.nanmax(off)
                ax.text(p, t, str(n), ha="center", va="center", fontsize=8,
                        color="white" if dark else "black",
                        fontweight="bold" if t == p else "normal")
    what = noun(classes)
    ax.set_xticks(range(k), classes, rotation=0 if what == "digit" else 45,
                  ha="center" if what == "digit" else "right")
    ax.set_yticks(range(k), [f"{name}  ({recall[c]:.1%})" for c, name in enumerate(classes)])
    ax.set(xlabel=f"predicted {what}", ylabel=f"true {what}  (per-class accuracy)",
           title=f"Confusion matrix, test set: {np.trace(counts)}/{counts.sum()} "
                 f"= {np.trace(counts) / counts.sum():.2%} correct")
    save_figure(fig, path)


def plot_mistakes(images, y, pred, confidence, path, shown=MISTAKES_SHOWN, classes=DIGITS):
    """The wrong test images, most confident first, titled true -> predicted."""
    import matplotlib.pyplot as plt
    wrong = np.flatnonzero(pred != y)
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")][:shown]
    cols = 12
    if len(wrong):
        named = noun(classes) == "class"  # names take a line each, digits share one
        mosaic, corners = tile(images[wrong], cols, gap_x=4, gap_top=18 if named else 13)
    else:  # a perfect score still gets a (blank) picture
        mosaic, corners = np.full(images.shape[1:], np.nan), []
    height, width = mosaic.shape
    centre = images.shape[2] / 2
    fig, ax = plt.subplots(figsize=(width / 30, height / 30 + 0.6))
    ax.imshow(mosaic, cmap=plt.get_cmap("gray_r").with_extremes(bad="white"),
              vmin=0, vmax=1, interpolation="nearest")
    for i, (top, left) in zip(wrong, corners):
        ax.text(left + centre, top - 1.5,
                f"true {classes[y[i]][:14]}\npred {classes[pred[i]][:14]}\n{confidence[i]:.1%}"
                if named else
                f"true {y[i]} pred {pred[i]}\n{confidence[i]:.1%}",
                ha="center", va="bottom", fontsize=7, linespacing=1.1)
    ax.axis("off")
    ax.set_title(f"{int(np.sum(pred != y))} of {len(y)} test images wrong; the "
                 f"{len(wrong)} most confident mistakes", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def plot_weights(W1, active, path, image_shape=(28, 28), dead_validation=None):
    """Each hidden unit's incoming weights as an image of the input's shape: red
    where a lit pixel raises the unit's input, blue where it lowers it. Each unit
    has its own colour scale, and is titled with the fraction of test images for
    which it outputs more than 0 ("dead": never). ``dead_validation``, if known,
    is the number of units dead on the validation set after training (the count
    of train.py's log and dead_relu.png), quoted beside the test set's."""
    import matplotlib.pyplot as plt
    units = W1.shape[1]
    rows, cols_px = image_shape
    cols = 16 if units >= 64 else int(np.ceil(np.sqrt(units)))
    W = W1.T.reshape(units, rows, cols_px).astype(np.float64)
    W = W / np.maximum(np.abs(W).max(axis=(1, 2), keepdims=True), 1e-12)
    mosaic, corners = tile(W, cols, gap_x=3, gap_top=9)
    height, width = mosaic.shape
    fig, ax = plt.subplots(figsize=(width / 40, height / 40 + 0.6))
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="white")
    ax.imshow(mosaic, cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    for j, (top, left) in enumerate(corners):
        label = "dead" if active[j] == 0 else f"{active[j]:.{2 if active[j] < 0.01 else 0}%}"
        ax.text(left + cols_px / 2, top - 1.5, label, ha="center", va="bottom", fontsize=6,
                color="red" if active[j] == 0 else "black")
    ax.axis("off")
    validation = ("" if dead_validation is None else
                  f"; on the validation set (train.py's log, dead_relu.png): {dead_validation}")
    ax.set_title(f"First-layer weights of the {units} hidden units (red +, blue -), each "
                 f"titled with how often it fires on the test set\n"
                 f"dead (never fire) on the test set: {int(np.sum(active == 0))}"
                 f"{validation}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def plot_robustness(rob, clean, path):
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(rob["noise_std"], rob["noise_accuracy"], "o-")
    ax1.set(xlabel="std of Gaussian pixel noise (pixels in [0, 1])", ylabel="test accuracy",
            title="Pixel noise", ylim=(0, 1.02))
    ax2.plot(rob["angle_degrees"], rob["rotation_accuracy_ccw"], "o-", label="counter-clockwise")
    ax2.plot(rob["angle_degrees"], rob["rotation_accuracy_cw"], "s--", label="clockwise")
    ax2.set(xlabel="rotation (degrees)", ylabel="test accuracy", title="Rotation",
            ylim=(0, 1.02))
    ax2.legend()
    for ax in (ax1, ax2):
        ax.axhline(clean, color="gray", lw=0.8, ls=":")
        ax.axhline(0.1, color="gray", lw=0.8, ls=":")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)


def plot_dead_relu(dead_history, hidden_sizes, path):
    """dead_history[epoch][layer]: fraction of units that output 0 for every
    validation image after that epoch."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    dead = np.asarray(dead_history, dtype=float)
    epochs = np.arange(1, len(dead) + 1)
    fig, ax = plt.subplots(figsize=(6, 4))
    for layer, units in zip(range(dead.shape[1]), hidden_sizes):
        ax.plot(epochs, 100 * dead[:, layer], "o-",
                label=f"hidden layer {layer + 1}: {round(dead[-1, layer] * units)} "
                      f"of {units} dead at the end")
    # Whole epochs only, also for a 1-epoch run.
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_xlim(0.5, len(epochs) + 0.5)
    ax.set(xlabel="epoch", ylabel="dead ReLU units (%)")
    ax.set_title("Units that output 0 for every validation image, after each epoch\n"
                 "(on the validation set, like train.py's log; weights.png: the test set)",
                 fontsize=10)
    ax.set_ylim(bottom=0, top=max(5, 100 * dead.max() * 1.2))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


# ---- putting it together ---------------------------------------------------
def load_history(args, model):
    """history["dead_relu"] from results.json, or None (with a note) if there is none.

    results.json records the SHA-256 of its model's weights. If it belongs to
    another model, its dead-unit history is not this model's: an error when the
    file was named by --results (the user asked for something that cannot be
    right), a note and no dead_relu.png when it was only found beside --model,
    as when there is no results.json at all.
    """
    path = args.results or os.path.join(os.path.dirname(os.path.abspath(args.model)),
                                        "results.json")
    try:
        with open(path) as f:
            results = json.load(f)
        dead = results["history"]["dead_relu"]
        if dead:  # [] after training without validation data (--val-size 0)
            np.asarray(dead, dtype=float).reshape(len(dead), -1)
    except FileNotFoundError:
        if args.results:
            raise DataError(f"--results {path}: no such file") from None
        print(f"note: no {path}, so no dead_relu.png (pass --results)", file=sys.stderr)
        return None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path}: not a results.json from train.py "
                        f"({type(e).__name__}: {e})") from None
    recorded = results.get("weights_sha256")
    if recorded is None:
        print(f"note: {path} is from an older train.py that does not identify its model; "
              f"its dead-unit history is assumed to be {args.model}'s", file=sys.stderr)
    elif recorded != weights_sha256(model.params):
        if args.results:
            raise DataError(f"--results {path} is from another training run than --model "
                            f"{args.model} (the weights' SHA-256 differs)")
        print(f"note: {path} is from another training run than {args.model}, "
              "so no dead_relu.png (pass the run's own --results)", file=sys.stderr)
        return None
    if not dead:
        print(f"note: {path} has no dead-ReLU history (trained without validation "
              "data?), so no dead_relu.png", file=sys.stderr)
        return None
    return dead


def main(argv=None):
    single_blas_thread()
    args = parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    pictures, report = (args.out, args.out) if args.out else (ASSETS, DOCS)
    try:
        check_writable(pictures)
        check_writable(report)
        model = MLP.load(args.model)
        dead_history = load_history(args, model)
        classes = model.classes
        _, _, x_test, y_test = load_mnist(args.data, len(classes))
    except DataError as e:
        sys.exit(f"error: {e}")
    except ValueError as e:  # from MLP.load
        sys.exit(f"error: {e} (train one with train.py, or pass --model)")
    if model.sizes[0] != x_test[0].size:
        rows, cols = x_test.shape[1:]
        sys.exit(f"error: {args.model} takes {model.sizes[0]} inputs, but the data's images "
                 f"are {rows}x{cols} = {x_test[0].size} pixels (pass the --data it was "
                 "trained on)")

    images = x_test[:args.limit].astype(np.float32) / np.float32(255)  # (N, rows, cols)
    y = y_test[:args.limit].astype(np.int64)
    flat = images.reshape(len(images), -1)
    probs = model.predict_proba(flat)
    pred = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    counts = confusion_matrix(y, pred, len(classes))
    accuracy = float(np.mean(pred == y))
    precision, recall, support = per_class_scores(counts)
    pairs = confused_pairs(counts)

    print(f"Test accuracy: {accuracy:.4f}  ({int(np.sum(pred != y))} of {len(y)} wrong)")
    print(format_table(counts, classes))
    print("Most confused (true -> predicted: count): "
          + ", ".join(f"{classes[t]}->{classes[p]}: {n}" for t, p, n in pairs))

    _, cache = model.forward(flat)  # as model.dead_fraction, but keeping which units and how often
    active = [np.mean(h > 0, axis=0) for h in cache.hidden]
    rob = robustness(model, images, y, seed=args.seed)
    print("Accuracy with pixel noise (std: acc): "
          + ", ".join(f"{s:g}: {a:.3f}" for s, a in zip(rob["noise_std"], rob["noise_accuracy"])))
    print("Accuracy when rotated (degrees: ccw/cw): "
          + ", ".join(f"{d}: {a:.3f}/{b:.3f}" for d, a, b in zip(
              rob["angle_degrees"], rob["rotation_accuracy_ccw"], rob["rotation_accuracy_cw"])))

    dead_validation = (None if dead_history is None else
                       round(dead_history[-1][0] * model.sizes[1]))
    print(f"Dead units in hidden layer 1: {int(np.sum(active[0] == 0))} of {model.sizes[1]} "
          "on the test set" + ("" if dead_validation is None else
                               f", {dead_validation} on the validation set after training"))

    plot_confusion(counts, os.path.join(pictures, "confusion_matrix.png"), classes)
    plot_mistakes(images, y, pred, confidence, os.path.join(pictures, "mistakes.png"),
                  classes=classes)
    plot_weights(model.params["W1"], active[0], os.path.join(pictures, "weights.png"),
                 images.shape[1:], dead_validation)
    plot_robustness(rob, accuracy, os.path.join(pictures, "robustness.png"))
    written = ["confusion_matrix.png", "mistakes.png", "weights.png", "robustness.png"]
    if dead_history is not None:
        plot_dead_relu(dead_history, model.sizes[1:-1], os.path.join(pictures, "dead_relu.png"))
        written.append("dead_relu.png")

    wrong = np.flatnonzero(pred != y)
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")]
    evaluation = {
        "model": args.model,  # as given: no path of this machine in a shared report
        "weights_sha256": weights_sha256(model.params),
        "sizes": list(model.sizes),
        "classes": list(classes),
        "test_accuracy": accuracy,
        "confusion_matrix": counts.tolist(),
        "per_class": {name: {"precision": float(precision[c]), "recall": float(recall[c]),
                             "support": int(support[c])} for c, name in enumerate(classes)},
        "most_confused": [{"true": t, "predicted": p, "count": n} for t, p, n in pairs],
        "mistakes": [{"index": int(i), "true": int(y[i]), "predicted": int(pred[i]),
                      "confidence": float(confidence[i])} for i in wrong],
        "robustness": rob,
        # Per hidden layer, the fraction of test images each unit fires for;
        # the dead units are the ones at 0.
        "active_fraction_test": [a.tolist() for a in active],
        "dead_units_test": [np.flatnonzero(a == 0).tolist() for a in active],
        "dead_relu_history": dead_history,
        "environment": environment(args.data),
    }
    write_json(os.path.join(report, "evaluation.json"), evaluation)
    if pictures == report:
        print(f"wrote {', '.join(written)}, evaluation.json to {pictures}")
    else:
        print(f"wrote {', '.join(written)} to {pictures}; evaluation.json to {report}")


if __name__ == "__main__":
    main()
