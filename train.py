"""Train the from-scratch MLP on MNIST with shuffled mini-batch SGD.

    python train.py                               # keras download, default setup
    python train.py --data path/to/mnist.npz      # a local copy (.npz or IDX folder)
    python train.py --optimizer adam --lr 1e-3 --dropout 0.2

Prints one line per epoch and the test accuracy; writes loss_curve.png,
results.json and model.npz to --out.
"""
import argparse
import copy
import gc
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from augment import Augmenter, with_flagged_ones
from cli import (blas_threads_for_big_products, make_parser, check_writable, checked, fraction,
                 non_negative_float, non_negative_int, positive_float, positive_int,
                 single_blas_thread)
from data import (DATA_HELP, DIGITS, VAL_SIZE, DataError, default_data_path, load_mnist,
                  prepare)
from fileio import save_figure, write_json
from model import ACTIVATIONS, MLP, dead_fraction
from optim import SCHEDULE_NAMES, SCHEDULES, SGD, Adam, make_schedule, scal_axpy
from provenance import environment, weights_sha256


# ---- command line ----------------------------------------------------------
def class_names(text):
    """--classes: a file with one name per line, or the names separated by commas
    ("T-shirt,Trouser,..."). Label k of the data is the k-th name."""
    if os.path.isfile(text):
        try:
            with open(text, encoding="utf-8") as f:
                names = [line.strip() for line in f if line.strip()]
        except (OSError, UnicodeDecodeError) as e:
            raise argparse.ArgumentTypeError(f"cannot read {text} ({e})") from None
    else:
        names = [name.strip() for name in text.split(",")]
    if len(names) < 2 or not all(names) or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"must be 2 or more different, non-empty names (comma-separated, or a file with "
            f"one per line), got {text!r}")
    return names


# Named settings for --preset; flags given explicitly still win.
PRESETS = {
    # The accuracy record for the required 784-128-64-10 network: see
    # docs/experiments-and-record.md, "The record", for how it was chosen (on the
    # validation set).
    "best": dict(epochs=200, lr=0.2, schedule="cosine", warmup=3, batch_size=128,
                 optimizer="sgd", momentum=0.9, l2=0.0, dropout=0.0, hidden=[128, 64],
                 activation="relu", batchnorm=True, shift=2.0, rotate=10.0, scale=0.1,
                 elastic_alpha=15.0, elastic_sigma=4.0, clean_epochs=0),
}
# The model for reading people's digits (predict.py's first choice): the record's
# recipe plus slants either way, bolder and finer strokes and flagged 1s, in a
# wider network (the assignment's stays 784-128-64-10); see
# docs/reading-handwriting.md, "The robust model", for how they were chosen.
PRESETS["robust"] = dict(PRESETS["best"], slant=10.0, thicken=1.5, thin=1.5, flag_ones=0.5,
                         hidden=[512, 256])


def preset_help():
    """'best: --epochs 200 --lr 0.2 ...' for every preset, for --help."""
    def flag(key, value):
        if value is True:
            return f"--{key}"
        value = " ".join(map(str, value)) if isinstance(value, list) else value
        return f"--{key.replace('_', '-')} {value}"
    return "; ".join(f"{name}: " + " ".join(flag(k, v) for k, v in preset.items())
                     for name, preset in PRESETS.items())


