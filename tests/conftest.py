"""Shared fixtures. Tests that need the real MNIST read its path from MNIST_DATA
(CI sets it to ../shared/mnist/mnist.npz)."""
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


@pytest.fixture(scope="session")
def mnist_path():
    path = os.environ.get("MNIST_DATA")
    if not path:
        pytest.fail("set MNIST_DATA to a local MNIST (e.g. ../shared/mnist/mnist.npz)")
    return path


@pytest.fixture(scope="session")
def mnist(mnist_path):
    """(train, val, test) as prepared by train.py: float32 in [0, 1], flattened."""
    from data import load_mnist, prepare
    return prepare(load_mnist(mnist_path), val_size=10000)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
