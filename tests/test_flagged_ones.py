"""Flagged 1s (augment.add_flag, train.py --flag-ones): the stroke a European 1
starts with, added to copies of training 1s so that the robust model reads such
a 1 as a 1 and not as a 7 (issue 18)."""
import contextlib
import io

import numpy as np
import pytest

import train
from augment import add_flag, with_flagged_ones


def stem(top=4, bottom=23, col=14, width=2):
    """A plain 1: a vertical stroke, ``width`` pixels wide."""
    img = np.zeros((28, 28), np.float32)
    img[top:bottom + 1, col:col + width] = 1.0
    return img.reshape(1, -1)


def test_a_flag_runs_down_left_from_the_top_of_the_stem():
    X = stem()
    for seed in range(20):
        flagged = add_flag(X, np.random.default_rng(seed)).reshape(28, 28)
        new = (flagged > 0.5) & ~(X.reshape(28, 28) > 0.5)
        rows, cols = np.nonzero(new)
        assert len(rows) >= 3, seed                       # a visible stroke
        assert cols.max() < 14 and rows.min() >= 4, seed  # left of the stem, below its top
        # From the stem's top (row 4, col 14.5) at 30-65 degrees below the horizontal,
        # 0.2-0.5 of the height (20 rows) long: never a 7's long, flat bar.
        far = np.argmax(np.hypot(rows - 4, 14.5 - cols))
        angle = np.degrees(np.arctan2(rows[far] - 4, 14.5 - cols[far]))
        assert 20 <= angle <= 75, (seed, angle)
        assert np.hypot(rows[far] - 4, 14.5 - cols[far]) <= 0.5 * 20 + 2, seed
        # The stem itself is kept, and nothing is drawn to its right.
        np.testing.assert_array_equal(flagged[4:24, 14:16], 1.0)
        assert not flagged[:, 16:].any()


def test_flagged_copies_are_added_to_the_ones_and_nothing_else_changes():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 300)
    X = np.concatenate([stem(col=c % 20 + 4) for c in range(300)])
    X2, y2 = with_flagged_ones(X, y, 0.5, seed=3)
    ones = int((y == 1).sum())
    assert len(X2) == len(y2) == len(X) + round(0.5 * ones)
    np.testing.assert_array_equal(X2[:len(X)], X)        # the originals untouched
    np.testing.assert_array_equal(y2[:len(y)], y)
    assert (y2[len(y):] == 1).all()                       # each copy still a 1 ...
    assert (X2[len(X):] >= 0).all() and (X2[len(X):].sum(axis=1) > X[y == 1][0].sum()).all()
    again = with_flagged_ones(X, y, 0.5, seed=3)           # ... and the same seed, the same copies
    np.testing.assert_array_equal(again[0], X2)
    other = with_flagged_ones(X, y, 0.5, seed=4)[0]
    assert not np.array_equal(other, X2)


def test_flag_ones_refuses_classes_that_are_not_digits(capsys):
    with pytest.raises(SystemExit) as raised, contextlib.redirect_stdout(io.StringIO()):
        train.parse_args(["--flag-ones", "0.5", "--classes", "cat,dog"])
    assert raised.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("--flag-ones draws European 1s: it is for the digits, not for --classes")


def test_train_adds_the_flagged_ones_to_the_training_split_only(quadrants, tmp_path,
                                                                 monkeypatch):
    seen = {}

    def fit(model, optimizer, train_set, val, *args, **kwargs):
        seen["train"], seen["val"] = train_set, val
        raise KeyboardInterrupt  # enough: what fit would train and validate on is known

    monkeypatch.setattr(train, "fit", fit)
    with pytest.raises(KeyboardInterrupt), contextlib.redirect_stdout(io.StringIO()):
        train.main(["--data", quadrants, "--val-size", "100", "--flag-ones", "1",
                    "--epochs", "1", "--out", str(tmp_path)])
    (X, y), (X_val, y_val) = seen["train"], seen["val"]
    x_train = np.load(quadrants)["x_train"]
    y_train = np.load(quadrants)["y_train"]
    ones = int((y_train[:600] == 1).sum())
    assert len(X) == len(y) == 600 + ones                  # every training 1 copied once
    assert (y[600:] == 1).all()
    np.testing.assert_array_equal(y_val, y_train[600:])    # validation: as it was
    np.testing.assert_array_equal(X_val, x_train[600:].reshape(100, -1) / np.float32(255))
