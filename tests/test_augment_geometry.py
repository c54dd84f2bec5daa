"""The augmenter's random transformations, measured: a small bright spot is
augmented many times and where it lands says what was done to it.

Each draw is uniform over the range the flag promises, so the limits below
follow from that distribution, not from one lucky draw: every measured value
inside the range (plus the measuring error of a centre of mass, under 0.05
pixel), both ends of the range reached (with N = 400 draws the chance that
none falls in the outer 10 % on one side is 0.9**400 = 5e-19), independent
draws per image and per axis.
"""
import copy

import numpy as np

from augment import Augmenter, gaussian_blur_matrix

SIDE = 28
CENTRE = (SIDE - 1) / 2  # the augmenter turns and scales about the image's centre
N = 400


def spot(row, col, sigma=1.2):
    """N copies of a Gaussian spot at (row, col), flattened, float32."""
    r, c = np.mgrid[0:SIDE, 0:SIDE]
    image = np.exp(-((r - row) ** 2 + (c - col) ** 2) / (2 * sigma ** 2))
    return np.tile(image.reshape(1, -1), (N, 1)).astype(np.float32)


def centres(X):
    """(rows, cols) of each image's centre of mass."""
    images = X.reshape(len(X), SIDE, SIDE).astype(np.float64)
    r, c = np.mgrid[0:SIDE, 0:SIDE]
    mass = images.sum(axis=(1, 2))
    return (images * r).sum(axis=(1, 2)) / mass, (images * c).sum(axis=(1, 2)) / mass


def polar(rows, cols):
    """Radius from the centre and angle in degrees, counter-clockwise on screen
    (rows grow downwards)."""
    dr, dc = rows - CENTRE, cols - CENTRE
    return np.hypot(dr, dc), np.degrees(np.arctan2(-dr, dc))


def assert_uniform_over(values, low, high, tol):
    """Inside [low, high] (give or take tol), and reaching the outer 10 % at both ends."""
    span = high - low
    assert values.min() >= low - tol and values.max() <= high + tol, (values.min(), values.max())
    assert values.min() <= low + 0.1 * span, values.min()
    assert values.max() >= high - 0.1 * span, values.max()


def test_rotation_is_in_degrees_both_ways_about_the_centre():
    radius = 8.0
    X = spot(CENTRE, CENTRE + radius)  # right of the centre: angle 0
    out = Augmenter(rotate=20, seed=0)(X)
    r, angle = polar(*centres(out))
    # A turn about the centre keeps the distance from it (about the corner it would not).
    np.testing.assert_allclose(r, radius, atol=0.05)
    # 0.05 pixel at radius 8 is 0.36 degrees.
    assert_uniform_over(angle, -20, 20, tol=0.4)
    # Each image draws its own angle: 400 of them are (almost surely) all different.
    assert len(np.unique(np.round(angle, 2))) > 0.9 * N


def test_shift_is_in_pixels_each_axis_on_its_own():
    X = spot(CENTRE, CENTRE)
    rows, cols = centres(Augmenter(shift=3, seed=1)(X))
    dr, dc = rows - CENTRE, cols - CENTRE
    assert_uniform_over(dr, -3, 3, tol=0.05)
    assert_uniform_over(dc, -3, 3, tol=0.05)
    # Independent draws for rows and columns: the correlation of 400 independent
    # pairs has standard error 1/sqrt(400) = 0.05; 0.25 is five of them.
    assert abs(np.corrcoef(dr, dc)[0, 1]) < 0.25


def test_scale_changes_the_size_by_the_given_factor_about_the_centre():
    radius = 8.0
    X = spot(CENTRE - radius, CENTRE)  # above the centre
    rows, cols = centres(Augmenter(scale=0.2, seed=2)(X))
    r, angle = polar(rows, cols)
    # > 1 enlarges: a point at distance 8 ends at 8 * factor, factor in [0.8, 1.2].
    assert_uniform_over(r / radius, 0.8, 1.2, tol=0.05 / radius)
    np.testing.assert_allclose(angle, 90, atol=0.4)  # straight out from the centre


def test_ink_is_moved_not_made():
    """A spot well inside the frame keeps its ink under shifts and turns (the
    Jacobian is 1; bilinear sampling of a smooth spot loses under 1 %) and
    scales by the square of the size factor."""
    X = spot(CENTRE + 2, CENTRE - 3, sigma=2.0)
    ink = X.sum(axis=1)
    for kwargs in (dict(shift=2), dict(rotate=30)):
        np.testing.assert_allclose(Augmenter(seed=3, **kwargs)(X).sum(axis=1) / ink, 1, atol=0.01)
    ratio = Augmenter(scale=0.2, seed=3)(X).sum(axis=1) / ink
    assert_uniform_over(np.sqrt(ratio), 0.8, 1.2, tol=0.02)


def test_elastic_displacement_has_simards_size_and_both_axes_their_own():
    """Bilinear sampling reproduces a linear ramp exactly, so warping the ramp
    image value = row reads out each pixel's row displacement (and a column ramp
    the column displacement). Simard's field is alpha * B U B^T, U uniform(-1, 1)
    noise (variance 1/3) and B the Gaussian blur: at pixel (i, j) its variance is
    alpha**2 / 3 * (B**2 row sums)[i] * (B**2 row sums)[j]. The mean square
    displacement over N independent images must match that within five of its
    standard errors (measured over the images, which are independent)."""
    alpha, sigma = 8.0, 4.0
    r, c = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    augment = Augmenter(elastic_alpha=alpha, elastic_sigma=sigma, seed=4)
    twin = copy.deepcopy(augment)  # the same random stream: the same fields
    rows = augment(np.tile(r.reshape(1, -1), (N, 1))).reshape(N, SIDE, SIDE) - r
    cols = twin(np.tile(c.reshape(1, -1), (N, 1))).reshape(N, SIDE, SIDE) - c
    inner = slice(8, 20)  # pixels whose source stays well inside the frame (|d| < 4 px)
    rows, cols = rows[:, inner, inner], cols[:, inner, inner]
    weight = (gaussian_blur_matrix(SIDE, sigma) ** 2).sum(axis=1)[inner]
    expected = alpha ** 2 / 3 * np.outer(weight, weight).mean()
    for d in (rows, cols):
        per_image = (d ** 2).mean(axis=(1, 2))
        error = per_image.std(ddof=1) / np.sqrt(N)
        assert abs(per_image.mean() - expected) < 5 * error, (per_image.mean(), expected, error)
    # Two independent fields: the correlation of 400 images' mean displacements
    # has standard error 0.05.
    assert abs(np.corrcoef(rows.mean(axis=(1, 2)), cols.mean(axis=(1, 2)))[0, 1]) < 0.25
