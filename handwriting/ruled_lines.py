"""Erasing the printed lines of ruled paper where they are as dark as the pen.

SEPARATE_INK tells a digit from printed lines by darkness and by shape: lines
fainter than the pen fall below its threshold, and a line that does not touch
the digit is a piece of its own, dropped for crossing the image. A light pen
on ruled paper defeats both: the lines are as dark as the ink and touch the
strokes, so digit and lines are one piece. ``remove_ruled_lines`` finds the
lines by their shape alone - straight, nearly horizontal (tilted up to
MAX_TILT degrees), inked across most of the image - and erases them, except
where a stroke crosses one (ink just above and just below the line).
"""
import numpy as np

REMOVE_LINES = "remove_lines"  # the step's name in preprocess.STEPS
MAX_TILT = 2.0  # degrees
MIN_SPAN = 0.7  # a line is inked across at least this fraction of the image
MIN_LINES = 2  # one long stroke (a 7's bar, a tightly cropped 1) is not ruled paper
INKED = 0.2  # ink above this fraction of the strongest counts


def line_rows(mask, tilt):
    """For slope ``tilt`` (rows per column): each inked pixel's row once the
    tilt is undone, and the number of inked pixels on each such row."""
    rows, cols = np.nonzero(mask)
    level = rows - np.round(tilt * (cols - mask.shape[1] / 2)).astype(int)
    offset = int(np.ceil(abs(tilt) * mask.shape[1] / 2)) + 1
    return level + offset, np.bincount(level + offset, minlength=mask.shape[0] + 2 * offset)


def remove_ruled_lines(ink):
    """``ink`` (2-D, light on dark, peak 1) with the ruled lines erased (see
    the module docstring); unchanged where there are fewer than MIN_LINES."""
    h, w = ink.shape
    mask = ink > INKED
    if min(h, w) < 32 or not mask.any():
        return ink
    # The tilt that stacks the ink into the fewest, fullest rows.
    tilts = np.tan(np.deg2rad(np.linspace(-MAX_TILT, MAX_TILT, 17)))
    tilt = max(tilts, key=lambda t: np.sum(line_rows(mask, t)[1].astype(float) ** 2))
    level, counts = line_rows(mask, tilt)
    full = counts >= MIN_SPAN * w
    # A line's anti-aliased edges: one level more on each side.
    band = full | np.r_[full[1:], False] | np.r_[False, full[:-1]]
    starts = np.flatnonzero(band & ~np.r_[False, band[:-1]])
    if len(starts) < MIN_LINES:
        return ink
    ends = np.flatnonzero(band & ~np.r_[band[1:], False])
    out = ink.copy()
    cols = np.arange(w)
    # Row of level L in column c: L + to_row[c] (line_rows' mapping undone).
    offset = int(np.ceil(abs(tilt) * w / 2)) + 1
    to_row = np.round(tilt * (cols - w / 2)).astype(int) - offset
    # A stroke crossing at a slant is above the line a little to one side of
    # where it is below it: look two columns either way.
    near = mask.copy()
    for d in (1, 2):
        near[:, d:] |= mask[:, :-d]
        near[:, :-d] |= mask[:, d:]
    for start, end in zip(starts, ends):
        above, below = start + to_row - 2, end + to_row + 2  # outside the soft edges
        inside = (above >= 0) & (below < h)
        crossed = np.zeros(w, dtype=bool)
        crossed[inside] = near[above[inside], cols[inside]] & near[below[inside], cols[inside]]
        for level in range(start, end + 1):
            row = level + to_row
            erase = (row >= 0) & (row < h) & ~crossed
            out[row[erase], cols[erase]] = 0
    return out
