"""Classify your own images of digits with a trained network.

    python predict.py my_digit.png [more.jpg ...] [--model PATH] [--show DIR]

Each image goes through MNIST's preprocessing first (preprocess.mnist_like:
grayscale, light ink on dark, crop, fit 20x20, centre of mass at the centre),
because the network only knows digits that look like MNIST's - with what a
photo needs on top: shadows flattened, printed lines dropped, strokes brought
to MNIST's width, the strongest ink at full intensity. Prints per
image the predicted digit and the three most probable digits. --show DIR
saves the 28x28 image the network actually saw, to check the preprocessing.

An image that is missing, unreadable or blank gets one line on stderr; the
others are still classified, and the exit status is 1.
"""
import argparse
import os
import sys

import numpy as np

from model import MLP
from preprocess import SIZE, mnist_like, read_gray

TOP = 3
HERE = os.path.dirname(os.path.abspath(__file__))
# The shipped models, most robust to people's handwriting first: a fresh clone
# reads digits with the first of these that exists.
SHIPPED_MODELS = [os.path.join(HERE, "models", "robust", "model.npz"),
                  os.path.join(HERE, "model.npz")]


def default_model():
    """The path of the first shipped model that exists (the last one if none does,
    so that the error names the file train.py writes)."""
    return next((path for path in SHIPPED_MODELS if os.path.exists(path)), SHIPPED_MODELS[-1])


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Predict the digit in each image with a model saved by train.py.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...): one digit each")
    p.add_argument("--model", default=None,
                   help="weights saved by train.py (default: the most robust shipped model, "
                   "models/robust/model.npz, else model.npz from python train.py)")
    p.add_argument("--show", metavar="DIR",
                   help="save the 28x28 image the network saw for each input to DIR")
    return p.parse_args(argv)


def load_image(path, skip=()):
    """The 28x28 MNIST-like version of the image at ``path`` (a file name or an
    open binary file); ValueError with a one-line reason if there is none.
    ``skip``: preprocessing steps to leave out (preprocess.STEPS), for measuring."""
    try:
        gray = read_gray(path)
    except FileNotFoundError:
        raise ValueError("no such file") from None
    except IsADirectoryError:
        raise ValueError("is a folder, not an image") from None
    except Exception as e:  # PIL raises many kinds: UnidentifiedImageError, OSError, ...
        reason = getattr(e, "strerror", None) or str(e).split("\n")[0] or type(e).__name__
        raise ValueError(f"cannot read it as an image ({reason})") from None
    return mnist_like(gray, skip)  # BlankImage is a ValueError, with its own message


def save_seen(image, folder, source, used):
    """Write the 28x28 image as an 8-bit PNG named after its source file."""
    from PIL import Image
    stem = os.path.splitext(os.path.basename(source))[0] or "image"
    name, n = f"{stem}.png", 1
    while name in used:  # two inputs with the same name from different folders
        n += 1
        name = f"{stem}-{n}.png"
    used.add(name)
    path = os.path.join(folder, name)
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(path)
    return path


def main(argv=None):
    args = parse_args(argv)
    args.model = args.model or default_model()
    try:
        model = MLP.load(args.model)
    except ValueError as e:
        sys.exit(f"error: {e} (train one with train.py, or pass --model)")
    if model.sizes[0] != SIZE * SIZE:
        sys.exit(f"error: {args.model} expects {model.sizes[0]} inputs, not "
                 f"{SIZE}x{SIZE} = {SIZE * SIZE} pixels")
    if args.show:
        try:
            os.makedirs(args.show, exist_ok=True)
        except OSError as e:
            sys.exit(f"error: --show {args.show}: cannot create it ({e.strerror})")

    failed = 0
    used_names = set()
    for path in args.images:
        try:
            image = load_image(path)
        except ValueError as e:
            print(f"error: {path}: {e}", file=sys.stderr)
            failed += 1
            continue
        probs = model.forward(image.reshape(1, -1))[0]
        top = np.argsort(-probs, kind="stable")[:TOP]
        ranking = "  ".join(f"{d}: {probs[d]:6.1%}" for d in top)
        line = f"{path}: {top[0]}    top {TOP}: {ranking}"
        if args.show:
            try:
                line += f"    (saw {save_seen(image, args.show, path, used_names)})"
            except OSError as e:
                print(f"error: --show {args.show}: cannot write there ({e.strerror})",
                      file=sys.stderr)
                failed += 1
        print(line, flush=True)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
