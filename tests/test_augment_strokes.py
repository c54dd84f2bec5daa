"""Issue 9's augmentation: stroke width (bolder and finer pens) and slant.

On constructed images where the effect is known: a line of known width gets
exactly the expected width, ink appears only next to strokes, a slant moves a
pixel by tan(angle) times its height above the centre, to the right for a
positive slant. And the wiring: seeds repeat, settings without the new options
draw exactly the random numbers they drew before, the preset parses and
train.py passes the flags on. No MNIST needed; well under a second.
"""
import json
import os
import sys

import numpy as np
import pytest

import train
from augment import Augmenter, affine_elastic, stroke_width

ROWS = slice(6, 22)  # the rows a test line covers, away from its ends


def vertical_line(width, first_col=13, dtype=np.float32):
    """One 28x28 image (flattened, (1, 784)): a line of full ink, ``width``
    columns wide from first_col, rows 4..23."""
    image = np.zeros((28, 28), dtype)
    image[4:24, first_col:first_col + width] = 1
    return image.reshape(1, 784)


def column_profile(X):
    """Ink per column across the middle of the line, summed over ROWS / rows."""
    image = X.reshape(28, 28)
    return image[ROWS].sum(axis=0) / (ROWS.stop - ROWS.start)


def ink_centre(profile):
    cols = np.arange(len(profile))
    return float((profile * cols).sum() / profile.sum())


# ---- stroke width ---------------------------------------------------------------
@pytest.mark.parametrize("width, change, expected, moved", [
    (1, 2.0, 3.0, 0),     # a 1-px line two pixels bolder: 3 px, a full pixel on each side
    (1, 1.0, 2.0, 0),     # one pixel bolder: half a pixel of ink on each side, centred
    (1, 0.5, 1.5, 0),     # half a pixel: fractions blend
    (1, 1.5, 2.5, 0),
    (3, -2.0, 1.0, 0),    # a 3-px line two pixels finer: its middle column
    (3, -1.0, 2.0, -0.5),  # one pixel finer: it loses its right column
    (3, -0.5, 2.5, -0.2),  # ... half of it
    (2, -1.0, 1.0, -0.5),  # a 2-px line one pixel finer: 1 px, at full ink
    (2, 0.0, 2.0, 0),     # no change, no change
])
def test_stroke_width_changes_a_line_by_the_expected_pixels(width, change, expected, moved):
    X = vertical_line(width)
    out = stroke_width(X, [change])
    profile = column_profile(out)
    assert profile.sum() == pytest.approx(expected, abs=1e-6)  # the new width, in ink
    # Bolder lines grow equally on both sides; finer ones move by half a pixel
    # at most (a 2x2 erosion takes the down-right edge).
    assert ink_centre(profile) - ink_centre(column_profile(X)) == pytest.approx(moved, abs=1e-6)
    assert out.max() == pytest.approx(1.0)  # a finer pen still writes full ink


def test_a_finer_pen_keeps_a_thin_antialiased_stroke_at_full_ink():
    """Eroding a thin grey-edged stroke (0.3, 1, 0.4 across, as in MNIST)
    would leave 0.4 at most: a fainter stroke. It comes out finer (2 columns
    of ink, not 3) and full-strength instead."""
    image = np.zeros((28, 28), np.float32)
    image[4:24, 12:15] = [0.3, 1.0, 0.4]
    out = stroke_width(image.reshape(1, 784), [-1.0]).reshape(28, 28)
    profile = out[ROWS].mean(axis=0)
    assert profile.max() == pytest.approx(1.0)
    assert np.count_nonzero(profile) == 2
    # A 1-px stroke with a faint edge (1.0, 0.15) leaves only that edge (0.15):
    # brightened at most 3x, it stays a faint trace, not a new stroke.
    image[4:24, 12:15] = [0, 1.0, 0.15]
    out = stroke_width(image.reshape(1, 784), [-1.0]).reshape(28, 28)
    assert out.max() == pytest.approx(0.45)


