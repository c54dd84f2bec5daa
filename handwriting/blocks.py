"""Undoing a blocky enlargement: a tiny scan blown up by repeating pixels.

An 8x8 scan shown 12 times larger by nearest-neighbour enlargement is a grid
of flat 12x12 squares. Read as it is, its staircase edges look like strokes
of their own: thresholds cut it into pieces and the stroke-width step erodes
the squares apart. ``smooth_blocks`` finds the square size (rows and columns
change only every k pixels) and enlarges the scan's own pixels again by
bilinear interpolation, as a scanner's driver would have. Averaging a pen
stroke into blocks as large as the stroke turned it grey, lighter where it was
thin; interpolated, such strokes would fade in and out, and the thresholds
downstream cut them apart. A pen writes ink or no ink, so the enlarged scan is
cut again into ink and paper, at INK_LEVEL of the way from the paper to the
ink, with a soft edge (EDGE) as an anti-aliased drawing has.
"""
import numpy as np
from PIL import Image

SMOOTH_BLOCKS = "smooth_blocks"  # the step's name in preprocess.STEPS
MIN_BLOCK = 3  # smaller repeats are left alone: a 2x enlargement reads fine
MIN_RUNS = 2  # and images with fewer changes inside (a blank page, one bar)
# Chosen on the harder tier's 8x8 scans, seed 1 (0.2-0.5 and 0.1-0.6 tried):
# 73 % read right with no cut, 85 % with this one.
INK_LEVEL, EDGE = 0.3, 0.4


def block_size(values, axis):
    """The block size k along ``axis``: the greatest common divisor of the
    lengths of the runs of identical rows (or columns), leaving out the first
    and last run (cut by the image's edge); 1 when there are fewer than
    MIN_RUNS runs inside."""
    lines = np.moveaxis(values, axis, 0)
    change = np.flatnonzero(np.any(lines[1:] != lines[:-1], axis=tuple(range(1, lines.ndim)))) + 1
    runs = np.diff(change)
    if len(runs) < MIN_RUNS:
        return 1, 0
    return int(np.gcd.reduce(runs)), int(change[0])


def smooth_blocks(gray):
    """``gray`` (2-D) with its k x k blocks (k >= MIN_BLOCK, the same along
    both axes) shrunk to single pixels, enlarged back by bilinear
    interpolation and cut into ink and paper; unchanged if it is not such a grid."""
    k_rows, first_row = block_size(gray, 0)
    k_cols, first_col = block_size(gray, 1)
    if k_rows != k_cols or k_rows < MIN_BLOCK:
        return gray
    k = k_rows
    # One pixel from every block: the block middles, from the phase of a change.
    rows = np.arange(first_row % k + k // 2, gray.shape[0], k)
    cols = np.arange(first_col % k + k // 2, gray.shape[1], k)
    small = gray[np.ix_(rows, cols)].astype(np.float32)
    size = (len(cols) * k, len(rows) * k)
    smooth = np.asarray(Image.fromarray(small).resize(size, Image.BILINEAR), dtype=np.float64)
    paper = np.median(smooth)  # most of a digit's page is paper
    ink = smooth.min() if paper - smooth.min() > smooth.max() - paper else smooth.max()
    if ink == paper:
        return smooth
    inked = np.clip(((smooth - paper) / (ink - paper) - INK_LEVEL) / EDGE + 0.5, 0, 1)
    return paper + inked * (ink - paper)
