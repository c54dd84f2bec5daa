"""Writing results so that no run ever destroys an earlier one."""
import json
import os
import tempfile

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
