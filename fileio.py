"""Writing results so that no run ever destroys an earlier one, and the figures' image grids."""
import json
import os
import tempfile

import numpy as np

# The first bytes of an .npz (a zip archive). np.load takes any other file for
# a pickle or a bare .npy and fails with a confusing message, so the loaders
# check these first.
NPZ_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def write_atomically(path, write):
    """Call write(file) on a temporary file beside ``path``, then rename it into
    place: a failure or Ctrl-C halfway leaves the old file untouched, and
    nobody ever sees a half-written one."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.splitext(path)[1])
    try:
        # mkstemp makes the file private (0600); give it the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_json(path, obj, indent=2):
    """``obj`` as JSON text, written atomically (a report every script keeps)."""
    write_atomically(path, lambda f: f.write((json.dumps(obj, indent=indent) + "\n").encode()))


def save_figure(fig, path, dpi=110):
    """A matplotlib figure as a PNG, written atomically; the figure is closed."""
    import matplotlib.pyplot as plt
    write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=dpi))
    plt.close(fig)


def tile(images, cols, gap_x=2, gap_top=0, fill=np.nan):
    """Images (N, h, w) laid out in a grid with ``cols`` columns, as one array.

    Drawing one big image is much faster than one matplotlib subplot per
    image. The gaps are ``fill`` (NaN: drawn as the background). Returns the
    mosaic and the (row, column) of each tile's top-left pixel.
    """
    n, h, w = images.shape
    rows = -(-n // cols)
    pitch_y, pitch_x = h + gap_top, w + gap_x
    mosaic = np.full((rows * pitch_y, cols * pitch_x - gap_x), fill, dtype=np.float64)
    corners = []
    for k, image in enumerate(images):
        top, left = (k // cols) * pitch_y + gap_top, (k % cols) * pitch_x
        mosaic[top:top + h, left:left + w] = image
        corners.append((top, left))
    return mosaic, corners
