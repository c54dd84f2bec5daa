"""Reading people's handwriting with the trained network.

preprocess.py turns a photo into an MNIST-like 28x28 image, numbers.py finds
the digits of a whole number, read.py reads them (the library behind
predict.py), serve.py is the drawing page and its API, benchmark.py,
numbers_benchmark.py and strokes.py measure how well digits and numbers that
are not MNIST's are read. robust/ holds the model they read with by default. Run the scripts from
the project's folder as modules: ``python -m handwriting.serve``.
"""
