"""Data augmentation for MNIST digits, a whole batch at a time.

Each training batch is redrawn slightly differently every epoch: moved a pixel
or two, turned a few degrees, made a little larger or smaller, and bent by an
elastic distortion (Simard, Steinkraus & Platt, 2003). The network then sees
many plausible variants of each digit instead of memorising 50,000 fixed ones.
Optionally, it is also slanted (sheared) either way, and its strokes are made
thicker or thinner, as by a bolder or a finer pen (see stroke_width).

The geometry is one operation. For every output pixel p we compute the
point of the input image it comes from,

    source(p) = centre + A^-1 (p - centre) - shift + alpha * smooth(noise)(p)

and read the input there by bilinear interpolation (a weighted mean of the 4
surrounding pixels; outside the image counts as 0, the background). A is a
rotation times a scaling times a shear (the slant). All N images are handled by the same array
operations, with no Python loop over images.

    augment = Augmenter(shift=2, rotate=10, scale=0.1, seed=0)
    X_batch = augment(X_batch)          # (N, 784) -> (N, 784), same dtype

Stroke width is changed before the geometry, on the sharp original, by
grayscale morphology (see stroke_width).
"""
import numpy as np

SIDE = 28  # MNIST images are 28 x 28


def gaussian_blur_matrix(size, sigma):
    """(size, size) matrix B such that B @ f smooths the columns of f with a
    Gaussian of standard deviation ``sigma`` pixels (kernel cut at 4 sigma,
    summing to 1, edges reflected as in scipy.ndimage's default "reflect").

    A 2-D Gaussian is separable, so a stack of fields F (N, size, size) is
    smoothed by B @ F @ B.T: two small batched matrix products, no loop.
    """
    radius = max(1, int(4 * sigma + 0.5))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    blur = np.zeros((size, size))
    rows = np.arange(size)
    for k, weight in zip(offsets, kernel):  # a loop over the kernel's taps, not images
        cols = rows + k
        # Reflect about the edge: -1 -> 0, -2 -> 1, size -> size - 1, ...
        cols = np.where(cols < 0, -cols - 1, cols)
        cols = np.where(cols >= size, 2 * size - cols - 1, cols)
        cols = np.clip(cols, 0, size - 1)  # only for kernels wider than the image
        np.add.at(blur, (rows, cols), weight)
    return blur


def warp(images, rows, cols):
    """Sample images (N, H, W) at real-valued points by bilinear interpolation.

    rows, cols: (N, H, W) source coordinates for every output pixel, in the
    images' dtype. Points outside the image read 0. Returns (N, H, W).
    """
    n, h, w = images.shape
    dtype = images.dtype.type
    # A border of zeros around each image (two on the far sides, where the
    # bottom-right neighbour of the last border point lies): every point
    # outside the image is clipped onto that border and so reads 0, with no
    # special cases.
    padded = np.zeros((n, h + 3, w + 3), dtype=images.dtype)
    padded[:, 1:h + 1, 1:w + 1] = images
    r = np.clip(rows + dtype(1), dtype(0), dtype(h + 1))
    c = np.clip(cols + dtype(1), dtype(0), dtype(w + 1))
    r0, c0 = np.floor(r), np.floor(c)
    fr, fc = r - r0, c - c0  # position inside the 2 x 2 cell: the weights
    stride = w + 3
    # Index of each point's top-left neighbour in the flattened padded batch
    # (int32 arithmetic is cheaper; one conversion to intp for the gathers).
    top_left = r0.astype(np.int32) * np.int32(stride) + c0.astype(np.int32)
    top_left += (np.arange(n, dtype=np.int32) * np.int32((h + 3) * stride))[:, None, None]
    top_left = top_left.astype(np.intp)
    flat = padded.reshape(-1)
    a, b = flat[top_left], flat[top_left + 1]
    c_, d = flat[top_left + stride], flat[top_left + (stride + 1)]
    top = a + fc * (b - a)
    bottom = c_ + fc * (d - c_)
    return top + fr * (bottom - top)


