"""Loading MNIST: through keras, from a keras-layout .npz, or from IDX files.

Every loader returns (x_train, y_train, x_test, y_test) as NumPy arrays,
images (N, rows, cols) uint8 and labels (N,) integers, checked by
``validate``. Problems raise DataError with one line that names the file.
"""
import gzip
import io
import math
import os
import zipfile
import zlib

import numpy as np

from fileio import NPZ_MAGIC

# The four IDX files of MNIST. Some copies spell them with a dot before "idx".
IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
# IDX type codes (the third byte of the magic number) -> big-endian dtypes.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


NUM_CLASSES = 10  # MNIST's digits
DIGITS = [str(c) for c in range(NUM_CLASSES)]  # their names, the default class names


class DataError(Exception):
    """The data could not be loaded; the message says which file and why."""


# The --data flag of every script.
DATA_HELP = ("a local MNIST: a keras-layout .npz or a folder of the four IDX files "
             "(default: $MNIST_DATA, else download through keras)")


def default_data_path():
    """$MNIST_DATA, the default of every script's --data. Empty counts as unset
    (as for most shell variables): ``MNIST_DATA= python train.py`` uses keras."""
    return os.environ.get("MNIST_DATA") or None


def load_mnist(path=None, num_classes=10):
    """MNIST from ``path`` (an .npz file or a folder of IDX files), or through
    keras when path is None."""
    if path == "":
        raise DataError("the data path is empty: give a keras-layout .npz or a folder of "
                        "IDX files, or leave --data out to download MNIST through keras")
    if path is None:
        data = load_keras()
        path = "keras.datasets.mnist"
    elif os.path.isdir(path):
        data = load_idx_folder(path)
    elif os.path.isfile(path):
        data = load_npz(path)
    else:
        raise DataError(f"{path}: no such file or folder")
    validate(data, path, num_classes)
    return data


def load_keras():
    """keras.datasets.mnist.load_data(), which downloads MNIST on first use."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no TensorFlow start-up chatter
    try:
        from tensorflow import keras
    except ImportError:
        raise DataError("TensorFlow is not installed, so keras cannot load MNIST: "
                        "pip install -r requirements.txt, or pass --data PATH") from None
    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as e:
        raise DataError(f"keras could not download MNIST ({type(e).__name__}; no network?): "
                        "pass --data PATH to a local mnist.npz or folder of IDX files, "
                        "or set MNIST_DATA") from None
    return x_train, y_train, x_test, y_test


def load_npz(path):
    """A keras-layout mnist.npz: arrays x_train, y_train, x_test, y_test."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None
    if magic not in NPZ_MAGIC:
        if magic[:2] == b"\x00\x00" or magic[:2] == b"\x1f\x8b":
            hint = "it looks like a single IDX file: pass the folder that holds all four"
        else:
            hint = "--data takes a keras-layout mnist.npz or a folder of the four IDX files"
        raise DataError(f"{path}: not an .npz file (no zip header); {hint}")
    try:
        # Each array is inflated by one zlib call on the whole member, which runs
        # outside Python's GIL (np.load inflates 256 KB at a time, taking the GIL
        # back between pieces): train.py imports matplotlib meanwhile.
        with zipfile.ZipFile(path) as archive:
            members = {name[:-len(".npy")]: name for name in archive.namelist()
                       if name.endswith(".npy")}
            missing = [k for k in IDX_NAMES if k not in members]
            if missing:
                raise DataError(f"{path}: missing array(s) {', '.join(missing)}; expected "
                                "x_train, y_train, x_test, y_test as in keras' mnist.npz")
            raw = {k: archive.read(members[k]) for k in IDX_NAMES}
        for key, data in raw.items():
            if not data.startswith(b"\x93NUMPY"):  # the .npy format's magic string
                raise DataError(f"{path}: {key} is not a NumPy array (.npy) inside the archive")
        arrays = tuple(np.load(io.BytesIO(raw[k]), allow_pickle=False) for k in IDX_NAMES)
    except DataError:
        raise
    except Exception as e:  # zipfile, zlib, format and OS errors all mean the same here
        raise DataError(f"{path}: not a readable .npz file, truncated or corrupt? "
                        f"({type(e).__name__}: {e})") from None
    return arrays