def test_two_pixels_bolder_is_exactly_the_3x3_dilation():
    out = stroke_width(vertical_line(1), [2.0]).reshape(28, 28)
    assert np.array_equal(np.flatnonzero(out[ROWS].max(axis=0)), [12, 13, 14])
    assert np.all(out[ROWS, 12:15] == 1)
    assert np.all(out[3:25, 12:15] == 1) and not out[2].any() and not out[25].any()


def test_ink_appears_only_next_to_strokes():
    """Bolder strokes gain ink within ceil(change) pixels of the old ink (and
    keep all of it); finer strokes never put ink where there was none."""
    rng = np.random.default_rng(0)
    X = (rng.random((20, 28, 28)) < 0.03) * rng.uniform(0.2, 1, (20, 28, 28))
    X = X.astype(np.float32).reshape(20, 784)
    change = np.linspace(-2, 2, 20)
    out = stroke_width(X, change).reshape(20, 28, 28)
    images = X.reshape(20, 28, 28)
    for image, result, c in zip(images, out, change):
        if c >= 0:
            reach = int(np.ceil(c))
            near = np.zeros((28 + 2 * reach, 28 + 2 * reach), bool)
            for dr in range(-reach, reach + 1):  # ink within reach (Chebyshev distance)
                for dc in range(-reach, reach + 1):
                    near[reach + dr:reach + dr + 28, reach + dc:reach + dc + 28] |= image > 0
            near = near[reach:reach + 28, reach:reach + 28]
            assert not result[~near].any(), f"ink far from the strokes (change {c:+.2f})"
            assert np.all(result >= image - 1e-6)  # dilation never removes ink
        else:
            assert not result[image == 0].any(), f"erosion made ink (change {c:+.2f})"
            assert result.max() <= image.max() + 1e-6


def test_each_image_gets_its_own_width_and_dtype_is_kept():
    X = np.concatenate([vertical_line(1), vertical_line(3), vertical_line(2)])
    change = np.array([1.0, -2.0, 0.5])
    batch = stroke_width(X, change)
    assert batch.dtype == np.float32 and batch.shape == X.shape
    for i in range(3):
        np.testing.assert_array_equal(batch[i:i + 1], stroke_width(X[i:i + 1], change[i:i + 1]))
    assert stroke_width(vertical_line(1, dtype=np.float64), [1.0]).dtype == np.float64


def test_stroke_width_out_of_range_rejected():
    with pytest.raises(ValueError):
        stroke_width(vertical_line(1), [2.5])


# ---- slant ------------------------------------------------------------------------
@pytest.mark.parametrize("degrees", [20.0, -20.0, 8.0])
@pytest.mark.parametrize("row", [3, 24])
def test_slant_moves_a_pixel_by_tan_times_its_height(degrees, row):
    """A positive slant leans the digit right, like italics: a point h pixels
    above the centre (13.5, 13.5) moves h * tan(slant) to the right, a point
    below it to the left; rows do not move."""
    image = np.zeros((28, 28))
    image[row, 14] = 1
    out = affine_elastic(image.reshape(1, 784), slant=np.deg2rad(degrees)).reshape(28, 28)
    height_above_centre = 13.5 - row
    expected_col = 14 + height_above_centre * np.tan(np.deg2rad(degrees))
    cols = np.arange(28)
    assert out.sum() == pytest.approx(1.0, abs=1e-9)  # a shear keeps area: ink is moved
    assert np.flatnonzero(out.sum(axis=1)).tolist() == [row]
    assert (out.sum(axis=0) * cols).sum() == pytest.approx(expected_col, abs=1e-9)
    if degrees > 0:  # the direction, spelt out: above the centre goes right
        assert (expected_col > 14) == (row < 13.5)