def parse_args(argv=None):
    p = make_parser("Train a from-scratch NumPy MLP on MNIST.", __spec__)
    p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help=f"start from a named setting ({preset_help()}); other flags override it")
    p.add_argument("--epochs", type=positive_int, default=20, help="passes over the training set")
    p.add_argument("--lr", type=positive_float, default=0.05, help="(initial) learning rate")
    p.add_argument("--schedule", choices=SCHEDULE_NAMES, default="cosine",
                   help="learning rate over training: constant, step decay, or cosine decay to 0")
    p.add_argument("--warmup", type=non_negative_float, default=0.0,
                   help="epochs of linear learning-rate warm-up from 0 before the schedule")
    p.add_argument("--step-size", type=positive_float, default=None,
                   help="step schedule: epochs between decays (default: a third of --epochs)")
    p.add_argument("--step-factor", type=positive_float, default=0.1,
                   help="step schedule: the rate is multiplied by this at each step")
    p.add_argument("--batch-size", type=positive_int, default=64, help="examples per update")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd",
                   help="sgd (with --momentum) or adam (beta1 0.9, beta2 0.999, eps 1e-8)")
    p.add_argument("--momentum", type=fraction, default=0.9, help="SGD momentum; 0 = plain SGD")
    p.add_argument("--l2", type=non_negative_float, default=0.0,
                   help="L2 weight decay: adds 0.5 * l2 * sum(W**2) to the loss")
    p.add_argument("--dropout", type=fraction, default=0.1,
                   help="probability of dropping each hidden unit while training")
    p.add_argument("--hidden", type=positive_int, nargs="+", default=[128, 64],
                   help="hidden layer widths")
    g = p.add_argument_group("data augmentation (off by default; new random variants every batch)")
    g.add_argument("--shift", type=non_negative_float, default=0.0,
                   help="random shifts of up to this many pixels in each direction")
    g.add_argument("--rotate", type=non_negative_float, default=0.0,
                   help="random rotations of up to this many degrees")
    g.add_argument("--scale", type=fraction, default=0.0,
                   help="random size changes by a factor in [1 - SCALE, 1 + SCALE]")
    g.add_argument("--elastic-alpha", type=non_negative_float, default=0.0,
                   help="elastic distortion strength in pixels (Simard 2003: 34)")
    g.add_argument("--elastic-sigma", type=positive_float, default=4.0,
                   help="smoothness of the elastic distortion field in pixels (Simard: 4)")
    g.add_argument("--slant", type=non_negative_float, default=0.0,
                   help="random slants (shears) of up to this many degrees, leaning left or right")
    g.add_argument("--thicken", type=checked(float, lambda v: 0 <= v <= 2, "a number in [0, 2]"),
                   default=0.0, help="strokes made up to this many pixels wider, as by a bolder "
                   "pen (grayscale dilation; fractions blend), at most 2")
    g.add_argument("--thin", type=checked(float, lambda v: 0 <= v <= 2, "a number in [0, 2]"),
                   default=0.0, help="strokes made up to this many pixels narrower, as by a finer "
                   "pen (grayscale erosion, ink kept at full strength), at most 2; each image's "
                   "width change is uniform in [-THIN, THICKEN]")
    g.add_argument("--flag-ones", type=checked(float, lambda v: 0 <= v <= 1, "a number in [0, 1]"),
                   default=0.0,
                   help="add a flagged copy (the stroke a European 1 starts with, see "
                   "augment.add_flag) of this fraction of the training 1s; digits only")
    g.add_argument("--clean-epochs", type=non_negative_int, default=0,
                   help="train the last CLEAN_EPOCHS epochs on unaugmented images")
    p.add_argument("--activation", choices=list(ACTIVATIONS), default="relu",
                   help="hidden-layer activation (with its matching initialisation: "
                   "He for the ReLUs, Xavier/Glorot for tanh and sigmoid)")
    p.add_argument("--batchnorm", action="store_true",
                   help="batch normalisation between each hidden affine layer and its activation")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights, "
                   "the shuffling and the dropout masks; same seed, same results")
    p.add_argument("--val-size", type=non_negative_int, default=VAL_SIZE,
                   help="the last VAL_SIZE training images are held out for validation")
    p.add_argument("--data", default=default_data_path(), help=DATA_HELP)
    p.add_argument("--classes", type=class_names, default=DIGITS,
                   help="names of the classes, label 0 first: comma-separated or a file with "
                   "one per line (e.g. Fashion-MNIST's T-shirt,Trouser,...); saved with the "
                   "model, shown by experiments/evaluate.py and predict.py (default: the digits 0..9)")
    p.add_argument("--out", default=".", help="folder for loss_curve.png, results.json, model.npz")
    args = p.parse_args(argv)
    if args.seed < 0:  # NumPy's generators take seeds >= 0 only
        p.error(f"argument --seed: must be an integer >= 0, got {args.seed}")
    if args.preset:  # the preset's values become the defaults; parse again
        p.set_defaults(**PRESETS[args.preset])
        args = p.parse_args(argv)
    if args.flag_ones and args.classes != DIGITS:
        p.error("--flag-ones draws European 1s: it is for the digits, not for --classes")
    if args.warmup >= args.epochs:
        p.error(f"--warmup {args.warmup:g} must be fewer epochs than --epochs {args.epochs}")
    return args


# ---- training --------------------------------------------------------------
class Diverged(Exception):
    """The loss became NaN or infinite."""


class Interrupted(Exception):
    """Ctrl-C during training; ``epochs_done`` full epochs had finished."""

    def __init__(self, epochs_done):
        super().__init__(epochs_done)
        self.epochs_done = epochs_done