def affine_elastic(X, angle=0.0, scale=1.0, shift_rows=0.0, shift_cols=0.0,
                   disp_rows=None, disp_cols=None, side=SIDE, slant=0.0):
    """Transform flattened images X (N, side*side), each by its own parameters.

    angle (radians, counter-clockwise), scale (> 1 enlarges), shift_rows and
    shift_cols (pixels, down and right), slant (radians; > 0 leans the digit
    to the right, like italics: a point d pixels above the centre moves
    d * tan(slant) pixels right, one below it moves left; rows stay put):
    scalars or arrays of shape (N,). The slant is applied first, then the
    rotation and scaling, then the shift.
    disp_rows, disp_cols: optional (N, side, side) elastic displacement fields,
    added to the source coordinates. With all defaults the output equals X;
    an integer shift moves every pixel exactly that many places.
    """
    n = len(X)
    f = np.float32 if X.dtype == np.float32 else np.float64
    centre = (side - 1) / 2
    grid = np.arange(side, dtype=f) - f(centre)
    pr = grid[None, :, None]  # output pixel, relative to the centre
    pc = grid[None, None, :]
    angle, scale, shift_rows, shift_cols, slant = (
        np.broadcast_to(np.asarray(v, dtype=f), (n,))[:, None, None]
        for v in (angle, scale, shift_rows, shift_cols, slant))
    # Inverse map: undo the scaling and turn back by -angle (rows point down,
    # so a counter-clockwise turn on screen is this sign pattern) ...
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    rows = cos * pr + sin * pc
    cols = -sin * pr + cos * pc
    # ... then undo the slant. Forward, the slant moves a point at row offset r
    # (negative above the centre) to column c - tan(slant) * r; so the source
    # of column c is c + tan(slant) * r.
    cols = cols + np.tan(slant) * rows
    rows = rows + f(centre) - shift_rows
    cols = cols + f(centre) - shift_cols
    if disp_rows is not None:
        rows = rows + disp_rows
        cols = cols + disp_cols
    out = warp(X.reshape(n, side, side), rows, cols)
    return out.reshape(n, side * side)


def neighbourhood(images, reduce, offsets):
    """reduce (np.maximum or np.minimum) of images (N, H, W) over the given
    (row, col) offsets: out[p] = reduce over o of images[p + o], pixels outside
    the image counting as 0 (paper)."""
    n, h, w = images.shape
    padded = np.zeros((n, h + 2, w + 2), dtype=images.dtype)
    padded[:, 1:h + 1, 1:w + 1] = images
    out = None
    for dr, dc in offsets:  # a loop over 4 offsets, not over images
        view = padded[:, 1 + dr:1 + dr + h, 1 + dc:1 + dc + w]
        out = view.copy() if out is None else reduce(out, view, out=out)
    return out


# A pixel with its right and lower neighbours, and with its left and upper ones:
# one after the other they make the 3 x 3 square.
DOWN_RIGHT = [(0, 0), (0, 1), (1, 0), (1, 1)]
UP_LEFT = [(0, 0), (0, -1), (-1, 0), (-1, -1)]


def morph_steps(images, reduce):
    """Grayscale dilation (reduce=np.maximum) or erosion (np.minimum) of
    images (N, H, W) by one and by two pixels of stroke width: (one, two).

    Two pixels is the 3 x 3 square: a full pixel more (or less) on each side
    of every stroke. One pixel bolder is the mean of the two 2 x 2 squares
    (the pixel with its down-right neighbours, and with its up-left ones):
    half a pixel of ink on each side, so the stroke stays centred instead of
    growing towards one corner. One pixel finer is a single 2 x 2 square, and
    the stroke moves half a pixel up and left (less than any shift the
    augmentation adds): the centred mean would turn a 2-pixel stroke into two
    columns of half ink, which is a faint stroke, not a finer one.
    """
    down_right = neighbourhood(images, reduce, DOWN_RIGHT)
    two = neighbourhood(down_right, reduce, UP_LEFT)
    if reduce is np.minimum:
        return down_right, two
    up_left = neighbourhood(images, reduce, UP_LEFT)
    return (down_right + up_left) * images.dtype.type(0.5), two