def test_slant_combines_with_rotation_and_shift_in_order():
    """Slant first, then rotation: a quarter turn of a slanted image is the
    slanted image turned (np.rot90), and a shift moves the result."""
    X = np.random.default_rng(1).random((2, 784))
    slanted = affine_elastic(X, slant=0.3)
    turned = affine_elastic(X, angle=np.pi / 2, slant=0.3).reshape(2, 28, 28)
    np.testing.assert_allclose(turned, np.rot90(slanted.reshape(2, 28, 28), 1, axes=(1, 2)),
                               atol=1e-9)
    shifted = affine_elastic(X, shift_cols=2, slant=0.3).reshape(2, 28, 28)
    np.testing.assert_allclose(shifted[:, :, 2:], slanted.reshape(2, 28, 28)[:, :, :-2],
                               atol=1e-9)


# ---- the Augmenter: seeds, order of random numbers, ranges ---------------------------
def digit_like(n, seed=0):
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 28, 28), np.float32)
    for i in range(n):
        X[i, 6:22, rng.integers(8, 18)] = 1
        X[i, rng.integers(6, 20), 8:20] = 1
    return X.reshape(n, 784)


NEW = dict(slant=15, thicken=1.5, thin=1)


def test_same_seed_same_images_and_fresh_ones_each_call():
    X = digit_like(32)
    kwargs = dict(shift=2, rotate=10, scale=0.1, elastic_alpha=15, **NEW)
    a, b = Augmenter(seed=5, **kwargs), Augmenter(seed=5, **kwargs)
    first = a(X)
    np.testing.assert_array_equal(first, b(X))
    np.testing.assert_array_equal(a(X), b(X))  # the second batches agree too
    assert not np.array_equal(Augmenter(seed=6, **kwargs)(X), first)
    assert not np.array_equal(a(X), first)
    for key in NEW:  # each new option alone does something, and repeats
        alone = Augmenter(seed=1, **{key: NEW[key]})
        out = alone(X)
        assert alone.active and not np.allclose(out, X), key
        np.testing.assert_array_equal(out, Augmenter(seed=1, **{key: NEW[key]})(X))


def test_old_settings_draw_the_same_random_numbers_as_before():
    """The record (--preset best) must stay reproducible: without the new
    options, the augmenter draws exactly what it drew before them (rotation,
    scale, shifts, in that order) and its images are those transformations."""
    X = digit_like(16)
    augment = Augmenter(shift=2, rotate=10, scale=0.1, seed=7)
    rng = np.random.default_rng([7, 2])
    for _ in range(2):  # the second batch shows any extra draw after the first
        out = augment(X)
        angle = np.deg2rad(rng.uniform(-10, 10, 16))
        scale = 1 + rng.uniform(-0.1, 0.1, 16)
        sr, sc = rng.uniform(-2, 2, 16), rng.uniform(-2, 2, 16)
        np.testing.assert_array_equal(out, affine_elastic(X, angle, scale, sr, sc))


def test_new_options_use_their_ranges():
    """Slants in [-slant, slant] and widths in [-thin, thicken], seen in the images."""
    X = np.repeat(vertical_line(2), 400, axis=0)
    ink = Augmenter(thicken=1.5, thin=1, seed=0)(X).reshape(400, 28, 28)[:, ROWS].sum(axis=(1, 2))
    width = ink / (ROWS.stop - ROWS.start)  # the line's new width, in pixels
    assert width.min() >= 1 - 1e-5 and width.max() <= 3.5 + 1e-5
    assert width.min() < 1.1 and width.max() > 3.4  # both ends are reached
    assert np.mean(width > 2) == pytest.approx(1.5 / 2.5, abs=0.08)  # uniform in [-1, 1.5]
    line = vertical_line(1, first_col=14).astype(np.float64)
    leans = []
    for out in Augmenter(slant=15, seed=0)(np.repeat(line, 200, axis=0)).reshape(200, 28, 28):
        top, bottom = (ink_centre(out[r]) for r in (5, 22))
        leans.append(np.degrees(np.arctan((top - bottom) / (22 - 5))))
    assert max(leans) <= 15 + 1e-6 and min(leans) >= -15 - 1e-6
    assert max(leans) > 14 and min(leans) < -14  # both ways


