"""Data augmentation for MNIST digits, a whole batch at a time.

Each training batch is redrawn slightly differently every epoch: moved a pixel
or two, turned a few degrees, made a little larger or smaller, and bent by an
elastic distortion (Simard, Steinkraus & Platt, 2003). The network then sees
many plausible variants of each digit instead of memorising 50,000 fixed ones.

All of it is one geometric operation. For every output pixel p we compute the
point of the input image it comes from,

    source(p) = centre + A^-1 (p - centre) - shift + alpha * smooth(noise)(p)

and read the input there by bilinear interpolation (a weighted mean of the 4
surrounding pixels; outside the image counts as 0, the background). A is a
rotation times a scaling. All N images are handled by the same array
operations, with no Python loop over images.

    augment = Augmenter(shift=2, rotate=10, scale=0.1, seed=0)
    X_batch = augment(X_batch)          # (N, 784) -> (N, 784), same dtype
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
                   disp_rows=None, disp_cols=None, side=SIDE):
    """Transform flattened images X (N, side*side), each by its own parameters.

    angle (radians, counter-clockwise), scale (> 1 enlarges), shift_rows and
    shift_cols (pixels, down and right): scalars or arrays of shape (N,).
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
    angle, scale, shift_rows, shift_cols = (
        np.broadcast_to(np.asarray(v, dtype=f), (n,))[:, None, None]
        for v in (angle, scale, shift_rows, shift_cols))
    # Inverse map: undo the scaling and turn back by -angle (rows point down,
    # so a counter-clockwise turn on screen is this sign pattern).
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    rows = cos * pr + sin * pc + f(centre) - shift_rows
    cols = -sin * pr + cos * pc + f(centre) - shift_cols
    if disp_rows is not None:
        rows = rows + disp_rows
        cols = cols + disp_cols
    out = warp(X.reshape(n, side, side), rows, cols)
    return out.reshape(n, side * side)


class Augmenter:
    """Random shifts, rotations, scalings and elastic distortions, per batch.

    shift: largest shift in pixels (uniform in [-shift, shift], each axis)
    rotate: largest rotation in degrees (uniform in [-rotate, rotate])
    scale: largest relative size change (factor uniform in [1-scale, 1+scale])
    elastic_alpha, elastic_sigma: Simard's elastic distortion: every pixel's
        source point moves by alpha * (uniform(-1, 1) noise smoothed by a
        Gaussian of std sigma). Simard used alpha 34, sigma 4; 0 turns it off.
    seed: the augmenter's own random generator, so runs repeat exactly.
    stop_after: transform this many batches (calls), then pass batches through
        unchanged: training can end on clean images, the kind it is tested on.
    """

    def __init__(self, shift=0.0, rotate=0.0, scale=0.0, elastic_alpha=0.0,
                 elastic_sigma=4.0, seed=0, side=SIDE, stop_after=None):
        if min(shift, rotate, scale, elastic_alpha) < 0 or not 0 <= scale < 1:
            raise ValueError("augmentation strengths must be >= 0 (and scale < 1)")
        if elastic_alpha > 0 and not elastic_sigma > 0:
            raise ValueError("elastic_sigma must be > 0")
        self.shift, self.rotate, self.scale = float(shift), float(rotate), float(scale)
        self.elastic_alpha, self.elastic_sigma = float(elastic_alpha), float(elastic_sigma)
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
    def active(self):
        return any((self.shift, self.rotate, self.scale, self.elastic_alpha))

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
        return affine_elastic(X, angle, scale, shift_rows, shift_cols,
                              disp_rows, disp_cols, side=self.side).astype(X.dtype, copy=False)


if __name__ == "__main__":
    # Cost per epoch (50,000 images in batches of 64) of each kind of
    # augmentation: python augment.py [batch_size]
    import sys
    import time

    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    X = np.random.default_rng(0).random((50000, SIDE * SIDE), dtype=np.float32)
    settings = {"shift 2": dict(shift=2),
                "shift 2, rotate 10, scale 0.1": dict(shift=2, rotate=10, scale=0.1),
                "+ elastic alpha 34 sigma 4": dict(shift=2, rotate=10, scale=0.1,
                                                  elastic_alpha=34, elastic_sigma=4)}
    for name, kwargs in settings.items():
        augment = Augmenter(**kwargs)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            for i in range(0, len(X), batch):
                augment(X[i:i + batch])
            times.append(time.perf_counter() - start)
        print(f"{name:32s} {np.median(times):.2f} s per epoch of {len(X)} images "
              f"(batch {batch}, median of 3)")
