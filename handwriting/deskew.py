"""Deskewing by image moments: a slanted digit sheared upright.

A classic step for MNIST (LeCun et al. 1998 report it for several
classifiers): the ink's second moments give the line that best fits it, and
a horizontal shear that keeps every row where it is turns that line
vertical. With the ink's centre at (r0, c0) and

    slope = sum (r - r0)(c - c0) ink / sum (r - r0)^2 ink

(columns gained per row downwards), the upright image at (r, c) is the
input at (r, c + slope * (r - r0)). Rows keep their height, so the digit's
size and the heights of its parts do not change: only its lean does.
"""
import numpy as np

from augment import warp

DESKEW = "deskew"  # the step's name in preprocess.STEPS
MAX_SLOPE = 1.0  # at most 45 degrees: beyond it the "slant" is a wide digit's shape


def slope(ink):
    """Columns the ink moves per row downwards (> 0: it leans left, its
    bottom further right than its top), from its second moments; 0 for an
    image with no ink or a single row."""
    total = ink.sum()
    if total <= 0:
        return 0.0
    rows, cols = np.mgrid[0:ink.shape[0], 0:ink.shape[1]]
    r0, c0 = (rows * ink).sum() / total, (cols * ink).sum() / total
    var_rows = ((rows - r0) ** 2 * ink).sum()
    if var_rows <= 0:
        return 0.0
    return float(((rows - r0) * (cols - c0) * ink).sum() / var_rows)


def deskew(ink):
    """``ink`` (2-D, light on dark) sheared so that its moment slope is 0
    (clipped to MAX_SLOPE), on a canvas widened to hold all of it; bilinear
    interpolation, zeros where nothing maps."""
    ink = np.asarray(ink, dtype=np.float64)
    s = float(np.clip(slope(ink), -MAX_SLOPE, MAX_SLOPE))
    h, w = ink.shape
    r0 = (np.arange(h) @ ink.sum(axis=1)) / max(ink.sum(), 1e-12)
    pad = int(np.ceil(abs(s) * max(r0, h - 1 - r0))) + 1
    rows, cols = np.mgrid[0:h, 0:w + 2 * pad].astype(np.float64)
    source_cols = cols - pad + s * (rows - r0)
    return warp(ink[None], rows[None], source_cols[None])[0]