def restore_ink(eroded, images, max_gain=3.0):
    """eroded (N, H, W) with the ink strength each stroke had before erosion.

    Eroding a thin anti-aliased stroke (say 0.3, 1, 0.4 across) leaves a faint
    one (0.35 at most), but a finer pen does not write fainter. So each pixel
    is scaled by (the image's strongest ink) / (the strongest eroded ink within
    one pixel of it), capped at max_gain so that a stroke that all but
    vanished stays faint rather than turning its traces into full ink. Where
    strokes kept their full ink (every binary stroke; the thick parts of a
    digit) the gain is 1, so their new edges keep the exact fractions that
    set the width.
    """
    peak = images.max(axis=(1, 2), keepdims=True)
    near = neighbourhood(neighbourhood(eroded, np.maximum, DOWN_RIGHT), np.maximum, UP_LEFT)
    gain = np.minimum(peak / np.maximum(near, eroded.dtype.type(1e-6)), eroded.dtype.type(max_gain))
    return eroded * gain  # at most the peak, as eroded <= near


def stroke_width(X, change, side=SIDE):
    """Flattened images X (N, side*side), ink > 0 on paper 0, with each
    image's strokes made change[i] pixels wider (> 0, a bolder pen) or
    narrower (< 0, a finer one); change in [-2, 2], real-valued.

    Whole pixels are grayscale morphology (morph_steps): dilation (the max over
    a neighbourhood) for bolder, erosion (the min) for finer. A fraction of a
    pixel blends the two nearest whole steps, e.g. 0.3 = 0.7 * X + 0.3 *
    (one pixel bolder): the new edge pixels get partial ink, as an
    anti-aliased bolder stroke would. Eroded strokes get their ink strength
    back (restore_ink): eroding an anti-aliased stroke also dims it, and a
    finer pen does not write fainter.
    """
    n = len(X)
    change = np.broadcast_to(np.asarray(change, dtype=X.dtype), (n,))
    if np.any(np.abs(change) > 2):
        raise ValueError("stroke width changes must be within [-2, 2] pixels")
    images = X.reshape(n, side, side)
    thicker, thinner = change > 0, change < 0
    out = images.copy()
    for mask, reduce in ((thicker, np.maximum), (thinner, np.minimum)):
        if not mask.any():
            continue
        sub = images[mask]
        one, two = morph_steps(sub, reduce)
        if reduce is np.minimum:
            one, two = (restore_ink(level, sub) for level in (one, two))
        a = np.abs(change[mask])[:, None, None]
        # Piecewise linear through (0, sub), (1, one), (2, two).
        w_one = np.clip(1 - np.abs(a - 1), 0, 1)
        w_two = np.clip(a - 1, 0, 1)
        w_zero = np.clip(1 - a, 0, 1)
        out[mask] = w_zero * sub + w_one * one + w_two * two
    return out.reshape(n, side * side)


def add_flag(X, rng, length=(0.2, 0.5), angle=(30.0, 65.0), side=SIDE):
    """Copies of images of 1s (N, side*side) with a flag: the short stroke many
    writers (most of Europe's) begin a 1 with, from the top of the stem down to
    the left. MNIST's American writers seldom drew it, and a network trained on
    MNIST alone reads such a 1 as a 7.

    Each flag starts at the top of the ink, runs ``length`` (a fraction of the
    digit's height, uniform in the range) at ``angle`` degrees below the
    horizontal (uniform), and is drawn anti-aliased with the stem's own width
    and darkness: a 7's bar, by contrast, is long and near horizontal.
    """
    n = len(X)
    images = X.reshape(n, side, side)
    ink = images > 0.3
    rows_inked, cols = ink.any(axis=2), np.arange(side)
    top = rows_inked.argmax(axis=1)                           # first inked row
    bottom = side - 1 - rows_inked[:, ::-1].argmax(axis=1)    # last inked row
    height = np.maximum(bottom - top + 1, 1)
    # The stem's top: the middle of the ink in the first two inked rows.
    rows = np.arange(side)[None, :, None]
    near_top = ink & (rows >= top[:, None, None]) & (rows <= top[:, None, None] + 1)
    top_col = (near_top * cols).sum(axis=(1, 2)) / np.maximum(near_top.sum(axis=(1, 2)), 1)
    # The stem's width: its ink over its height; its darkness: its strong ink.
    width = np.clip(images.sum(axis=(1, 2)) / height, 1.0, 4.0)
    darkness = np.array([np.percentile(img[m], 90) if m.any() else 1.0
                         for img, m in zip(images, ink)])
    flag_length = rng.uniform(*length, n) * height
    theta = np.deg2rad(rng.uniform(*angle, n))
    start = np.stack([top, top_col], axis=1).astype(float)
    end = start + flag_length[:, None] * np.stack([np.sin(theta), -np.cos(theta)], axis=1)
    end = np.clip(end, 0, side - 1)
    # Distance of every pixel centre to its image's segment start-end.
    grid = np.stack(np.meshgrid(cols, cols, indexing="ij"), axis=-1).reshape(1, -1, 2)
    seg = (end - start)[:, None, :]
    t = np.clip(((grid - start[:, None, :]) * seg).sum(-1) / np.maximum((seg ** 2).sum(-1), 1e-9),
                0, 1)
    dist = np.linalg.norm(grid - (start[:, None, :] + t[..., None] * seg), axis=-1)
    pen = np.clip(width[:, None] / 2 + 0.5 - dist, 0, 1) * darkness[:, None]
    return np.maximum(X, pen.astype(X.dtype))