def make_optimizer(args):
    if args.optimizer == "adam":
        return Adam(lr=args.lr)
    return SGD(lr=args.lr, momentum=args.momentum)


LOSS_EXPLOSION = 1000  # a loss this many times the first one means divergence


# Overflow on the way to a NaN loss is expected when the learning rate is too
# high; fit detects the NaN itself and says so, so NumPy's warnings are noise.
@np.errstate(over="ignore", invalid="ignore")
def fit(model, optimizer, train, val, epochs, batch_size, seed=0,
        schedule=SCHEDULES["constant"], log=print, augment=None, on_epoch_end=None):
    """Shuffled mini-batch training. Returns a Keras-like history dict:
    per-epoch lists "loss", "accuracy", "val_loss", "val_accuracy", "seconds"
    (training pass only), "dead_relu" (per hidden layer), and "iteration_loss".
    The validation lists stay empty without validation data.

    The learning rate at each step is optimizer.lr (as given) times
    schedule(fraction of all steps done). Raises Diverged when the loss stops
    being finite (at once) or the weights do, or the loss exceeds LOSS_EXPLOSION
    times the first one (at the end of the epoch); Interrupted on Ctrl-C.
    ``augment``, if given, maps each training batch to a randomly transformed
    copy (see augment.py). ``log`` gets each epoch's line from the validation
    thread; ``on_epoch_end(epoch)``, if given, runs on the training thread
    after each epoch's timed pass, with no validation running (a benchmark
    times other work there).
    """
    X, y = train
    X_val, y_val = val
    n = len(X)
    # A generator of its own for the order of examples, reseeded from --seed.
    rng = np.random.default_rng([seed, 1])
    history = {k: [] for k in ("loss", "accuracy", "val_loss", "val_accuracy", "seconds",
                               "dead_relu", "iteration_loss")}
    base_lr = optimizer.lr
    steps_per_epoch = -(-n // batch_size)
    total_steps = epochs * steps_per_epoch
    # Weights of the batches in the epoch mean: the last one may be short.
    batch_sizes = np.minimum(batch_size, n - np.arange(0, n, batch_size))
    # Each epoch's validation runs in a second thread, on a copy of the weights,
    # while the next epoch trains: training keeps one core busy (one BLAS
    # thread), so the other does it for free (0.3 s of the default run's 8 s).
    # That thread prints the epoch's line when its figures are in.
    validating = None
    try:
        with ThreadPoolExecutor(max_workers=1) as validator:
            for epoch in range(1, epochs + 1):
                order = rng.permutation(n)
                losses = []
                correct = 0
                start = time.perf_counter()
                for step, i in enumerate(range(0, n, batch_size)):
                    optimizer.lr = base_lr * schedule(
                        ((epoch - 1) * steps_per_epoch + step) / total_steps)
                    idx = order[i:i + batch_size]
                    yb = y[idx]
                    xb = X[idx] if augment is None else augment(X[idx])
                    probs, cache = model.forward(xb, train=True)
                    loss = model.data_loss(yb, cache) + model.l2_penalty()
                    if not math.isfinite(loss):
                        raise Diverged(f"epoch {epoch}, step {step + 1}: loss is {loss}")
                    optimizer.step(model.params, model.backward(yb, cache))
                    losses.append(loss)
                    correct += int(np.count_nonzero(probs.argmax(axis=1) == yb))
                seconds = time.perf_counter() - start
                # A last step can blow the weights up without a NaN loss yet; never
                # go on (to validation, test accuracy, saving) with such weights.
                if not all(np.isfinite(p).all() for p in model.params.values()):
                    raise Diverged(f"epoch {epoch}: the weights are no longer finite")
                # Too high a rate does not always end in NaN: the loss can explode to
                # 1e4..1e20 while every ReLU dies, and the net ends at chance level.
                # No working run comes near 1000 times its first loss (ln 10 at chance).
                first_loss = (history["iteration_loss"] or losses)[0]
                if max(losses) > LOSS_EXPLOSION * first_loss:
                    raise Diverged(f"epoch {epoch}: the loss exploded from {first_loss:.3g} "
                                   f"to {max(losses):.3g}")

                history["loss"].append(float(np.dot(losses, batch_sizes) / n))
                history["accuracy"].append(correct / n)
                history["seconds"].append(seconds)
                history["iteration_loss"].extend(losses)
                line = (f"Epoch {epoch:{len(str(epochs))}d}/{epochs}  "
                        f"loss {history['loss'][-1]:.4f}  acc {history['accuracy'][-1]:.4f}")
                if validating is not None:
                    validating.result()  # the previous epoch's, long done: in order
                if on_epoch_end is not None:
                    on_epoch_end(epoch)
                if len(X_val):
                    validating = validator.submit(validate, copy.deepcopy(model), X_val, y_val,
                                                  history, line, seconds, log)
                else:
                    log(f"{line}  {seconds:.2f}s")
            if validating is not None:
                validating.result()
    except KeyboardInterrupt:
        raise Interrupted(len(history["loss"])) from None
    return history


def validate(model, X_val, y_val, history, line, seconds, log):
    """Append the model's val_loss, val_accuracy and dead_relu (see fit) to
    ``history``, and log the epoch's line with them."""
    probs, cache = model.forward(X_val)  # one pass for all three figures
    # The same loss as training's (with the L2 term), but no dropout.
    history["val_loss"].append(model.data_loss(y_val, cache) + model.l2_penalty())
    history["val_accuracy"].append(float(np.mean(probs.argmax(axis=1) == y_val)))
    history["dead_relu"].append(dead_fraction(cache.hidden))  # units silent on every image
    log(f"{line}  val_loss {history['val_loss'][-1]:.4f}"
        f"  val_acc {history['val_accuracy'][-1]:.4f}  {seconds:.2f}s"
        "  val_dead " + " ".join(f"{d:.1%}" for d in history["dead_relu"][-1]))


# ---- outputs ---------------------------------------------------------------
FIGURE_DPI = 110  # loss_curve.png: 15 x 4 inches, 1650 x 440 pixels


def plot_history(history, path):
    """loss_curve.png: see history_figure."""
    save_figure(history_figure(history), path, dpi=FIGURE_DPI)


def pyplot():
    """matplotlib.pyplot, drawing to files only (the Agg backend)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def history_figure(history):
    """Three panels: the training loss per iteration; the loss per epoch, training
    against validation (where overfitting shows); the accuracy per epoch."""
    plt = pyplot()
    from matplotlib.ticker import LogFormatter, MaxNLocator

    class PlainLogFormatter(LogFormatter):
        """The ticks matplotlib labels on a log axis, written as plain numbers
        (0.3, 0.01) instead of its default 3x10^-1 in mathtext: the same
        labels, and typesetting the first mathtext of a process costs 0.3 s."""
        def __call__(self, x, pos=None):
            return f"{x:g}" if super().__call__(x, pos) else ""

    losses = np.asarray(history["iteration_loss"])
    iters = np.arange(1, len(losses) + 1)
    per_epoch = len(losses) // len(history["loss"])
    epochs = np.arange(1, len(history["loss"]) + 1)
    window = max(1, min(100, len(losses) // 20))
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    # Made at the dpi it is saved with, so that saving reuses the text sizes
    # tight_layout measured (0.13 s less to draw).
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4), dpi=FIGURE_DPI)
    ax1.plot(iters, losses, lw=0.4, alpha=0.25, color="C0", label="per iteration")
    ax1.plot(iters[window - 1:], smooth, lw=1, color="C0", label=f"mean of {window} iterations")
    # An epoch's mean belongs at its middle, where the running mean passes through it.
    ax1.plot((epochs - 0.5) * per_epoch, history["loss"], "o", color="C1", label="epoch mean")
    ax1.set(xlabel="iteration", ylabel="cross-entropy loss", yscale="log",
            title="Training loss")
    ax1.legend()
    ax2.plot(epochs, history["loss"], "o-", label="training (epoch mean, with dropout)")
    if history.get("val_loss"):
        ax2.plot(epochs, history["val_loss"], "o-", label="validation (end of epoch)")
    ax2.set(xlabel="epoch", ylabel="cross-entropy loss", yscale="log",
            title="Loss per epoch")
    ax3.plot(epochs, history["accuracy"], "o-", label="training")
    if history["val_accuracy"]:
        ax3.plot(epochs, history["val_accuracy"], "o-", label="validation")
    ax3.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    for ax in (ax1, ax2):  # as matplotlib's log scale sets its formatters, but plain
        ax.yaxis.set_major_formatter(PlainLogFormatter())
        ax.yaxis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False))
    for ax in (ax2, ax3):
        # Whole epochs only, also for a 1-epoch run (matplotlib would put ticks
        # at 0.96, 0.98, ... around a single point).
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.set_xlim(0.5, len(epochs) + 0.5)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def load_data(args):
    """The data set as loaded (for its image shape) and as (train, val, test)."""
    data = load_mnist(args.data, len(args.classes))
    return data, prepare(data, args.val_size, args.data or "keras.datasets.mnist")


def main(argv=None):
    single_blas_thread()
    args = parse_args(argv)
    t_start = time.perf_counter()
    try:
        check_writable(args.out)
        if args.data:
            # Decompressing and scaling the images run mostly outside Python's
            # GIL, so a thread loads them while this one imports what comes
            # later: matplotlib for loss_curve.png and SciPy's BLAS for SGD.
            with ThreadPoolExecutor(max_workers=1) as pool:
                loading = pool.submit(load_data, args)
                pyplot()
                scal_axpy(np.float32)
                data, (train, val, test) = loading.result()
        else:  # keras.datasets.mnist imports TensorFlow: no other import alongside it
            data, (train, val, test) = load_data(args)
    except DataError as e:
        sys.exit(f"error: {e}")
    if args.flag_ones:
        train = with_flagged_ones(*train, args.flag_ones, seed=args.seed)
    print(f"data: {args.data or 'keras.datasets.mnist'}: {len(train[0])} training"
          f"{' (with flagged 1s)' if args.flag_ones else ''}, "
          f"{len(val[0])} validation, {len(test[0])} test images")

    sizes = (train[0].shape[1], *args.hidden, len(args.classes))
    model = MLP(sizes, l2=args.l2, dropout=args.dropout, seed=args.seed,
                activation=args.activation, batchnorm=args.batchnorm, classes=args.classes)
    try:
        schedule = make_schedule(args.schedule, args.epochs, args.warmup, args.step_size,
                                 args.step_factor)
        steps_per_epoch = -(-len(train[0]) // args.batch_size)
        augment = Augmenter(args.shift, args.rotate, args.scale, args.elastic_alpha,
                            args.elastic_sigma, seed=args.seed,
                            stop_after=max(args.epochs - args.clean_epochs, 0) * steps_per_epoch,
                            slant=args.slant, thicken=args.thicken, thin=args.thin)
        history = fit(model, make_optimizer(args), train, val, args.epochs,
                      args.batch_size, seed=args.seed, schedule=schedule,
                      augment=augment if augment.active else None)
    except Diverged as e:
        sys.exit(f"error: training diverged ({e}); try a lower learning rate than "
                 f"--lr {args.lr:g}. Nothing was written.")
    except Interrupted as e:
        sys.exit(f"\ninterrupted after {e.epochs_done} of {args.epochs} epochs: "
                 "nothing was written.")
    with blas_threads_for_big_products():
        test_accuracy = model.accuracy(*test)
    print(f"Test accuracy: {test_accuracy:.4f}")

    results = {
        "test_accuracy": test_accuracy,
        "val_accuracy": history["val_accuracy"][-1] if history["val_accuracy"] else None,
        "train_loss": history["loss"][-1],
        "epochs": len(history["loss"]),
        "seconds_per_epoch": float(np.median(history["seconds"])),
        "train_seconds": float(np.sum(history["seconds"])),
        "hyperparameters": {k: v for k, v in vars(args).items()
                            if k not in ("data", "out", "seed", "classes")},
        "seed": args.seed,
        "sizes": list(sizes),
        "image_shape": list(data[0].shape[1:]),
        "classes": list(args.classes),
        # Identifies the model.npz of this run (experiments/evaluate.py checks it).
        "weights_sha256": weights_sha256(model.params),
        "environment": environment(args.data),
        "history": {k: v for k, v in history.items() if k != "iteration_loss"},
    }
    try:
        plot_history(history, os.path.join(args.out, "loss_curve.png"))
        write_json(os.path.join(args.out, "results.json"), results)
        model.save(os.path.join(args.out, "model.npz"))
    except OSError as e:  # disk full, --out removed meanwhile, ...
        sys.exit(f"error: cannot write the results to --out {args.out} ({e.strerror or e}); "
                 "each file there is either untouched or completely written")
    print(f"wrote loss_curve.png, results.json, model.npz to {args.out} "
          f"({time.perf_counter() - t_start:.1f}s in all)")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # outside fit, which reports Ctrl-C itself
        sys.exit("\ninterrupted before or after training: every file in --out is either "
                 "untouched or completely written, never half-done.")
    except MemoryError:
        sys.exit("error: not enough memory; try a smaller --hidden or --batch-size. "
                 "Nothing half-done was written.")
    # Everything is written. On its way out Python would collect garbage once
    # more, walking every object matplotlib and SciPy made: 0.13 s for nothing.
    gc.freeze()
