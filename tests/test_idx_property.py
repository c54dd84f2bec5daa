"""Property: on any bytes at all, read_idx returns the right array or raises
DataError with one line naming the file; never another exception.

"Right" is decided by a second, independent reading of the format written
here with struct (no shared code with data.py), so the property also catches
a read_idx that accepts a bad file or returns the wrong numbers.
"""
import gzip
import os
import struct
import tempfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data import DataError, read_idx

# IDX type codes -> (struct letter, NumPy dtype), from the format's description.
TYPES = {0x08: ("B", np.uint8), 0x09: ("b", np.int8), 0x0B: ("h", np.int16),
         0x0C: ("i", np.int32), 0x0D: ("f", np.float32), 0x0E: ("d", np.float64)}


EITHER = "valid, but more than NumPy can hold"


def reference_read(raw):
    """The array an IDX file holds, read with struct; None if it is not a valid
    one; EITHER if it is valid but NumPy cannot make such an array (more than
    32 dimensions, or a zero-size array whose other sizes overflow)."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error):
            return None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in TYPES or raw[3] == 0:
        return None
    letter, dtype = TYPES[raw[2]]
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        return None
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    count = 1
    for size in shape:
        count *= size
    body = raw[4 + 4 * ndim:]
    if len(body) != count * struct.calcsize(letter):
        return None
    if ndim > 32:  # NumPy 1 allows 32 dimensions, NumPy 2 allows 64
        return EITHER
    values = struct.unpack(f">{count}{letter}", body)
    try:
        return np.array(values, dtype=dtype).reshape(shape)
    except ValueError:
        return EITHER


@st.composite
def idx_files(draw):
    """Valid IDX files of small random shapes and types, then maybe damaged, maybe gzipped."""
    code = draw(st.sampled_from(sorted(TYPES)))
    letter, dtype = TYPES[code]
    shape = draw(st.lists(st.integers(0, 5), min_size=1, max_size=4))
    count = int(np.prod(shape))
    body = draw(st.binary(min_size=count * np.dtype(dtype).itemsize,
                          max_size=count * np.dtype(dtype).itemsize))
    raw = bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + body
    damage = draw(st.sampled_from(["none", "truncate", "append", "overwrite", "header"]))
    if damage == "truncate":
        raw = raw[:draw(st.integers(0, max(len(raw) - 1, 0)))]
    elif damage == "append":
        raw += draw(st.binary(min_size=1, max_size=8))
    elif damage == "overwrite":
        at = draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at + 1:]
    elif damage == "header":  # random sizes, possibly huge or many
        ndim = draw(st.integers(0, 255))
        sizes = draw(st.lists(st.integers(0, 2**32 - 1), min_size=ndim, max_size=ndim))
        raw = bytes([0, 0, code, ndim]) + struct.pack(f">{ndim}I", *sizes) + body
    if draw(st.booleans()):
        raw = gzip.compress(raw)
        if draw(st.booleans()):  # a truncated or damaged download
            cut = draw(st.integers(0, len(raw)))
            raw = raw[:cut] + draw(st.binary(max_size=4))
    return raw


@pytest.fixture(scope="module")
def idx_path():
    with tempfile.TemporaryDirectory() as folder:
        yield os.path.join(folder, "train-images-idx3-ubyte")


def check(path, raw):
    with open(path, "wb") as f:
        f.write(raw)
    expected = reference_read(raw)
    try:
        array = read_idx(path)
    except DataError as e:
        message = str(e)
        assert message.startswith(path + ": ") and "\n" not in message, message
        assert expected is None or expected is EITHER, f"valid file refused: {message}"
        return
    assert expected is not None, "an invalid file was accepted"
    if expected is EITHER:
        return
    assert array.dtype == expected.dtype and array.dtype.isnative
    assert array.shape == expected.shape
    np.testing.assert_array_equal(array, expected)  # NaN == NaN here: same bits read


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=idx_files())
def test_idx_files_valid_damaged_or_gzipped(idx_path, raw):
    check(idx_path, raw)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=64),
       magic=st.tuples(st.sampled_from(sorted(TYPES)) | st.integers(0, 255), st.integers(0, 255)))
def test_random_bytes(idx_path, raw, magic):
    check(idx_path, raw)  # almost never an IDX file
    check(idx_path, bytes([0, 0, *magic]) + raw)  # a plausible start, then anything


def test_the_reference_reader_agrees_on_a_known_file(idx_path):
    """Anchor: a hand-written file, so the property is not vacuous."""
    raw = bytes([0, 0, 0x0B, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + struct.pack(">6h", 1, -2, 3, -4, 5, 300)
    expected = np.array([[1, -2, 3], [-4, 5, 300]], np.int16)
    np.testing.assert_array_equal(reference_read(raw), expected)
    check(idx_path, raw)
    check(idx_path, gzip.compress(raw))
    assert reference_read(raw[:-1]) is None
    with open(idx_path, "wb") as f:
        f.write(raw[:-1])
    with pytest.raises(DataError, match="truncated"):
        read_idx(idx_path)
