"""The classic classifiers before the network, in NumPy: k-nearest neighbours,
a linear SVM and a softmax classifier (see knn.py and linear.py)."""
from .knn import KNearestNeighbor
from .linear import LinearClassifier, LinearSVM, Softmax

__all__ = ["KNearestNeighbor", "LinearClassifier", "LinearSVM", "Softmax"]