def with_flagged_ones(X, y, fraction, seed=0, one=1):
    """(X, y) with flagged copies (add_flag) of a ``fraction`` of the images of
    ``one`` appended, chosen at random; the originals stay as they are."""
    rng = np.random.default_rng([seed, 3])
    ones = np.flatnonzero(y == one)
    chosen = rng.choice(ones, size=int(round(fraction * len(ones))), replace=False)
    flagged = add_flag(X[chosen], rng)
    return np.concatenate([X, flagged]), np.concatenate([y, y[chosen]])


class Augmenter:
    """Random shifts, rotations, scalings, slants, elastic distortions and
    stroke widths, per batch.

    shift: largest shift in pixels (uniform in [-shift, shift], each axis)
    rotate: largest rotation in degrees (uniform in [-rotate, rotate])
    scale: largest relative size change (factor uniform in [1-scale, 1+scale])
    elastic_alpha, elastic_sigma: Simard's elastic distortion: every pixel's
        source point moves by alpha * (uniform(-1, 1) noise smoothed by a
        Gaussian of std sigma). Simard used alpha 34, sigma 4; 0 turns it off.
    slant: largest slant (shear) in degrees, either way (uniform in
        [-slant, slant]; > 0 leans right, like italics)
    thicken, thin: largest change of stroke width in pixels, bolder and finer:
        each image's change is uniform in [-thin, thicken] (see stroke_width)
    seed: the augmenter's own random generator, so runs repeat exactly.
    stop_after: transform this many batches (calls), then pass batches through
        unchanged: training can end on clean images, the kind it is tested on.

    The random numbers for slant and stroke width are drawn after the others
    and only when these are on, so settings without them give exactly the
    images they gave before these options existed.
    """

    def __init__(self, shift=0.0, rotate=0.0, scale=0.0, elastic_alpha=0.0,
                 elastic_sigma=4.0, seed=0, side=SIDE, stop_after=None,
                 slant=0.0, thicken=0.0, thin=0.0):
        if min(shift, rotate, scale, elastic_alpha, slant, thicken, thin) < 0 \
                or not 0 <= scale < 1:
            raise ValueError("augmentation strengths must be >= 0 (and scale < 1)")
        if not slant < 60 or max(thicken, thin) > 2:
            raise ValueError("slant must be below 60 degrees, and thicken and thin "
                             "at most 2 pixels")
        if elastic_alpha > 0 and not elastic_sigma > 0:
            raise ValueError("elastic_sigma must be > 0")
        self.shift, self.rotate, self.scale = float(shift), float(rotate), float(scale)
        self.elastic_alpha, self.elastic_sigma = float(elastic_alpha), float(elastic_sigma)
        self.slant, self.thicken, self.thin = float(slant), float(thicken), float(thin)
        self.side = side
        self.stop_after = stop_after
        self.calls = 0
        self.rng = np.random.default_rng([seed, 2])
        self.field_basis = None
        if elastic_alpha > 0:
            # Smoothing noise F (side x side) is B F B^T with B the blur matrix.
            # Write B = U S V^T (SVD). For F of independent Gaussians, V^T F V is
            # again independent Gaussians, so B F B^T has exactly the law of
            # (U S) Z (U S)^T with Z fresh Gaussian noise; and as B keeps only
            # low frequencies, most of S is ~0: a k x k Z (k ~ 10 for sigma 4)
            # gives the same smooth fields for a fraction of the random numbers
            # and arithmetic. Simard drew uniform(-1, 1) noise; Gaussian noise of
            # the same variance (1/3; hence the 3 ** 0.25 in M, used twice) gives
            # practically the same smoothed field (a sum of many noise values).
            u, s, _ = np.linalg.svd(gaussian_blur_matrix(side, elastic_sigma))
            keep = s > 1e-3 * s[0]
            self.field_basis = (u[:, keep] * s[keep] / 3 ** 0.25).astype(np.float32)

    @property
    def geometric(self):
        return any((self.shift, self.rotate, self.scale, self.elastic_alpha, self.slant))

    @property
    def active(self):
        return self.geometric or any((self.thicken, self.thin))

    def __call__(self, X):
        """A randomly transformed copy of X (N, side*side)."""
        self.calls += 1
        if not self.active or (self.stop_after is not None and self.calls > self.stop_after):
            return X
        n = len(X)
        rng = self.rng

        def uniform(limit):
            return rng.uniform(-limit, limit, n) if limit else 0.0

        angle = np.deg2rad(uniform(self.rotate))
        scale = 1.0 + uniform(self.scale)
        shift_rows, shift_cols = uniform(self.shift), uniform(self.shift)
        disp_rows = disp_cols = None
        if self.elastic_alpha:
            m = self.field_basis  # (side, k)
            k = m.shape[1]
            z = rng.standard_normal((2 * n, k, k), dtype=np.float32)
            # M Z M^T for all 2N fields as two plain matrix products.
            zm = (z.reshape(-1, k) @ m.T).reshape(2 * n, k, self.side)
            field = (m @ zm.transpose(1, 0, 2).reshape(k, -1)).reshape(self.side, 2 * n, self.side)
            field = field.transpose(1, 0, 2) * np.float32(self.elastic_alpha)
            disp_rows, disp_cols = field[:n], field[n:]
        slant = np.deg2rad(uniform(self.slant))
        if self.thicken or self.thin:
            # The pen first, on the sharp original; then the geometry.
            X = stroke_width(X, rng.uniform(-self.thin, self.thicken, n), side=self.side)
        if not self.geometric:
            return X
        return affine_elastic(X, angle, scale, shift_rows, shift_cols, disp_rows, disp_cols,
                              side=self.side, slant=slant).astype(X.dtype, copy=False)


