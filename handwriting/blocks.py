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
# A smooth scan: every step from paper to ink spread over MIN_SPREAD pixels or
# more (drawings and photos, noise and JPEG included, spread theirs over at
# most 3.5 on the harder tier; its 12x12 and 16x16 scans enlarged, over 5.3 and
# more), in an image no larger than a scan of MAX_SCAN pixels a side enlarged
# that much (a phone's photo of a blurred pen is a thousand pixels: not a scan).
MIN_SPREAD, MAX_SCAN = 4.0, 32
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


def step_spread(gray):
    """Over how many pixels the sharpest step of ``gray`` (2-D) is spread:
    its range over the largest difference between neighbouring pixels. A
    pen's edge, drawn or photographed, goes from paper to ink within a pixel
    or two (noise and JPEG only add steps); a k x k scan enlarged smoothly to
    K x K spreads every step over about K / k pixels."""
    gray = np.asarray(gray, dtype=np.float64)
    step = max(np.abs(np.diff(gray, axis=0)).max(initial=0),
               np.abs(np.diff(gray, axis=1)).max(initial=0))
    return float((gray.max() - gray.min()) / step) if step > 0 else 1.0


def is_smooth_scan(gray):
    """Whether ``gray`` is a small scan (at most MAX_SCAN pixels a side)
    enlarged smoothly, at least MIN_SPREAD times: see step_spread."""
    spread = step_spread(gray)
    return spread >= MIN_SPREAD and min(np.shape(gray)) <= MAX_SCAN * spread


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
    return cut_into_ink_and_paper(smooth)


def cut_into_ink_and_paper(smooth):
    """A smoothly enlarged scan (2-D) cut at INK_LEVEL of the way from its
    paper (the median: most of a digit's page is paper) to its ink, with a
    soft edge EDGE wide."""
    paper = np.median(smooth)
    ink = smooth.min() if paper - smooth.min() > smooth.max() - paper else smooth.max()
    if ink == paper:
        return smooth
    inked = np.clip(((smooth - paper) / (ink - paper) - INK_LEVEL) / EDGE + 0.5, 0, 1)
    return paper + inked * (ink - paper)
