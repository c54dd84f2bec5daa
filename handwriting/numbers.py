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
    -> SPLIT: a piece wider than a digit is (touching digits) is cut where
       the ink spans the fewest rows near where the expected widths put the
       cuts

Each digit comes out as the number's ink inside the digit's box, the other
digits' ink removed, with a margin: preprocess.mnist_like then reads it
exactly as it reads a picture of one digit.
"""
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from handwriting.preprocess import (BlankImage, components, ink_threshold,
                                    is_ruled_line, light_on_dark, max_filter, pen_width)

# The most digits read in one picture. A number that long is rare; a picture
# with more pieces of ink is more likely a page of text or noise, and each
# digit costs a few milliseconds to read.
MAX_DIGITS = 64
# A number of MAX_DIGITS digits may be written in up to this many times as
# many pieces of ink (dotted strokes, flags written apart).
PIECES_PER_DIGIT = 4
# Pieces one above the other - their column ranges overlap by this fraction
# of the narrower one's width, their rows by less than this fraction of the
# shorter one's height - are parts of one digit.
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
# A wider piece is touching digits, each about this many times as wide as the
# piece is tall (the benchmark's touching numbers: median 0.51, 5th-95th
# percentile 0.37-0.62, where slants and curves overlap; upright digits side
# by side are as wide as alone, 0.65). It is cut into at most round(width /
# (TOUCHING_ASPECT * height)) digits ...
TOUCHING_ASPECT = 0.55
# ... at the cheapest column (cut_cost) within this fraction of a digit's
# expected width either side of where equal widths would cut ...
CUT_SEARCH = 0.35
# ... and into fewer if a cut would span more than this fraction of the
# piece's height: it would go through a digit, not between two. (Tuned on 60
# touching numbers of the benchmark, seed 0, and two touching 0s.)
CUT_SPAN = 0.65


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


def cut_columns(cost, count, digit_width):
    """Where to cut a piece whose cost of cutting each column is ``cost``
    into ``count`` digits: at the cheapest column within CUT_SEARCH of a
    digit's expected width (``digit_width``) of each place equal widths put
    a cut."""
    width = len(cost)
    smooth = np.convolve(cost, np.ones(3) / 3, mode="same")  # one thin gap is not a cut
    reach = max(1, int(CUT_SEARCH * digit_width))
    cuts = []
    for k in range(1, count):
        centre = round(k * width / count)
        lo, hi = max(cuts[-1] + 1 if cuts else 1, centre - reach), min(width - 1, centre + reach)
        cuts.append(lo + int(np.argmin(smooth[lo:hi + 1])) if hi >= lo else centre)
    return np.array(cuts)


def digit_ink(ink, labels, part, origin, pen):
    """The Digit whose pixels are ``part``, in the window of ``ink`` and
    ``labels`` at ``origin`` (top, left): its ink grown back by a pen's width
    (its soft edges lie below the threshold, as in preprocess.separate_ink)
    but not into other ink, cut out with a margin."""
    (rows, cols), = ndimage.find_objects(part.astype(np.int8))
    grown = max_filter(part, 2 * int(np.ceil(pen)) + 1) & ~((labels > 0) & ~part)
    margin = int(np.ceil(pen)) + 2
    window = (slice(max(0, rows.start - margin), rows.stop + margin),
              slice(max(0, cols.start - margin), cols.stop + margin))
    crop = np.pad(np.where(grown[window], ink[window], 0), margin)
    top, left = origin
    return Digit(crop, (top + rows.start, left + cols.start, top + rows.stop, left + cols.stop))


def cut_cost(own):
    """How much cutting each column of the boolean ``own`` would cut: the
    rows from its first inked pixel to its last. Where two digits touch,
    little of either is above and below the point they touch; through a
    digit, its strokes span most of its height (a 0's top and bottom)."""
    inked = own.any(axis=0)
    first = np.argmax(own, axis=0)
    last = own.shape[0] - 1 - np.argmax(own[::-1], axis=0)
    return np.where(inked, last - first + 1, 0)


def split_wide(group, labels, ink, pen):
    """``group`` as one or more Digits. A group wider than ONE_DIGIT_ASPECT
    times its height is touching digits, cut apart (SPLIT): into as many as
    TOUCHING_ASPECT says, or fewer if that count's cuts would go through a
    digit (a cut spanning over CUT_SPAN of the height: upright digits side
    by side are wider than TOUCHING_ASPECT), at the cheapest columns
    (``cut_cost``) near where equal widths put the cuts."""
    margin = 2 * int(np.ceil(pen)) + 2  # room for the ink's soft edges
    top, left = max(0, group.top - margin), max(0, group.left - margin)
    window = (slice(top, group.bottom + margin), slice(left, group.right + margin))
    labels, ink = labels[window], ink[window]
    own = np.isin(labels, list(group.labels))
    if group.width <= ONE_DIGIT_ASPECT * group.height:
        return [digit_ink(ink, labels, own, (top, left), pen)]
    cost = cut_cost(own)[group.left - left:group.right - left]
    fewest = max(2, int(np.ceil(group.width / (ONE_DIGIT_ASPECT * group.height))))
    most = max(fewest, round(group.width / (TOUCHING_ASPECT * group.height)))
    options = [cut_columns(cost, count, group.width / count)
               for count in range(most, fewest - 1, -1)]
    cuts = next((cuts for cuts in options if cost[cuts].max() <= CUT_SPAN * group.height),
                min(options, key=lambda cuts: cost[cuts].max()))
    side = np.searchsorted(group.left - left + cuts, np.arange(own.shape[1]), side="right")
    return [digit_ink(ink, labels, own & (side == k)[None, :], (top, left), pen)
            for k in range(len(cuts) + 1)]


def find_digits(gray):
    """The digits in ``gray`` (2-D, values in [0, 1], either polarity), left to
    right, as Digit(ink, box)s for preprocess.mnist_like. Raises BlankImage
    when there is no ink, TooManyDigits beyond MAX_DIGITS."""
    ink = light_on_dark(gray)
    labels, groups, pen = pieces(ink)
    if not groups:
        raise BlankImage("blank image: no digits found")
    # Several pieces may make one digit (a dotted stroke), but many more than
    # the digits allowed are not a number: refused before the merging, whose
    # time grows with the square of the pieces.
    if len(groups) > PIECES_PER_DIGIT * MAX_DIGITS:
        raise TooManyDigits(f"too many pieces of ink ({len(groups)}) for a number of at most "
                            f"{MAX_DIGITS} digits")
    groups = join_fragments(merge_stacked(groups))
    digits = [digit for g in groups for digit in split_wide(g, labels, ink, pen)]
    if len(digits) > MAX_DIGITS:
        raise TooManyDigits(f"too many digits: {len(digits)} found, the limit is {MAX_DIGITS}")
    return digits
