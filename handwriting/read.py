"""Reading a person's digit: an image file in, what the network saw and says out.

    from handwriting.read import default_model, load_model, read_digit
    image, probs, hidden = read_digit(load_model(default_model()), "photo.png")

The library behind ``python predict.py`` and the drawing page (handwriting/serve.py),
so that both read an image the same way; the benchmark (handwriting/benchmark.py)
reads its images through it too.
"""
import os

import numpy as np
from PIL import UnidentifiedImageError

from handwriting.preprocess import SIZE, ImageTooLarge, mnist_like, read_gray
from model import MLP

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The shipped models, most robust to people's handwriting first: a fresh clone
# reads digits with the first of these that exists.
ROBUST_MODEL = os.path.join(ROOT, "handwriting", "robust", "model.npz")  # train.py --preset robust
DEFAULT_MODEL = os.path.join(ROOT, "model.npz")  # python train.py
SHIPPED_MODELS = [ROBUST_MODEL, DEFAULT_MODEL]


def default_model():
    """The path of the first shipped model that exists (the last one if none does,
    so that the error names the file train.py writes)."""
    return next((path for path in SHIPPED_MODELS if os.path.exists(path)), SHIPPED_MODELS[-1])


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
    try:
        probs, cache = model.forward(image.reshape(1, -1))
    except ValueError as e:  # the model's failure, not the image's: never a ValueError,
        # which callers take for a bad image (the server's 400, predict.py's "error: file")
        raise RuntimeError(f"the model failed on a readable image ({e})") from e
    return image, probs[0], [h[0] for h in cache.hidden]