@pytest.mark.parametrize("kwargs", [dict(slant=-1), dict(thin=-0.5), dict(thicken=2.5),
                                    dict(slant=75)])
def test_invalid_new_strengths_rejected(kwargs):
    with pytest.raises(ValueError):
        Augmenter(**kwargs)


# ---- train.py: flags and the preset ---------------------------------------------------
def test_robust_preset_is_best_plus_the_new_augmentation():
    args = train.parse_args(["--preset", "robust"])
    robust = train.PRESETS["robust"]
    for key, value in robust.items():
        assert getattr(args, key) == value
    changed = {k for k in robust if robust[k] != train.PRESETS["best"].get(k)}
    assert changed == {"slant", "thicken", "thin", "flag_ones", "hidden"}
    assert args.hidden == [512, 256] and train.PRESETS["best"]["hidden"] == [128, 64]
    Augmenter(args.shift, args.rotate, args.scale, args.elastic_alpha, args.elastic_sigma,
              slant=args.slant, thicken=args.thicken, thin=args.thin)  # valid strengths
    assert "robust: " in train.preset_help() and "--thicken" in train.preset_help()
    args = train.parse_args(["--preset", "robust", "--thin", "0"])
    assert args.thin == 0 and args.thicken == robust["thicken"]
    off = train.parse_args([])
    assert (off.slant, off.thicken, off.thin) == (0, 0, 0)  # off by default


@pytest.mark.parametrize("argv", [["--thin", "2.5"], ["--thicken", "-1"], ["--slant", "x"]])
def test_bad_new_flags_get_one_line(argv, capsys):
    with pytest.raises(SystemExit) as e:
        train.parse_args(argv)
    assert e.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("train.py: error: argument " + argv[0]) or \
        (last.startswith(os.path.basename(sys.argv[0])) and "error: argument " + argv[0] in last)


def test_train_passes_the_new_flags_to_the_augmenter(tmp_path, monkeypatch):
    """A tiny real run: the flags change the training batches (so the loss),
    and the same flags and seed repeat it exactly. (The loss curve, not looked
    at here, is not drawn: it was most of the test's time.)"""
    monkeypatch.setattr(train, "plot_history", lambda history, path: None)
    rng = np.random.default_rng(0)
    x = (digit_like(120, seed=1) * 255).astype(np.uint8).reshape(120, 28, 28)
    y = rng.integers(0, 10, 120).astype(np.uint8)
    data = tmp_path / "tiny.npz"
    np.savez(data, x_train=x[:100], y_train=y[:100], x_test=x[100:], y_test=y[100:])
    small = ["--data", str(data), "--epochs", "1", "--val-size", "20", "--batch-size", "20",
             "--hidden", "8"]

    def loss(name, *flags):
        train.main([*small, "--out", str(tmp_path / name), *flags])
        with open(tmp_path / name / "results.json") as f:
            return json.load(f)["train_loss"]

    plain = loss("plain")
    for flag, value in (("--slant", "15"), ("--thicken", "1.5"), ("--thin", "1")):
        assert loss(flag, flag, value) != plain, flag
    assert loss("again", "--thin", "1") == loss("--thin", "--thin", "1")


# ---- handwriting/strokes.py: the independent pen the models are measured with ----------
def test_measuring_pen_changes_width_by_whole_pixels():
    """stroke_robustness.pen re-draws at 4x with a disk-like pen: a 3-px line
    comes out 2, 3, 4, 5 px wide at -1, 0, +1, +2, centred, at full ink."""
    from handwriting import strokes as stroke_robustness
    X = vertical_line(3)
    for change, expected in ((-1, 2.0), (0, 3.0), (1, 4.0), (2, 5.0)):
        out = stroke_robustness.pen(X, change)
        profile = column_profile(out)
        assert profile.sum() == pytest.approx(expected, abs=1e-6), change
        assert out.max() == pytest.approx(1.0)
        if change % 2 == 0:  # whole pixels on each side: centred exactly
            assert ink_centre(profile) == pytest.approx(14.0, abs=1e-6)
