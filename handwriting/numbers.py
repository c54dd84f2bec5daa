"""Finding the digits of a whole number: one picture in, each digit's ink out,
left to right, ready for the single-digit reader.

    from handwriting.numbers import find_digits
    digits = find_digits(gray)  # [Digit(ink, box), ...], left to right

MNIST was made from ZIP codes and cheques: numbers cut into digits before the
network saw them. Here the cutting is done with the ink's connected pieces:

    the ink made light on dark, as for one digit (preprocess.light_on_dark)
    -> pieces above preprocess.ink_threshold; printed lines dropped
    -> BRIDGE: pieces closer than half a pen's width are one (the dots of a
       dotted stroke, a stroke broken where the pen pressed lightly)
    -> STACKED: pieces one above the other (their columns overlap by half the
       narrower one's width, their rows by less than half) are one digit
       (a stroke broken across, the two strokes of a 4 that do not cross)
    -> FRAGMENTS: a piece under half as tall as the tallest joins the digit
       whose columns it overlaps most, else the nearest (a 5's flag, a 7's
       bar, written as strokes of their own); far from every digit it is a
       speck and is dropped
    -> SPLIT: a piece wider than a digit is (touching digits) is cut at the
       columns of least ink near where the expected widths put the cuts

Each digit comes out as the number's ink inside the digit's box, the other
digits' ink removed, with a margin: preprocess.mnist_like then reads it
exactly as it reads a picture of one digit.
"""
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from handwriting.preprocess import (BlankImage, components, ink_threshold, is_ruled_line,
                                    light_on_dark, max_filter, pen_width)

# The most digits read in one picture. A number that long is rare; a picture
# with more pieces of ink is more likely a page of text or noise, and each
# digit costs a few milliseconds to read.
MAX_DIGITS = 64
# Pieces whose column ranges overlap by this fraction of the narrower one's
# width are parts of one digit.
OVERLAP = 0.5
# A piece shorter than this fraction of the tallest digit is a fragment ...
FRAGMENT = 0.5
# ... and joins the digit within this fraction of the tallest digit's height
# (columns apart); further away it is dropped.
REACH = 0.3
# A piece under this fraction of the largest one's ink is a speck (as in
# preprocess.separate_ink).
SPECK = 0.02
# A piece up to this many times as wide as tall is one digit: 99 % of the
# numbers benchmark's digits are at most 0.96 (median 0.65, a "1" about 0.4).
ONE_DIGIT_ASPECT = 0.95
# A wider piece is touching digits, each about this wide for its height (the
# benchmark's touching numbers: median 0.51, 5th-95th percentile 0.37-0.62:
# digits touch where their slants and curves overlap). It is cut into
# round(width / (TOUCHING_ASPECT * height)) digits ...
TOUCHING_ASPECT = 0.52
# ... at the column of least ink within this fraction of a digit's expected
# width either side of where equal widths would cut.
CUT_SEARCH = 0.35


class TooManyDigits(ValueError):
    """More than MAX_DIGITS pieces of ink that could be digits."""


@dataclass
class Digit:
    """One digit of a number: ``ink``, light on dark, the other digits' ink
    removed, with a margin around it; ``box``, where it was found in the
    picture: (top, left, bottom, right), bottom and right one past the ink."""
    ink: np.ndarray
    box: tuple


@dataclass
class Group:
    """Pieces of ink taken for one digit so far: their labels and the box
    around them (top, left, bottom, right; bottom and right exclusive)."""
    labels: set
    top: int
    left: int
    bottom: int
    right: int
    area: int

    @property
    def height(self):
        return self.bottom - self.top

    @property
    def width(self):
        return self.right - self.left

    def column_overlap(self, other):
        """Columns both groups cover, as a fraction of the narrower one's width
        (negative when they are apart)."""
        shared = min(self.right, other.right) - max(self.left, other.left)
        return shared / min(self.width, other.width)

    def row_overlap(self, other):
        """Rows both groups cover, as a fraction of the shorter one's height."""
        shared = min(self.bottom, other.bottom) - max(self.top, other.top)
        return shared / min(self.height, other.height)

    def column_gap(self, other):
        """Empty columns between the two groups (0 when they overlap)."""
        return max(0, other.left - self.right, self.left - other.right)

    def merged(self, other):
        return Group(self.labels | other.labels, min(self.top, other.top),
                     min(self.left, other.left), max(self.bottom, other.bottom),
                     max(self.right, other.right), self.area + other.area)


def pieces(ink):
    """The pen's ink as (labels, groups, pen width): 8-connected pieces above
    ``ink_threshold`` without printed lines, pieces closer than half a pen's
    width bridged into one (BRIDGE), a Group per bridged piece, specks left
    out."""
    mask = ink > ink_threshold(ink)
    labels, boxes, areas = components(mask)
    lines = [i + 1 for i, (box, area) in enumerate(zip(boxes, areas))
             if is_ruled_line(box, area, ink.shape)]
    if len(lines) < len(boxes):  # nothing but "lines": then the line is a "1"
        mask &= ~np.isin(labels, lines)
    pen = pen_width(mask)
    # Grow the ink by a quarter of a pen's width on each side: pieces less
    # than half a pen's width apart touch (more, and digits written close
    # together would too). The bridged pieces label the pen's own pixels.
    bridged, _, _ = components(max_filter(mask, 2 * int(np.ceil(pen / 4)) + 1))
    labels = np.where(mask, bridged, 0)
    areas = np.bincount(labels.ravel())
    groups = []
    for label, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is not None and areas[label] >= SPECK * areas[1:].max():
            groups.append(Group({label}, box[0].start, box[1].start, box[0].stop,
                                box[1].stop, int(areas[label])))
    return labels, groups, pen


