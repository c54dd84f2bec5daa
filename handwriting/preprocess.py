"""Turning an arbitrary picture of a digit into an MNIST-like 28x28 image, and
rotating images (for experiments/evaluate.py's robustness test).

MNIST's digits went through a fixed pipeline (LeCun et al.): the ink's bounding
box was scaled to fit a 20x20 box, keeping the aspect ratio, and pasted into a
28x28 field so that the ink's centre of mass sits at the centre, white ink on
black. The network has only ever seen digits like that, so a photo or drawing
must go through the same steps first. People's photos also have shadows,
printed lines, pens thinner or bolder than MNIST's; ``mnist_like`` does:

    grayscale -> light ink on dark (invert if needed)
    -> FLATTEN_PAPER: subtract the paper as estimated around every pixel
       (shadows, uneven light; without it: a plane fitted to the border)
    -> SEPARATE_INK: keep the digit; drop faint or printed lines and specks
    -> crop to the ink
    -> NORMALISE_WIDTH: erode or dilate strokes to a width MNIST's digits have
    -> scale to fit 20x20 -> RESTRETCH: strongest ink to 1 again
    -> paste into 28x28, centre of mass at the centre

The four named steps can be switched off one at a time (``skip``), which is
how handwriting/benchmark.py measures what each one buys.

Pillow (which matplotlib depends on) reads the files and does the resizing
(its Lanczos filter averages over the source pixels when shrinking; ndimage's
zoom samples a spline, which aliases thin strokes: the benchmark's images at
5 per digit were read 99.4 % right that way by the robust model, 100 % with
Lanczos); scipy.ndimage does the image operations (filters, connected components and
their boxes, centre of mass) in its tested C code. By hand, on NumPy: Otsu's
threshold (a few lines on a histogram; ndimage has none), the paper's plane (a
least-squares fit), the stroke-width measures (the formulas MNIST's widths
were measured with), and ``rotate``, a batch of 10000 28x28 images turned
by augment.warp's bilinear gather in 0.35 s against ndimage's 0.50 s (one
affine_transform per image) or 0.70 s (one over the batch).
"""
import warnings

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage

from augment import warp
from handwriting.blocks import (SMOOTH_BLOCKS, cut_into_ink_and_paper, is_smooth_scan,
                                 smooth_blocks)
from handwriting.deskew import DESKEW, deskew
from handwriting.ruled_lines import REMOVE_LINES, remove_ruled_lines

SIZE = 28  # MNIST images are SIZE x SIZE ...
BOX = 20  # ... with the digit scaled to fit BOX x BOX inside
# In MNIST the ink's centre of mass is at (14.0, 14.0) in (row, column) pixel
# indices: mean 13.99 and 14.01 over the test set, std 0.29.
CENTRE = 14.0
# Ink fainter than this fraction of the strongest ink is treated as background
# (paper texture, JPEG noise) and left out of the bounding box.
INK_THRESHOLD = 0.2
# An image whose ink differs from its paper by less than this (on a 0..1
# scale), or by less than 5 noise stds, has no digit in it.
MIN_CONTRAST = 0.1
# Paper is fitted to an image's border; where the fit holds for less than this
# fraction of it, ink (or a shadow's edge) covers the rest.
FITS_BORDER = 0.8

# The pipeline's optional steps, by name (see the module docstring).
FLATTEN_PAPER, SEPARATE_INK = "flatten_paper", "separate_ink"
NORMALISE_WIDTH, RESTRETCH = "normalise_width", "restretch"
STEPS = (FLATTEN_PAPER, SEPARATE_INK, NORMALISE_WIDTH, RESTRETCH, DESKEW, SMOOTH_BLOCKS,
         REMOVE_LINES)
# MNIST's stroke width, as ``stroke_width`` measures it on the 28x28 images
# (digit in a 20x20 box; 2 * ink mass / outline length, in pixels): 2nd
# percentile, median, 98th percentile over the 60000 training digits.
MNIST_STROKE_WIDTH = (1.50, 2.36, 3.98)
WORK_SCALE = 4  # strokes are thinned or thickened at 4x the final size ...
MAX_WIDTH_STEPS = 12  # ... by at most 12 steps of one pixel a side


# The most pixels read_gray decodes. Preprocessing holds several float64 copies
# of the image (about 55 bytes a pixel), so a 10000x10000 picture took 5.5 GB
# and several seconds; 16 megapixels still takes any phone photo (12 MP) or a
# 5K screenshot whole. A larger JPEG is decoded at 1/2, 1/4 or 1/8 scale
# instead, which its decoder does at almost no cost; anything else is refused.
MAX_PIXELS = 16_000_000

