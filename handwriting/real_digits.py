"""Real handwriting from another collection: the UCI optical digits, read as
predict.py reads a file.

    pip install scikit-learn            # it ships the digits inside it: nothing downloads
    python -m handwriting.real_digits   # ~20 s: docs/reports/real_digits.md

1,797 digits by 13 writers (the test part of UCI's "Optical Recognition of
Handwritten Digits", made from NIST's forms), each 8x8 pixels of 17 grey
levels: the writers' 32x32 bitmaps counted in 4x4 blocks. They are not drawn
by this project, so they measure what no generator of ours can: other
people's hands. Each digit becomes a PNG file, dark ink on white paper,
enlarged three ways (a blocky 64x64 by repeating pixels, as small images are
usually shown; a smooth 64x64; a 28x28), and goes through ``load_image``, the
path of ``python predict.py file.png``. scikit-learn (in requirements.txt) is
used for its copy of the data only; where it is missing, this says so in one
line and ``--all`` skips the part.
"""
import io
import os
import sys
import time

import numpy as np
from PIL import Image

from cli import make_parser, report_folders, single_blas_thread
from fileio import write_atomically

WRITERS = 13  # the test part's; 30 others wrote the training part, not used
# name -> (side of the enlarged image, Pillow's resampling filter)
ENLARGEMENTS = {
    "8x8 enlarged to 64x64, blocky (repeated pixels)": (64, Image.NEAREST),
    "8x8 enlarged to 64x64, smooth (bilinear)": (64, Image.BILINEAR),
    "8x8 enlarged to 28x28 (bicubic)": (28, Image.BICUBIC),
}


class NotInstalled(Exception):
    """scikit-learn, which holds the data, is not installed."""


def uci_digits():
    """(images (1797, 8, 8) in 0..16, labels (1797,)) from scikit-learn's copy."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise NotInstalled("the UCI digits come with scikit-learn: pip install scikit-learn "
                           "(only its copy of the data is used)") from None
    digits = load_digits()
    return digits.images, digits.target


def as_png(small, side, resample):
    """One 8x8 digit (ink 0..16) as the bytes of a PNG: dark ink on white, side x side."""
    gray = np.round(255 * (1 - np.asarray(small, dtype=np.float64) / 16)).astype(np.uint8)
    data = io.BytesIO()
    Image.fromarray(gray).resize((side, side), resample).save(data, format="PNG")
    return data


def measure(models, images, labels):
    """{enlargement: {model name: (accuracy, accuracy per digit)}}."""
    from handwriting.benchmark import read_all
    results = {}
    for name, (side, resample) in ENLARGEMENTS.items():
        seen, refused = read_all([as_png(image, side, resample) for image in images])
        results[name] = {}
        for model_name, model in models.items():
            right = np.where(refused, -1, model.predict(seen)) == labels
            results[name][model_name] = (right.mean(), [right[labels == d].mean()
                                                        for d in range(10)])
    return results


def markdown(results, command, seconds):
    models = list(next(iter(results.values())))
    lines = ["# Real handwriting from another collection: the UCI digits", "",
             f"Made by `{command}` ({seconds:.0f} s). 1,797 digits by {WRITERS} writers, 8x8 "
             "pixels of 17 grey levels (scikit-learn's copy), each written to a PNG (dark ink on "
             "white) and read by `load_image`, as `python predict.py file.png` reads it.", "",
             "| enlargement | " + " | ".join(f"{m} model" for m in models) + " |",
             "|---|" + "---:|" * len(models)]
    for name, by_model in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{by_model[m][0]:.1%}" for m in models) + " |")
    lines += ["", "Per digit, " + models[-1] + " model:", "",
              "| enlargement | " + " | ".join(str(d) for d in range(10)) + " |",
              "|---|" + "---:|" * 10]
    for name, by_model in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{a:.0%}" for a in by_model[models[-1]][1])
                     + " |")
    return "\n".join(lines) + "\n"


def run(docs, command):
    """Measure the shipped models, write docs/real_digits.md into ``docs``;
    returns the paths written. NotInstalled without scikit-learn."""
    from handwriting.benchmark import MODELS
    from handwriting.read import load_model
    images, labels = uci_digits()
    models = {name: load_model(path) for name, path in MODELS if os.path.exists(path)}
    start = time.perf_counter()
    results = measure(models, images, labels)
    text = markdown(results, command, time.perf_counter() - start)
    print(text)
    path = os.path.join(docs, "real_digits.md")
    write_atomically(path, lambda f: f.write(text.encode()))
    return [path]


def main(argv=None):
    single_blas_thread()
    parser = make_parser(__doc__, __spec__)
    parser.add_argument("--out", default=None,
                        help="write the report here instead of docs/reports/")
    args = parser.parse_args(argv)
    docs, _ = report_folders(args.out)
    try:
        run(docs, "python -m handwriting.real_digits" + (f" --out {args.out}" if args.out else ""))
    except (NotInstalled, ValueError, OSError) as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