def merge_stacked(groups):
    """Groups one above the other merged (STACKED): their column ranges overlap
    by OVERLAP of the narrower one's width, and their rows by less than
    OVERLAP of the shorter one's height - a stroke broken across, a dotted
    one, the two strokes of a 4 that do not cross. Digits side by side share
    rows, however much a slant makes their columns overlap. Left to right."""
    groups = sorted(groups, key=lambda g: g.left)
    i = 0
    while i < len(groups):
        # Sorted by left edge: only a later group can overlap an earlier one.
        j = next((j for j in range(i + 1, len(groups)) if groups[j].left < groups[i].right
                  and groups[i].column_overlap(groups[j]) >= OVERLAP
                  and groups[i].row_overlap(groups[j]) < OVERLAP), None)
        if j is None:
            i += 1
        else:  # merged, and looked at again: it may now reach another
            groups[i] = groups[i].merged(groups.pop(j))
    return groups


def join_fragments(groups):
    """Groups shorter than FRAGMENT of the tallest joined to a tall one
    (FRAGMENTS): the one whose columns overlap most of the fragment's, else
    the nearest within REACH of the tallest height; the others dropped."""
    tallest = max(g.height for g in groups)
    tall = [g for g in groups if g.height >= FRAGMENT * tallest]
    for fragment in sorted((g for g in groups if g.height < FRAGMENT * tallest),
                           key=lambda g: -g.area):
        # Most overlap first; among groups it does not overlap, the nearest.
        closeness = [max(0, fragment.column_overlap(g)) - fragment.column_gap(g) / tallest
                     for g in tall]
        best = int(np.argmax(closeness))
        if closeness[best] >= -REACH:
            tall[best] = tall[best].merged(fragment)
    return sorted(tall, key=lambda g: g.left)


def cut_columns(profile, count, aspect_width):
    """Where to cut a piece whose ink per column is ``profile`` into ``count``
    digits: at the column of least ink within CUT_SEARCH of a digit's
    expected width (``aspect_width``) of each place equal widths put a cut."""
    width = len(profile)
    smooth = np.convolve(profile, np.ones(3) / 3, mode="same")  # one thin gap is not a cut
    reach = max(1, int(CUT_SEARCH * aspect_width))
    cuts = []
    for k in range(1, count):
        centre = round(k * width / count)
        lo, hi = max(cuts[-1] + 1 if cuts else 1, centre - reach), min(width - 1, centre + reach)
        cuts.append(lo + int(np.argmin(smooth[lo:hi + 1])) if hi >= lo else centre)
    return cuts


def split_wide(group, labels, ink):
    """``group`` as one or more digits, each (labels, first column, column
    after the last): a group wider than ONE_DIGIT_ASPECT times its height is
    cut (SPLIT). Columns not cut are None: the digit's ink ends there."""
    if group.width <= ONE_DIGIT_ASPECT * group.height:
        return [(group.labels, None, None)]
    window = labels[group.top:group.bottom, group.left:group.right]
    own = np.isin(window, list(group.labels))
    profile = (ink[group.top:group.bottom, group.left:group.right] * own).sum(axis=0)
    count = max(2, round(group.width / (TOUCHING_ASPECT * group.height)))
    cuts = [group.left + c for c in cut_columns(profile, count, group.width / count)]
    return [(group.labels, a, b) for a, b in zip([None] + cuts, cuts + [None])]


def digit_ink(ink, labels, own, start, stop, pen):
    """The ink of the pieces ``own`` between columns ``start`` and ``stop``
    (None: no limit), grown back by a pen's width (their soft edges lie below
    the threshold, as in preprocess.separate_ink), cut out with a margin."""
    columns = np.arange(ink.shape[1])
    inside = (columns >= (start or 0)) & (columns < (stop or ink.shape[1]))
    mask = np.isin(labels, list(own)) & inside[None, :]
    (rows, cols), = ndimage.find_objects(mask.astype(np.int8))
    margin = int(np.ceil(pen)) + 2
    window = (slice(max(0, rows.start - margin), rows.stop + margin),
              slice(max(0, cols.start - margin), cols.stop + margin))
    # A cut digit keeps to its columns: grown across the cut, it would take
    # in the neighbour's stroke.
    grown = max_filter(mask[window], 2 * int(np.ceil(pen)) + 1) & inside[None, window[1]]
    crop = np.pad(np.where(grown, ink[window], 0), margin)
    return Digit(crop, (rows.start, cols.start, rows.stop, cols.stop))


def find_digits(gray):
    """The digits in ``gray`` (2-D, values in [0, 1], either polarity), left to
    right, as Digit(ink, box)s for preprocess.mnist_like. Raises BlankImage
    when there is no ink, TooManyDigits beyond MAX_DIGITS."""
    ink = light_on_dark(gray)
    labels, groups, pen = pieces(ink)
    if not groups:
        raise BlankImage("blank image: no digits found")
    if len(groups) > 4 * MAX_DIGITS:  # before any quadratic merging
        raise TooManyDigits(f"too many pieces of ink ({len(groups)}) to be a number of "
                            f"at most {MAX_DIGITS} digits")
    groups = join_fragments(merge_stacked(groups))
    parts = [part for g in groups for part in split_wide(g, labels, ink)]
    if len(parts) > MAX_DIGITS:
        raise TooManyDigits(f"too many digits: {len(parts)} found, the limit is {MAX_DIGITS}")
    return [digit_ink(ink, labels, own, start, stop, pen) for own, start, stop in parts]