if __name__ == "__main__":
    # Cost per epoch (50,000 images in batches of 128) of each kind of
    # augmentation: python augment.py [batch_size]. The settings take turns,
    # epoch by epoch, so that a change in the machine's load hits all alike.
    import sys
    import time

    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 128
    X = np.random.default_rng(0).random((50000, SIDE * SIDE), dtype=np.float32)
    best = dict(shift=2, rotate=10, scale=0.1, elastic_alpha=15, elastic_sigma=4)
    settings = {"shift 2": dict(shift=2),
                "shift 2, rotate 10, scale 0.1": dict(shift=2, rotate=10, scale=0.1),
                "--preset best (+ elastic 15/4)": best,
                "slant 10 alone": dict(slant=10),
                "stroke width -1.5..+1.5 alone": dict(thin=1.5, thicken=1.5),
                "--preset robust": dict(best, slant=10, thin=1.5, thicken=1.5)}
    augmenters = {name: Augmenter(**kwargs) for name, kwargs in settings.items()}
    times = {name: [] for name in settings}
    for _ in range(5):
        for name, augment in augmenters.items():
            start = time.perf_counter()
            for i in range(0, len(X), batch):
                augment(X[i:i + batch])
            times[name].append(time.perf_counter() - start)
    base = np.median(times["--preset best (+ elastic 15/4)"])
    for name in settings:
        t = np.median(times[name])
        print(f"{name:32s} {t:.2f} s per epoch of {len(X)} images ({t / base:.2f}x best's; "
              f"batch {batch}, median of 5)")