# Pillow warns when it opens an image over its own limit (89 MP). read_gray
# checks a lower limit itself, right after opening, so the warning would only
# repeat that, less clearly. (Pillow refuses images over 2x its limit outright.)
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class BlankImage(ValueError):
    """There is no digit to see: the image is (almost) one flat colour."""


class ImageTooLarge(ValueError):
    """The image has more than MAX_PIXELS pixels (and is not a JPEG that can be
    decoded at a smaller scale)."""


def read_gray(source):
    """The image in ``source`` as a 2-D float array in [0, 1] (0 black, 1 white).

    ``source`` is a path or a binary file object (``io.BytesIO(data)`` for an
    image's bytes). Transparent pixels count as white paper (drawing programs
    often save the background as transparent black). Raises ImageTooLarge,
    before decoding, for an image of more than MAX_PIXELS pixels; OSError if
    it cannot be read or is not an image.
    """
    limit = f"the limit is {MAX_PIXELS / 1e6:g} megapixels; scale it down first"
    try:
        im = Image.open(source)  # reads the header only
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"image too large: over {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} "
                            f"megapixels ({limit})") from None
    with im:
        width, height = im.size
        if width * height > MAX_PIXELS and im.format == "JPEG":
            # The mildest of the JPEG decoder's reductions that fits the limit.
            k = next((k for k in (2, 4, 8) if -(-width // k) * -(-height // k) <= MAX_PIXELS), 8)
            im.draft(im.mode, (max(1, width // k), max(1, height // k)))
        if im.width * im.height > MAX_PIXELS:
            raise ImageTooLarge(f"image too large: {width}x{height} pixels ({limit})")
        im = ImageOps.exif_transpose(im)  # phone photos store their rotation in EXIF
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            im = Image.alpha_composite(paper, rgba)
        gray = np.asarray(im.convert("L"), dtype=np.float64) / 255.0
    return gray


def paper(gray):
    """The background of ``gray``, fitted to its border pixels, and their noise.

    Photos are rarely evenly lit, so the background is a plane (a + b*row +
    c*column) rather than one level; a centred digit rarely touches the
    border. Border pixels far from the fit (ink that does touch it) are left
    out and the plane fitted again. Returns (background array, noise std,
    the fraction of the border the plane fits).
    """
    h, w = gray.shape
    rows, cols = np.mgrid[0:h, 0:w]
    edge = np.zeros((h, w), dtype=bool)
    edge[[0, -1], :] = edge[:, [0, -1]] = True
    A = np.column_stack([np.ones(edge.sum()), rows[edge], cols[edge]])
    values = gray[edge]
    residual = values - np.median(values)
    for _ in range(3):
        # Robust spread: the median absolute deviation, scaled to a std for
        # Gaussian noise. The +0.02 keeps a few grey levels of slack.
        spread = 1.4826 * np.median(np.abs(residual))
        keep = np.abs(residual) <= 3 * spread + 0.02
        coef = np.linalg.lstsq(A[keep], values[keep], rcond=None)[0]
        residual = values - A @ coef
    noise = 1.4826 * np.median(np.abs(residual[keep]))
    return coef[0] + coef[1] * rows + coef[2] * cols, noise, keep.mean()


def max_filter(image, size):
    """Grey dilation: the maximum over a size x size square around each pixel,
    the image's edge extended by repeating its border pixels (so that a
    border pixel is not dimmed by an imagined background beyond it)."""
    return ndimage.maximum_filter(image, size, mode="nearest")


def min_filter(image, size):
    """Grey erosion: the minimum over a size x size square around each pixel
    (edges as in max_filter)."""
    return ndimage.minimum_filter(image, size, mode="nearest")


def local_median(gray, size=32, window=7):
    """The paper around every pixel: the median of its neighbourhood, from a
    copy of ``gray`` shrunk to about ``size`` pixels on its shorter side
    (median of ``window`` x ``window`` of those), enlarged back. The ink is a
    minority in any neighbourhood, so the median is the paper; and a median
    keeps a straight edge (a shadow's) where it is, since each side of the
    edge is the majority near it. Coarse - for deciding which side is ink."""
    h, w = gray.shape
    factor = max(1.0, min(h, w) / size)
    small = resize(gray, (max(1, round(h / factor)), max(1, round(w / factor))))
    median = ndimage.median_filter(small, window, mode="nearest")
    return np.asarray(Image.fromarray(median.astype(np.float32)).resize((w, h), Image.BILINEAR),
                      dtype=np.float64)


def pen_width(mask):
    """The mean width of the strokes of a boolean image, in pixels: twice the
    area over the outline's length (a stroke of width w and length L has area
    w*L and an outline 2L long), the outline counted as the pixels next to
    the background."""
    outline = np.count_nonzero(mask & ~min_filter(mask, 3))
    return 2 * np.count_nonzero(mask) / max(1, outline)


def rough_pen_width(bright_ink, size=64):
    """The pen's width in pixels, roughly, for ink lighter than its paper, in
    a shadowed photo: measured (``pen_width``) on the ink an opening with the
    widest window (a quarter of the image) finds, in a copy shrunk to about
    ``size`` pixels on its shorter side - enough to tell a marker from a pen."""
    h, w = bright_ink.shape
    factor = max(1.0, min(h, w) / size)
    small = resize(bright_ink, (max(3, round(h / factor)), max(3, round(w / factor))))
    widest = max(3, min(small.shape) // 4) | 1
    ink = small - max_filter(min_filter(small, widest), widest)
    return factor * pen_width(ink > ink.max() / 2)


def light_on_dark(gray, local=True):
    """The ink of ``gray`` (2-D, values in [0, 1]) as values in [0, 1] on a 0 background.

    Whichever side of the paper holds more ink - darker or lighter - is the
    ink: pen on paper is inverted, chalk on a blackboard is not. Then the
    paper is subtracted: with ``local`` (the FLATTEN_PAPER step) as estimated
    around every pixel, since a shadow's edge is not a plane; else, and in an
    image too small for its pen, the plane fitted to the border (``paper``).
    Ink within three noise stds of the paper is set to 0, and the strongest
    ink is stretched to 1, as in MNIST.
    """
    gray = np.asarray(gray, dtype=np.float64)
    if gray.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {gray.shape}")
    if min(gray.shape) < 3:
        raise BlankImage(f"image of {gray.shape[1]}x{gray.shape[0]} pixels: too small "
                         "to hold a digit")
    background, noise, fitted = paper(gray)
    # Which side of the paper is ink? The side with more of it. The paper is
    # the plane fitted to the border, unless a shadow's edge crosses the border
    # (the plane fits under 80 % of it) of a photo (not a drawing under 32
    # pixels a side, whose ink may well cover much of the border): then the
    # paper is the median around each pixel.
    shadowed = local and fitted < FITS_BORDER and min(gray.shape) >= 32
    deviation = gray - (local_median(gray) if shadowed else background)
    # Only what stands out of the paper's grain counts (beyond 3 noise stds):
    # grain is the same on both sides, and over a large photo it would
    # outweigh a small digit.
    grain = 3 * noise
    ink_is_dark = (np.clip(-deviation - grain, 0, None).sum() >
                   np.clip(deviation - grain, 0, None).sum())
    bright_ink = 1 - gray if ink_is_dark else gray  # the ink made light
    # The local paper is an opening (below) whose window must be wider than
    # the pen; when the image has no room for one (a blob filling it, a tiny
    # drawing), the plane it is.
    widest = max(3, min(gray.shape) // 4) | 1
    if shadowed:  # the pen's width on the ink a widest opening finds
        pen = rough_pen_width(bright_ink)
    else:  # or on the ink the plane finds
        plane_ink = np.clip(-deviation if ink_is_dark else deviation, 0, None)
        pen = pen_width(plane_ink > plane_ink.max() / 2)
    if local and 2 * pen < widest:
        # A morphological opening of the ink made light: a minimum filter
        # wider than any stroke wipes the strokes out, and the maximum filter
        # that follows restores everything wider than the window - the paper
        # with its shadows, gradients and their edges, exactly where they are
        # (an edge is a wide structure). What the opening removed is the ink.
        # No window fits into a shadow's corner, so a narrower one, where the
        # pen allows it, loses less of the shadow to the ink: 2.5 pen widths,
        # at least an eighth of the image, at most a quarter.
        window = min(widest, int(max(2.5 * pen, min(gray.shape) / 8)) | 1)
        background = max_filter(min_filter(bright_ink, window), window)
        # Light times reflectance: in a shadow the ink differs from the paper
        # less, in proportion to the light. Measured against the room the paper
        # leaves (1 - background), a stroke is as strong in the shadow as out of it.
        ink = (bright_ink - background) / np.maximum(1 - background, MIN_CONTRAST)
        # The opening hugs the paper's noise from below, so paper reads a little
        # above 0: measure its level and spread again, from all pixels (the ink
        # is a minority).
        level = np.median(ink)
        noise = 1.4826 * np.median(np.abs(ink - level))
        ink = ink - level
    else:
        deviation = gray - background
        ink = np.clip(-deviation if ink_is_dark else deviation, 0, None)
    peak = ink.max()
    if peak < max(MIN_CONTRAST, 5 * noise):
        raise BlankImage(f"blank image: no digit found (contrast {peak:.3f}, "
                         f"noise {noise:.3f})")
    floor = 3 * noise
    return np.clip(ink - floor, 0, None) / (peak - floor)


def otsu_threshold(values, bins=64):
    """The level that best splits ``values`` (in [0, 1]) into two groups: the one
    that maximises the variance between the groups' means (Otsu, 1979)."""
    counts, edges = np.histogram(values, bins=bins, range=(0, 1))
    p = counts / counts.sum()
    centres = (edges[:-1] + edges[1:]) / 2
    below = np.cumsum(p)  # weight of the lower group for a cut after each bin
    mean_below = np.cumsum(p * centres)
    total_mean = mean_below[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total_mean * below - mean_below) ** 2 / (below * (1 - below))
    # A cut with all values on one side splits nothing (0/0): never the best.
    return edges[1:][np.argmax(np.nan_to_num(between[:-1], nan=-1.0))]


# Pixels that touch by an edge or a corner belong to one piece of ink.
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def components(mask):
    """The 8-connected pieces of a boolean image: (labels, boxes, areas) -
    labels 0 for the background and 1..n for the pieces, each piece's bounding
    box (a pair of slices, rows and columns) and pixel count, piece i at
    index i - 1."""
    labels, count = ndimage.label(mask, structure=EIGHT_CONNECTED)
    boxes = ndimage.find_objects(labels)
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    return labels, boxes, areas


def is_ruled_line(box, area, shape):
    """Whether a piece of ink (bounding box as slices, pixel count) is a printed
    line rather than part of a digit: it crosses nearly the whole image, and
    is either straight (its box 15x longer than wide) or a lattice of lines
    (a grid: it fills under a fifth of its box)."""
    height, width = box[0].stop - box[0].start, box[1].stop - box[1].start
    crosses = height >= 0.9 * shape[0] or width >= 0.9 * shape[1]
    straight = min(height, width) * 15 <= max(height, width)
    lattice = area < 0.2 * height * width
    return crosses and (straight or lattice)


def ink_threshold(ink):
    """The level above which ``ink`` (light on dark, in [0, 1]) is clearly a
    pen's: Otsu's, from the image's own histogram, kept between INK_THRESHOLD
    and half the strongest ink, so that a pen pressed lightly still counts.
    Faint printed lines, a fifth to two fifths as dark as the pen, fall below."""
    return np.clip(otsu_threshold(ink[ink > 0]), INK_THRESHOLD, 0.5)


def separate_ink(ink):
    """``ink`` with everything that is not the digit set to 0: printed lines
    (ruled or grid paper) and stray specks (the SEPARATE_INK step).

    The ink is thresholded at ``ink_threshold``: faint printed lines fall
    below it. Of the connected pieces above it, lines crossing the image are
    dropped, and so are specks under 2 % of the largest piece, and pieces far
    from the largest one unless they are large too. The digit's pieces are then grown back by a stroke's width,
    so that their soft edges (and weaker strokes next to them) are kept.
    """
    labels, boxes, areas = components(ink > ink_threshold(ink))
    # Each piece's first and last row and column.
    top, left = (np.array([box[axis].start for box in boxes]) for axis in (0, 1))
    bottom, right = (np.array([box[axis].stop - 1 for box in boxes]) for axis in (0, 1))
    keep = np.array([not is_ruled_line(box, area, ink.shape)
                     for box, area in zip(boxes, areas)])
    if not keep.any():  # nothing but "lines": then the line is the digit (a tall "1")
        keep[:] = True
    # The digit's main piece is the largest; its other pieces (a 5's flag, a
    # stroke broken where the pen pressed lightly) lie close to it. Far-off
    # pieces are other marks, or shadow corners too narrow for FLATTEN_PAPER.
    main = np.argmax(np.where(keep, areas, -1))
    reach = 0.3 * max(bottom[main] - top[main], right[main] - left[main]) + 2
    gap = np.maximum.reduce([top[main] - bottom, top - bottom[main],
                             left[main] - right, left - right[main], np.zeros_like(top)])
    keep &= (areas >= 0.02 * areas[main]) & ((gap <= reach) | (areas >= 0.3 * areas[main]))
    digit = np.concatenate([[False], keep])[labels]
    # Grow the kept pieces back by a stroke's width: their soft edges lie below
    # the threshold.
    grown = max_filter(digit, 2 * int(np.ceil(pen_width(digit))) + 1)
    return np.where(grown, ink, 0)


def stroke_width(image):
    """The mean width of the strokes in ``image`` (light on dark), in pixels:
    twice the ink's mass over the length of its outline. A stroke of width w
    and length L has mass w*L and an outline 2L long (plus 2w at its ends).
    The outline's length is the summed size of the image's gradient (an edge
    from 0 to 1 adds 1 however soft), so the measure needs no threshold and
    works on grey, anti-aliased strokes. Mass is measured in units of the
    image's peak, so a faint stroke is as wide as a dark one."""
    image = np.pad(image / image.max(), 1)
    d_rows = np.diff(image, axis=0)[:, :-1]
    d_cols = np.diff(image, axis=1)[:-1, :]
    return 2 * image.sum() / np.hypot(d_rows, d_cols).sum()


def crop_to_ink(ink):
    """The bounding box of the clearly inked pixels (above INK_THRESHOLD)."""
    return ink[ndimage.find_objects((ink > INK_THRESHOLD).astype(np.int8))[0]]


def resize(image, size):
    """``image`` resized to (height, width) = ``size`` with Lanczos resampling,
    which averages over the source pixels when shrinking (MNIST's anti-aliased
    grey edges); clipped to [0, 1], since Lanczos overshoots a little at edges."""
    out = Image.fromarray(image.astype(np.float32)).resize(size[::-1], Image.LANCZOS)
    return np.clip(np.asarray(out, dtype=np.float64), 0, 1)


def fit_box(crop, restretch=True):
    """``crop`` scaled so that its longer side is BOX pixels; the shorter one
    keeps the aspect ratio (a "1" stays thin). With ``restretch`` the strongest
    ink is set to 1 again afterwards (the RESTRETCH step): shrinking a thin
    stroke 6x averages it with the paper around it into a faint grey line,
    where MNIST's strokes are full intensity."""
    h, w = crop.shape
    scale = BOX / max(h, w)
    patch = resize(crop, (max(1, round(h * scale)), max(1, round(w * scale))))
    if patch.max() == 0:  # a speck so thin that resampling lost it
        raise BlankImage("blank image: the ink vanished when scaled to 20x20")
    return patch / patch.max() if restretch else patch


def normalise_width(crop):
    """``crop`` with its strokes made thinner or bolder, if need be, to a width
    MNIST's digits have (the NORMALISE_WIDTH step).

    The width is judged as the network will see it, in the BOX-pixel digit
    (``stroke_width`` of ``fit_box``'s output). If it lies within MNIST's
    2nd-98th percentiles, the digit is left alone; otherwise the strokes are
    eroded or dilated, at 4x the final resolution (so each 3x3 step moves the
    final width by about half a pixel), by the number of steps (up to
    MAX_WIDTH_STEPS) that brings the width closest to MNIST's median, thinning
    no further than the step before one that cuts a stroke in two.
    """
    width = stroke_width(fit_box(crop))
    if MNIST_STROKE_WIDTH[0] <= width <= MNIST_STROKE_WIDTH[2]:
        return crop
    h, w = crop.shape
    scale = WORK_SCALE * BOX / max(h, w)
    big = resize(crop, (max(1, round(h * scale)), max(1, round(w * scale))))
    big = np.pad(big, MAX_WIDTH_STEPS + 1)  # room to grow
    thinning = width > MNIST_STROKE_WIDTH[1]
    step = min_filter if thinning else max_filter
    best, best_gap = crop, abs(width - MNIST_STROKE_WIDTH[1])
    pieces = ndimage.label(big > 0.5)[1] if thinning else None
    for _ in range(MAX_WIDTH_STEPS):
        big = step(big, 3)
        if big.max() <= INK_THRESHOLD:  # eroded away
            break
        # Thinning must not cut a stroke in two: a soft, wide stroke (a digit
        # enlarged from a few pixels) has narrow necks, and eroding it to
        # MNIST's width broke 8s and 2s into pieces (UCI's 8x8 digits, enlarged
        # to 28x28: 87.7 -> 93.1 % with this stop).
        if thinning and ndimage.label(big > 0.5)[1] > pieces:
            break
        candidate = crop_to_ink(big)
        gap = abs(stroke_width(fit_box(candidate)) - MNIST_STROKE_WIDTH[1])
        if gap < best_gap:  # (not monotonic: the first steps also enlarge the box)
            best, best_gap = candidate, gap
    return best


def centred_in_field(patch):
    """``patch`` pasted into a SIZE x SIZE field so that its centre of mass lands
    on the centre, with whole-pixel shifts, and always inside the field."""
    new_h, new_w = patch.shape
    com_row, com_col = ndimage.center_of_mass(patch)
    top = int(np.clip(round(CENTRE - com_row), 0, SIZE - new_h))
    left = int(np.clip(round(CENTRE - com_col), 0, SIZE - new_w))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top:top + new_h, left:left + new_w] = patch
    return out


def mnist_like(gray, skip=()):
    """A 28x28 float32 image in [0, 1], white digit on black, centred as in MNIST.

    ``gray`` is a 2-D array in [0, 1] of any size and either polarity (e.g.
    from ``read_gray``). Raises BlankImage when there is no digit in it.
    ``skip``: names from STEPS to leave out (to measure what each one buys).
    """
    unknown = set(skip) - set(STEPS)
    if unknown:
        raise ValueError(f"unknown preprocessing steps {sorted(unknown)}; the steps are {STEPS}")
    scan = cut = False  # a small scan enlarged; cut into ink and paper (handwriting/blocks.py)
    if SMOOTH_BLOCKS not in skip:
        smooth = smooth_blocks(gray)  # a blocky enlargement smoothed, then cut
        cut, gray = smooth is not gray, smooth
        scan = cut or is_smooth_scan(gray)
        if scan and not cut and paper(gray)[2] < FITS_BORDER:  # ink covers its border
            cut, gray = True, cut_into_ink_and_paper(gray)
    # A scan, blocky or smooth, has no shadow to flatten, and its strokes, as
    # wide as the local paper's window when a small scan's ink fills its frame,
    # were taken for paper by that step.
    ink = light_on_dark(gray, local=FLATTEN_PAPER not in skip and not scan)
    if REMOVE_LINES not in skip:  # lines as dark as the pen (handwriting/ruled_lines.py)
        ink = remove_ruled_lines(ink)
    if SEPARATE_INK not in skip:
        ink = separate_ink(ink)
    crop = crop_to_ink(ink)
    if DESKEW not in skip:  # the slant sheared upright (handwriting/deskew.py)
        crop = crop_to_ink(deskew(crop))
    # A scan enlarged from a few pixels and cut into ink and paper has the width
    # the cut drew, not a pen's: eroding or dilating it by whole pixels at this
    # size breaks an 8x8 scan's strokes apart or fills its loops.
    if NORMALISE_WIDTH not in skip and not cut:
        crop = normalise_width(crop)
    patch = fit_box(crop, restretch=RESTRETCH not in skip)
    return centred_in_field(patch)


def rotate(images, degrees):
    """Rotate images (..., H, W) counter-clockwise by ``degrees`` about their centre.

    Bilinear interpolation, zeros where the rotated image has no source pixel.
    One angle for the whole batch, so the source coordinates are worked out
    once for an H x W grid and every image is sampled at them together.

    Each output pixel (y, x) takes its value from the source point found by
    turning (y, x) back by -degrees; augment.warp mixes the four pixels around
    that point in proportion to how close it is to each.
    """
    images = np.asarray(images)
    if not np.issubdtype(images.dtype, np.floating):
        images = images.astype(np.float64)
    h, w = images.shape[-2:]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    t = np.deg2rad(degrees)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    y, x = y - cy, x - cx
    # Rows grow downwards, so "counter-clockwise on screen" is this sign pattern.
    src_x = cx + x * np.cos(t) - y * np.sin(t)
    src_y = cy + x * np.sin(t) + y * np.cos(t)
    batch = images.reshape(-1, h, w)
    rows, cols = (np.broadcast_to(s.astype(images.dtype), batch.shape) for s in (src_y, src_x))
    out = warp(batch, rows, cols)
    return out.reshape(images.shape)
