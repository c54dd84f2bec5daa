"""How well saved models read MNIST digits re-drawn with another pen or slant.

    python -m handwriting.strokes handwriting/robust/model.npz model.npz [--data path/to/mnist.npz]
    python -m handwriting.strokes robust=handwriting/robust/model.npz default=model.npz  # named columns

Each digit of MNIST's test set (or, with --split val, of the validation set:
the last 10,000 training images, which is where augmentation strengths are
chosen) is re-drawn under each condition below, and every model given reads
all of them. Prints a table (accuracy per condition and model) and, with
--json, writes it.

The pen is changed here independently of augment.py's stroke_width (which the
robust model trains with), so that a model is not tested on its own training
transformation: each image is enlarged 4x (bilinear), cut at half its peak
ink into a solid shape, that shape grown or shrunk by a disk (an octagon of
alternating 3x3 crosses and squares at 4x), and shrunk back to 28x28 by
averaging 4x4 blocks (anti-aliased edges, as a scanner or a camera gives).
Its strongest pixel is then set to full ink, as predict.py's preprocessing
does with a person's digit. "pen +1 px" makes a stroke 1 pixel wider at
28x28 (half a pixel on each side); "pen -1 px" 1 pixel narrower.

--samples PNG also draws a few digits as --preset robust's augmentation
changes them in training, beside some of the measured conditions.
"""
import os
import sys

import numpy as np

from augment import Augmenter, add_flag, affine_elastic, neighbourhood, stroke_width, warp
from cli import make_parser, single_blas_thread
from data import DATA_HELP, DataError, default_data_path, load_mnist, prepare
from fileio import save_figure, write_json
from model import MLP

# What the shipped robust model was trained with (train.py --preset robust).
ROBUST_RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "robust", "results.json")
UP = 4  # the pen is drawn at 4x resolution: 112 x 112
SIDE = 28
CROSS = [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)]
SQUARE = [(r, c) for r in (-1, 0, 1) for c in (-1, 0, 1)]
SAMPLES = [0, 1, 2, 4, 7, 8, 11]  # the test images --samples draws: a 7, 2, 1, 4, 9, 5 and 6


def enlarge(images, factor=UP):
    """(N, 28, 28) -> (N, 28 f, 28 f) by bilinear interpolation (pixel centres
    aligned: output pixel p looks at input (p + 0.5) / f - 0.5)."""
    n, h, w = images.shape
    r = ((np.arange(h * factor) + 0.5) / factor - 0.5).astype(images.dtype)
    c = ((np.arange(w * factor) + 0.5) / factor - 0.5).astype(images.dtype)
    rows = np.broadcast_to(r[None, :, None], (n, h * factor, w * factor))
    cols = np.broadcast_to(c[None, None, :], (n, h * factor, w * factor))
    return warp(images, rows, cols)


def pen(X, width_change, chunk=1000):
    """Flattened images (N, 784) re-drawn with strokes width_change pixels
    wider (> 0) or narrower (< 0) at 28 x 28, in steps of 0.5 px; peak ink 1."""
    steps = int(round(abs(width_change) * UP / 2))  # high-res pixels per side
    reduce = np.maximum if width_change > 0 else np.minimum
    out = np.empty_like(X)
    for i in range(0, len(X), chunk):  # chunks keep the 112 x 112 copies small
        big = enlarge(X[i:i + chunk].reshape(-1, SIDE, SIDE))
        shape = (big >= 0.5 * big.max(axis=(1, 2), keepdims=True)).astype(np.float32)
        for k in range(steps):  # alternating cross and square: an octagon, near a disk
            shape = neighbourhood(shape, reduce, CROSS if k % 2 == 0 else SQUARE)
        small = shape.reshape(len(shape), SIDE, UP, SIDE, UP).mean(axis=(2, 4))
        peak = small.max(axis=(1, 2), keepdims=True)
        out[i:i + chunk] = (small / np.maximum(peak, 1e-6)).reshape(len(small), -1)
    return out


def conditions(X):
    """{name: re-drawn copy of X} for every condition."""
    slant = lambda deg: affine_elastic(X, slant=np.deg2rad(deg))  # noqa: E731
    rotate = lambda deg: affine_elastic(X, angle=np.deg2rad(deg))  # noqa: E731
    return {
        "MNIST as is": lambda: X,
        "pen -1 px (finer)": lambda: pen(X, -1.0),
        "pen -0.5 px": lambda: pen(X, -0.5),
        "pen +0 px (re-drawn only)": lambda: pen(X, 0.0),
        "pen +1 px (bolder)": lambda: pen(X, 1.0),
        "pen +2 px": lambda: pen(X, 2.0),
        "pen +3 px (marker)": lambda: pen(X, 3.0),
        "slant 20 deg left": lambda: slant(-20),
        "slant 20 deg right": lambda: slant(20),
        "rotated 15 deg ccw": lambda: rotate(15),
        "rotated 15 deg cw": lambda: rotate(-15),
    }