def load_idx_folder(folder):
    """The four MNIST IDX files in ``folder``, gzipped or not."""
    arrays = []
    for key, name in IDX_NAMES.items():
        alt = name.replace("-idx", ".idx")
        candidates = [os.path.join(folder, n + ext) for n in (name, alt) for ext in ("", ".gz")]
        found = [c for c in candidates if os.path.isfile(c)]
        if not found:
            raise DataError(f"{folder}: no {name}[.gz] in this folder (it needs the four "
                            f"MNIST IDX files: {', '.join(IDX_NAMES.values())})")
        arrays.append(read_idx(found[0]))
    return tuple(arrays)


def read_idx(path):
    """One IDX file (gzipped or not) as an array of its shape and type.

    Format: two zero bytes, a type code, the number of dimensions n, then n
    big-endian int32 sizes, then the data, big-endian, row-major.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":  # the gzip magic number
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
        raise DataError(f"{path}: cannot read ({type(e).__name__}: {e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: IDX header truncated or empty (ndim {ndim})")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, offset=4))
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if len(raw) - header != expected:
        raise DataError(f"{path}: IDX data is {len(raw) - header} bytes, but the header "
                        f"promises shape {shape} = {expected} bytes (truncated or corrupt?)")
    try:
        array = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    except ValueError as e:  # more than 64 dimensions, or a size NumPy cannot hold
        more = "..." if ndim > 8 else ""
        raise DataError(f"{path}: IDX header promises shape {shape[:8]}{more}, "
                        f"which NumPy cannot hold ({e})") from None
    return array.astype(dtype.newbyteorder("="))


def validate(data, source, num_classes=10):
    """Check shapes, dtypes, label range and counts; raise DataError if wrong."""
    x_train, y_train, x_test, y_test = data
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim != 3 or x.dtype != np.uint8:
            raise DataError(f"{source}: {name} images must be (N, rows, cols) uint8, "
                            f"got shape {x.shape} {x.dtype}")
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{source}: {name} labels must be (N,) integers, "
                            f"got shape {y.shape} {y.dtype}")
        if len(x) != len(y):
            raise DataError(f"{source}: {len(x)} {name} images but {len(y)} {name} labels")
        if len(y) == 0:
            raise DataError(f"{source}: the {name} set is empty")
        if y.min() < 0 or y.max() >= num_classes:
            raise DataError(f"{source}: {name} labels must be in 0..{num_classes - 1}, "
                            f"found {y.min()}..{y.max()}")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(f"{source}: train images are {x_train.shape[1:]} "
                        f"but test images {x_test.shape[1:]}")


# The validation set every script holds out by default: the last 10,000 training images.
VAL_SIZE = 10000


def prepare(data, val_size, source="the data"):
    """Flatten, scale to [0, 1] float32, hold out the last ``val_size`` training
    images for validation. Returns (X_train, y_train), (X_val, y_val), (X_test, y_test)."""
    x_train, y_train, x_test, y_test = data
    if not 0 <= val_size < len(x_train):
        raise DataError(f"{source}: --val-size {val_size} leaves no training data "
                        f"(the training set has {len(x_train)} images)")

    def scale(x):
        flat = x.reshape(len(x), -1).astype(np.float32)
        flat /= np.float32(255)  # in place: the same numbers, one 190 MB array fewer
        return flat

    X, X_test = scale(x_train), scale(x_test)
    y, y_test = y_train.astype(np.int64), y_test.astype(np.int64)
    n = len(X) - val_size
    return (X[:n], y[:n]), (X[n:], y[n:]), (X_test, y_test)
