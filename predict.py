"""Classify your own images of digits with a trained network.

    python predict.py my_digit.png [more.jpg ...] [--model PATH] [--show DIR]
    python predict.py --number my_number.png [...]     # a whole number: 2026

Each image goes through MNIST's preprocessing first (handwriting/preprocess.py, mnist_like:
grayscale, light ink on dark, crop, fit 20x20, centre of mass at the centre),
because the network only knows digits that look like MNIST's - with what a
photo needs on top: shadows flattened, printed lines dropped, strokes brought
to MNIST's width, the strongest ink at full intensity. Prints per image the
predicted digit and the three most probable digits (or classes: a model
trained with train.py --classes names its own). --show DIR
saves the 28x28 image the network actually saw, to check the preprocessing.

With --number each image holds a whole number: its digits are found as
pieces of ink, left to right (handwriting/numbers.py), each goes through the
same preprocessing, and the line starts with the number, then each digit with
its probability; --show saves the digits the network saw side by side.

An image that is missing, unreadable, blank or too large (over 16 megapixels,
handwriting.preprocess.MAX_PIXELS; a larger JPEG is read at a reduced scale instead) gets
one line on stderr; the others are still classified, and the exit status is 1.
"""
import os
import sys

import numpy as np

from cli import make_parser, single_blas_thread
from fileio import tile
from handwriting.read import default_model, load_model, read_digit, read_number

TOP = 3  # the most probable classes printed for each image


def parse_args(argv=None):
    p = make_parser("Predict the digit in each image with a model saved by train.py.", __spec__)
    p.add_argument("images", nargs="+",
                   help="image files (PNG, JPEG, ...): one digit each (with --number: a number)")
    p.add_argument("--number", action="store_true",
                   help="each image holds a whole number of one or more digits, written "
                   "left to right: print the number, then each digit with its probability")
    p.add_argument("--model", default=None,
                   help="weights saved by train.py (default: the most robust shipped model, "
                   "handwriting/robust/model.npz, else model.npz from python train.py)")
    p.add_argument("--show", metavar="DIR",
                   help="save the 28x28 image the network saw for each input to DIR "
                   "(with --number: each digit's, side by side)")
    return p.parse_args(argv)


def save_seen(image, folder, source, used):
    """Write the image the network saw (28x28, or a number's digits side by
    side) as an 8-bit PNG named after its source file."""
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


def digit_line(model, path):
    """The line printed for an image of one digit, and the 28x28 image the
    network saw."""
    image, probs, _ = read_digit(model, path)
    top = np.argsort(-probs, kind="stable")[:TOP]
    names = model.classes  # the digits, unless trained with other --classes
    ranking = "  ".join(f"{names[d]}: {probs[d]:6.1%}" for d in top)
    return f"{path}: {names[top[0]]}    top {len(top)}: {ranking}", image  # 2 classes: top 2


def number_line(model, path):
    """The line printed for an image of a whole number - the number, then each
    digit with its probability - and the digits the network saw, side by side."""
    digits = read_number(model, path)
    names = model.classes
    answers = [(names[int(np.argmax(probs))], probs.max()) for _, probs, _, _ in digits]
    number = "".join(name for name, _ in answers)
    each = "  ".join(f"{name}: {p:6.1%}" for name, p in answers)
    seen, _ = tile(np.array([image for image, _, _, _ in digits]), cols=len(digits), fill=0)
    return f"{path}: {number}    digits: {each}", seen


def main(argv=None):
    single_blas_thread()
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
            line, seen = (number_line if args.number else digit_line)(model, path)
        except ValueError as e:
            print(f"error: {path}: {e}", file=sys.stderr)
            failed += 1
            continue
        if args.show:
            try:
                line += f"    (saw {save_seen(seen, args.show, path, used_names)})"
            except OSError as e:
                print(f"error: --show {args.show}: cannot write there ({e.strerror})",
                      file=sys.stderr)
                failed += 1
        print(line, flush=True)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
