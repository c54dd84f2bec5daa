"""Reading a person's digit: an image file in, what the network saw and says out.

    from handwriting.read import default_model, load_model, read_digit, read_number
    model = load_model(default_model())
    image, probs, hidden = read_digit(model, "photo.png")
    digits = read_number(model, "number.png")  # (image, probs, hidden, box) per digit

The library behind ``python predict.py`` and the drawing page (handwriting/serve.py),
so that both read an image the same way; the benchmarks (handwriting/benchmark.py,
handwriting/numbers_benchmark.py) read their images through it too.
"""
import os

import numpy as np
from PIL import UnidentifiedImageError

from handwriting.numbers import find_digits
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


def load_gray(source):
    """The image in ``source`` (a path, or a binary file object holding an
    image file's bytes) as preprocess.read_gray gives it; ValueError with a
    one-line reason if it cannot be read: ImageTooLarge when it has too many
    pixels."""
    try:
        return read_gray(source)
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


def load_image(source, skip=()):
    """The 28x28 MNIST-like version of the image in ``source`` (as for
    load_gray); ValueError with a one-line reason if there is none: BlankImage
    when it has no digit, ImageTooLarge when it has too many pixels.
    ``skip``: preprocessing steps to leave out (preprocess.STEPS), for
    measuring what each one buys."""
    return mnist_like(load_gray(source), skip)  # BlankImage is a ValueError, with its own message


def read_digit(model, source):
    """What ``model`` reads in the image in ``source`` (as for load_image):
    (image, probs, hidden) - the 28x28 image it saw, the 10 class
    probabilities, and each hidden layer's activations (1-D arrays)."""
    image = load_image(source)
    probs, hidden = forward(model, image[None])
    return image, probs[0], [h[0] for h in hidden]


def read_number(model, source):
    """What ``model`` reads in a picture of a whole number in ``source`` (as
    for load_image): one (image, probs, hidden, box) per digit, left to
    right - as read_digit's, and where the digit is in the picture (top,
    left, bottom, right in its pixels). Each digit is found by
    numbers.find_digits and goes through the same mnist_like as a picture of
    one digit. ValueError with a one-line reason as for load_image; also
    numbers.TooManyDigits beyond numbers.MAX_DIGITS."""
    digits = find_digits(load_gray(source))
    images = np.stack([mnist_like(digit.ink) for digit in digits])
    probs, hidden = forward(model, images)
    return [(image, p, [h[i] for h in hidden], digit.box)
            for i, (image, p, digit) in enumerate(zip(images, probs, digits))]


def forward(model, images):
    """(probs, hidden activations) of readable 28x28 ``images``. A failure here is the
    model's, not the image's: it is never a ValueError, which callers take for a bad
    image (the server's 400, predict.py's "error: FILE: ..."), but a RuntimeError."""
    try:
        probs, cache = model.forward(images.reshape(len(images), -1))
    except ValueError as e:
        raise RuntimeError(f"the model failed on a readable image ({e})") from e
    return probs, cache.hidden
