"""Turning an arbitrary picture of a digit into an MNIST-like 28x28 image, and
rotating images (for evaluate.py's robustness test).

MNIST's digits went through a fixed pipeline (LeCun et al.): the ink's bounding
box was scaled to fit a 20x20 box, keeping the aspect ratio, and pasted into a
28x28 field so that the ink's centre of mass sits at the centre, white ink on
black. The network has only ever seen digits like that, so a photo or drawing
must go through the same steps first; ``mnist_like`` does them:

    grayscale -> subtract the paper (a plane fitted to the border pixels)
    -> light ink on dark (invert if needed) -> crop to the ink
    -> scale to fit 20x20 -> paste into 28x28, centre of mass at the centre

Pillow (which matplotlib depends on) reads the files and does the resizing;
everything else is NumPy.
"""
import warnings

import numpy as np
from PIL import Image, ImageOps

from augment import warp

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
    out and the plane fitted again. Returns (background array, noise std).
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
    return coef[0] + coef[1] * rows + coef[2] * cols, noise


def light_on_dark(gray):
    """The ink of ``gray`` (2-D, values in [0, 1]) as values in [0, 1] on a 0 background.

    Whichever side of the background holds more ink - darker or lighter - is
    the ink: pen on paper is inverted, chalk on a blackboard is not. Ink
    within three noise stds of the paper is set to 0, and the strongest ink
    is stretched to 1, as in MNIST.
    """
    gray = np.asarray(gray, dtype=np.float64)
    if gray.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {gray.shape}")
    if min(gray.shape) < 3:
        raise BlankImage(f"image of {gray.shape[1]}x{gray.shape[0]} pixels: too small "
                         "to hold a digit")
    background, noise = paper(gray)
    deviation = gray - background
    darker = np.clip(-deviation, 0, None)
    lighter = np.clip(deviation, 0, None)
    ink = darker if darker.sum() > lighter.sum() else lighter
    peak = ink.max()
    if peak < max(MIN_CONTRAST, 5 * noise):
        raise BlankImage(f"blank image: no digit found (contrast {peak:.3f}, "
                         f"noise {noise:.3f})")
    floor = 3 * noise
    return np.clip(ink - floor, 0, None) / (peak - floor)


def centre_of_mass(image):
    """(row, column) of the ink's centre of mass, in pixel indices."""
    total = image.sum()
    rows = np.arange(image.shape[0]) @ image.sum(axis=1) / total
    cols = np.arange(image.shape[1]) @ image.sum(axis=0) / total
    return rows, cols


def mnist_like(gray):
    """A 28x28 float32 image in [0, 1], white digit on black, centred as in MNIST.

    ``gray`` is a 2-D array in [0, 1] of any size and either polarity (e.g.
    from ``read_gray``). Raises BlankImage when there is no digit in it.
    """
    ink = light_on_dark(gray)

    # Crop to the bounding box of the clearly inked pixels.
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]

    # Scale the longer side to BOX pixels; the shorter one keeps the aspect
    # ratio (a "1" stays thin). Lanczos resampling averages over the source
    # pixels when shrinking, which gives MNIST's anti-aliased grey edges.
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    patch = Image.fromarray(crop.astype(np.float32)).resize((new_w, new_h), Image.LANCZOS)
    patch = np.clip(np.asarray(patch), 0, 1)  # Lanczos overshoots a little at edges
    if patch.sum() == 0:  # a speck so thin that resampling lost it
        raise BlankImage("blank image: the ink vanished when scaled to 20x20")

    # Paste it so that its centre of mass lands on the centre of the field.
    # Shifts are whole pixels, and the patch always stays inside the field.
    com_row, com_col = centre_of_mass(patch)
    top = int(np.clip(round(CENTRE - com_row), 0, SIZE - new_h))
    left = int(np.clip(round(CENTRE - com_col), 0, SIZE - new_w))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top:top + new_h, left:left + new_w] = patch
    return out


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
