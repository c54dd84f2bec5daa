"""Loading: the .npz and the IDX files give the same arrays; bad files give DataError."""
import gzip
import os
import sys
import types

import numpy as np
import pytest

from data import DataError, load_mnist, prepare, read_idx


def test_npz_and_idx_give_identical_arrays(mnist_path, mnist_idx_folder):
    from_npz = load_mnist(mnist_path)
    from_idx = load_mnist(mnist_idx_folder)
    for a, b in zip(from_npz, from_idx):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    assert from_npz[0].shape == (60000, 28, 28) and from_npz[3].shape == (10000,)


def test_uncompressed_idx_and_dotted_names(tmp_path, mnist_path, mnist_idx_folder):
    """Some copies are not gzipped or are named train-images.idx3-ubyte."""
    src = mnist_idx_folder
    for name in os.listdir(src):
        if name.endswith("-ubyte.gz"):
            target = name[:-3].replace("-idx", ".idx") if "t10k" in name else name[:-3]
            with gzip.open(os.path.join(src, name)) as f, open(tmp_path / target, "wb") as g:
                g.write(f.read())
    for a, b in zip(load_mnist(str(tmp_path)), load_mnist(mnist_path)):
        np.testing.assert_array_equal(a, b)


def test_prepare_scales_and_splits(mnist_path):
    data = load_mnist(mnist_path)
    (X, y), (Xv, yv), (Xt, yt) = prepare(data, val_size=10000)
    assert X.dtype == np.float32 and X.shape == (50000, 784)
    assert 0 <= X.min() and X.max() == 1
    np.testing.assert_array_equal(Xv[0], data[0][50000].reshape(-1) / np.float32(255))
    assert len(Xt) == len(yt) == 10000
    # The test images scaled like the training images (a ReLU network's argmax barely
    # changes when its input is 255 times larger, so accuracy alone would not show it).
    assert Xt.dtype == np.float32 and 0 <= Xt.min() and Xt.max() == 1
    np.testing.assert_array_equal(Xt, data[2].reshape(10000, -1) / np.float32(255))


def test_truncated_idx_file_is_a_clear_error(tmp_path):
    header = bytes([0, 0, 8, 3]) + np.array([10, 28, 28], ">u4").tobytes()
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(header + bytes(28 * 28 * 10 - 5))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*truncated"):
        read_idx(str(path))


def test_not_an_npz_is_a_clear_error(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(b"this is not a zip file")
    with pytest.raises(DataError, match="mnist.npz"):
        load_mnist(str(path))


def test_labels_out_of_range(tmp_path):
    x = np.zeros((5, 28, 28), np.uint8)
    np.savez(tmp_path / "bad.npz", x_train=x, y_train=np.array([0, 1, 2, 3, 10]),
             x_test=x, y_test=np.zeros(5, np.uint8))
    with pytest.raises(DataError, match="labels must be in 0..9"):
        load_mnist(str(tmp_path / "bad.npz"))


def fake_keras_load_data(monkeypatch, result):
    """Stand in for tensorflow.keras.datasets.mnist.load_data (no network here or
    in CI): a stand-in ``tensorflow`` module, as importing the real one takes
    seconds (tests/test_baseline.py, marked slow, imports it)."""
    def load_data():
        if isinstance(result, Exception):
            raise result
        return result
    mnist = types.SimpleNamespace(load_data=load_data)
    keras = types.SimpleNamespace(datasets=types.SimpleNamespace(mnist=mnist))
    monkeypatch.setitem(sys.modules, "tensorflow", types.SimpleNamespace(keras=keras))


def test_default_path_goes_through_keras(monkeypatch, mnist_path):
    x_train, y_train, x_test, y_test = load_mnist(mnist_path)
    fake_keras_load_data(monkeypatch, ((x_train, y_train), (x_test, y_test)))
    for a, b in zip(load_mnist(None), (x_train, y_train, x_test, y_test)):
        np.testing.assert_array_equal(a, b)


def test_keras_without_network_is_a_clear_error(monkeypatch):
    fake_keras_load_data(monkeypatch, OSError("Temporary failure in name resolution"))
    with pytest.raises(DataError, match=r"could not download MNIST.*--data PATH.*MNIST_DATA"):
        load_mnist(None)