def save_samples(X, y, path, seed=0):
    """A grid: each row one digit (images X, labels y); columns what the robust
    model's training augmentation does (each kind alone at its extremes, the
    flag its 1s get, then all of it at random) and, for comparison, the
    measuring pen at -1 and +2 px. The augmentation's strengths are those the
    shipped robust model recorded."""
    import json

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(ROBUST_RESULTS) as f:
        robust = json.load(f)["hyperparameters"]
    every = Augmenter(robust["shift"], robust["rotate"], robust["scale"],
                      robust["elastic_alpha"], robust["elastic_sigma"], seed=seed,
                      slant=robust["slant"], thicken=robust["thicken"], thin=robust["thin"])
    columns = {
        "MNIST": X,
        f"finer\n-{robust['thin']:g} px": stroke_width(X, -robust["thin"]),
        f"bolder\n+{robust['thicken']:g} px": stroke_width(X, robust["thicken"]),
        f"slant\n-{robust['slant']:g} deg": affine_elastic(X, slant=np.deg2rad(-robust["slant"])),
        f"slant\n+{robust['slant']:g} deg": affine_elastic(X, slant=np.deg2rad(robust["slant"])),
        f"rotate\n+{robust['rotate']:g} deg": affine_elastic(X, angle=np.deg2rad(robust["rotate"])),
    }
    if robust.get("flag_ones"):
        # Copies of a share of the training 1s get a flag (then the rest, as every
        # image); the other digits' cells stay blank.
        ones = np.asarray(y) == 1
        flagged = columns[f"flagged 1\n({robust['flag_ones']:g} of 1s)"] = np.zeros_like(X)
        flagged[ones] = add_flag(X[ones], np.random.default_rng(seed))
    columns |= {
        "all, at\nrandom": every(X),
        "all, at\nrandom ": every(X),
        "all, at\nrandom  ": every(X),
        "test pen\n-1 px": pen(X, -1.0),
        "test pen\n+2 px": pen(X, 2.0),
    }
    fig, axes = plt.subplots(len(X), len(columns), figsize=(len(columns) * 0.8, len(X) * 0.8 + 0.5))
    for j, (title, images) in enumerate(columns.items()):
        axes[0, j].set_title(title.strip(), fontsize=7)
        for i in range(len(X)):
            axes[i, j].imshow(images[i].reshape(SIDE, SIDE), cmap="gray_r", vmin=0, vmax=1)
            axes[i, j].axis("off")
    fig.tight_layout(pad=0.3)
    save_figure(fig, path)


def parse_args(argv=None):
    p = make_parser(__doc__.split("\n")[0], __spec__)
    p.add_argument("models", nargs="+",
                   help="model.npz files saved by train.py, each as PATH or NAME=PATH")
    p.add_argument("--data", default=default_data_path(), help=DATA_HELP)
    p.add_argument("--split", choices=["test", "val"], default="test",
                   help="MNIST's test set, or the validation set (last 10,000 training images)")
    p.add_argument("--json", help="also write the table to this file")
    p.add_argument("--samples", metavar="PNG",
                   help="also draw 6 digits as the robust preset's augmentation changes them")
    return p.parse_args(argv)


def measure(models, X, y, split="test"):
    """{condition: {model name: accuracy}}: every model in ``models`` ({name:
    MLP}) reading ``X`` re-drawn under each condition; prints the table as it
    goes."""
    table = {}
    print(f"{split} set, {len(y)} images: accuracy per condition")
    print(f"{'condition':28s}" + "".join(f"{name[-30:]:>32s}" for name in models))
    for name, make in conditions(X).items():
        images = make()
        table[name] = {model: float(np.mean(m.predict(images) == y)) for model, m in models.items()}
        print(f"{name:28s}" + "".join(f"{acc:32.2%}" for acc in table[name].values()),
              flush=True)
    return table


def main(argv=None):
    single_blas_thread()
    args = parse_args(argv)
    try:
        train, val, test = prepare(load_mnist(args.data), 10000, args.data or "keras")
        named = dict(m.split("=", 1) if "=" in m else (m, m) for m in args.models)
        models = {name: MLP.load(path) for name, path in named.items()}
    except (DataError, ValueError) as e:
        sys.exit(f"error: {e}")
    X, y = test if args.split == "test" else val
    if args.samples:
        save_samples(X[SAMPLES], y[SAMPLES], args.samples)
    table = measure(models, X, y, args.split)
    if args.json:
        command = " ".join(["python -m handwriting.strokes",
                            *(sys.argv[1:] if argv is None else argv)])
        write_table(args.json, table, named, args.split, len(y), command)


def write_table(path, table, named, split, images, command):
    """strokes.json: ``measure``'s table, with the models' files ({name: path}),
    the split and its size, and the command that made it."""
    write_json(path, {"split": split, "images": images, "command": command,
                      "models": named, "accuracy": table})


if __name__ == "__main__":
    main()
