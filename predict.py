"""Classify your own images of digits with a trained network.

    python predict.py my_digit.png [more.jpg ...] [--model PATH] [--show DIR]

Each image goes through MNIST's preprocessing first (preprocess.mnist_like:
grayscale, light ink on dark, crop, fit 20x20, centre of mass at the centre),
because the network only knows digits that look like MNIST's - with what a
photo needs on top: shadows flattened, printed lines dropped, strokes brought
to MNIST's width, the strongest ink at full intensity. Prints per image the
predicted digit and the three most probable digits (or classes: a model
trained with train.py --classes names its own). --show DIR
saves the 28x28 image the network actually saw, to check the preprocessing.

An image that is missing, unreadable, blank or too large (over 16 megapixels,
preprocess.MAX_PIXELS; a larger JPEG is read at a reduced scale instead) gets
one line on stderr; the others are still classified, and the exit status is 1.
"""
import argparse
import os
import sys

import numpy as np
from PIL import UnidentifiedImageError

from model import MLP
from preprocess import SIZE, ImageTooLarge, mnist_like, read_gray
from train import HelpFormatter

TOP = 3
HERE = os.path.dirname(os.path.abspath(__file__))
# The shipped models, most robust to people's handwriting first: a fresh clone
# reads digits with the first of these that exists.
ROBUST_MODEL = os.path.join(HERE, "models", "robust", "model.npz")  # train.py --preset robust
DEFAULT_MODEL = os.path.join(HERE, "model.npz")  # python train.py
SHIPPED_MODELS = [ROBUST_MODEL, DEFAULT_MODEL]


def default_model():
    """The path of the first shipped model that exists (the last one if none does,
    so that the error names the file train.py writes)."""
    return next((path for path in SHIPPED_MODELS if os.path.exists(path)), SHIPPED_MODELS[-1])


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Predict the digit in each image with a model saved by train.py.",
        formatter_class=HelpFormatter)
    p.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...): one digit each")
    p.add_argument("--model", default=None,
                   help="weights saved by train.py (default: the most robust shipped model, "
                   "models/robust/model.npz, else model.npz from python train.py)")
    p.add_argument("--show", metavar="DIR",
                   help="save the 28x28 image the network saw for each input to DIR")
    return p.parse_args(argv)


def load_model(path):
    """The MLP saved at ``path``, checked to read 28x28 images; ValueError with
    a one-line reason if it cannot."""
    try:
        model = MLP.load(path)
    except ValueError as e:
        raise ValueError(f"{e} (train one with train.py, or pass --model)") from None
    if model.sizes[0] != SIZE * SIZE:
        raise ValueError(f"{path} expects {model.sizes[0]} inputs, not "
                         f"{SIZE}x{SIZE} = {SIZE * SIZE} pixels")
    return model


def load_image(source, skip=()):
    """The 28x28 MNIST-like version of the image in ``source`` (a path, or a
    binary file object holding an image file's bytes); ValueError with a
    one-line reason if there is none: BlankImage when it has no digit,
    ImageTooLarge when it has too many pixels. ``skip``: preprocessing steps
    to leave out (preprocess.STEPS), for measuring what each one buys."""
    try:
        gray = read_gray(source)
    except FileNotFoundError:
        raise ValueError("no such file") from None
    except IsADirectoryError:
        raise ValueError("is a folder, not an image") from None
    except ImageTooLarge:
        raise  # its own one-line message
    except Exception as e:  # PIL raises many kinds: UnidentifiedImageError, OSError, ...
        reason = getattr(e, "strerror", None) or str(e).split("\n")[0] or type(e).__name__
        if isinstance(e, UnidentifiedImageError) and not isinstance(source, (str, os.PathLike)):
            reason = "not an image file Pillow knows"  # its message shows the object's repr
        raise ValueError(f"cannot read it as an image ({reason})") from None
    return mnist_like(gray, skip)  # BlankImage is a ValueError, with its own message


def read_digit(model, source):
    """What ``model`` reads in the image in ``source`` (as for load_image):
    (image, probs, hidden) - the 28x28 image it saw, the 10 class
    probabilities, and each hidden layer's activations (1-D arrays)."""
    image = load_image(source)
    probs, hidden = model.forward(image.reshape(1, -1), return_hidden=True)
    return image, probs[0], [h[0] for h in hidden]


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
        model = load_model(args.model)
    except ValueError as e:
        sys.exit(f"error: {e}")
    if args.show:
        try:
            os.makedirs(args.show, exist_ok=True)
        except OSError as e:
            sys.exit(f"error: --show {args.show}: cannot create it ({e.strerror})")

    failed = 0
    used_names = set()
    for path in args.images:
        try:
            image, probs, _ = read_digit(model, path)
        except ValueError as e:
            print(f"error: {path}: {e}", file=sys.stderr)
            failed += 1
            continue
        top = np.argsort(-probs, kind="stable")[:TOP]
        names = model.classes  # the digits, unless trained with other --classes
        ranking = "  ".join(f"{names[d]}: {probs[d]:6.1%}" for d in top)
        line = f"{path}: {names[top[0]]}    top {len(top)}: {ranking}"  # 2 classes: top 2
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
