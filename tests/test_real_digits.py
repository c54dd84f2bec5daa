"""handwriting/real_digits.py: other writers' digits (UCI's, from scikit-learn's
copy) read as predict.py reads a file."""
import sys

import numpy as np
import pytest
from PIL import Image

from handwriting import real_digits
from handwriting.read import ROBUST_MODEL, load_model


def test_a_digit_becomes_dark_ink_on_white_paper_of_the_size_asked():
    small = np.zeros((8, 8))
    small[1:7, 3:5] = 16  # full ink
    image = Image.open(real_digits.as_png(small, 64, Image.NEAREST))
    pixels = np.asarray(image)
    assert image.size == (64, 64)
    assert pixels[0, 0] == 255 and pixels[32, 28] == 0  # paper white, ink black
    assert set(np.unique(pixels)) == {0, 255}  # repeated pixels: no grey in between


def test_uci_digits_are_read_blocky_and_enlarged_smoothly():
    """200 of the 1,797, enlarged blockily as such small images are shown: the
    robust model reads 98 % of them (96 % of all). Before blocky scans skipped
    the local paper estimate, that took strokes a block wide for paper and it
    read 66.5 % (65 % of all)."""
    images, labels = real_digits.uci_digits()
    model = load_model(ROBUST_MODEL)
    results = real_digits.measure({"robust": model}, images[:200], labels[:200])
    blocky = results["8x8 enlarged to 64x64, blocky (repeated pixels)"]["robust"][0]
    assert blocky >= 0.93
    # Enlarged smoothly to 28x28 their strokes are soft and wide, with narrow
    # necks; thinned to MNIST's width without a stop they broke apart: 86 %.
    # Stopping before a step that cuts a stroke in two: 95 %.
    assert results["8x8 enlarged to 28x28 (bicubic)"]["robust"][0] >= 0.92
    # Enlarged smoothly to 64x64 they are scans too (every edge spread over 8
    # pixels), with no shadow to flatten: 97 %; 89 % when flatten_paper took the
    # ink on their border for a shadow's edge.
    assert results["8x8 enlarged to 64x64, smooth (bilinear)"]["robust"][0] >= 0.94


def test_without_scikit_learn_it_says_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now fails
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(SystemExit) as exit_:
        real_digits.main(["--out", str(tmp_path)])
    assert str(exit_.value).startswith("error: the UCI digits come with scikit-learn: pip install")
    assert "\n" not in str(exit_.value)
    assert list(tmp_path.iterdir()) == []
