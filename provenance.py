"""Where a figure came from: the software, the machine, the data and the code.

train.py (results.json), experiments/evaluate.py (evaluation.json) and experiments/speed.py (its
report) record ``environment(data_path)``, so that a reader whose numbers differ
from ours can see why. The same seed on the same machine and software gives
bit-identical results; another CPU or BLAS build rounds the matrix products
differently, which changes the path of training by about seed-level noise.

Everything here reads what is already on the machine (the standard library,
NumPy's build information, the loaded BLAS library, git if it is installed)
and never fails: what cannot be found is recorded as None.
"""
import ctypes
import hashlib
import os
import platform
import subprocess
import sys

from cli import openblas_function

HERE = os.path.dirname(os.path.abspath(__file__))
# Where keras.datasets.mnist.load_data() keeps its download.
KERAS_MNIST = os.path.join(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")),
                           "datasets", "mnist.npz")


def environment(data_path=None):
    """A JSON-ready dict: python, numpy, blas, cpu, threads, data, git."""
    import numpy as np
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas_info(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "data": data_info(data_path),
        "git": git_info(),
    }


def sha256_file(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def data_info(path):
    """The kind of data source and the SHA-256 of each file it was read from.

    ``sha256`` maps each file name to its hash: the .npz itself, or each IDX
    file of a folder (as found there, gzipped or not), or keras' cached
    mnist.npz when the data came through keras. The hashes say which data it
    was; the folder it sat in on one machine would not (and is not recorded).
    """
    if path is None:
        source, files = "keras.datasets.mnist", [KERAS_MNIST]
    elif os.path.isdir(path):
        from data import IDX_NAMES
        source = "a folder of IDX files"
        names = [n + ext for stem in IDX_NAMES.values()
                 for n in (stem, stem.replace("-idx", ".idx")) for ext in ("", ".gz")]
        files = [os.path.join(path, n) for n in names]
    else:
        source, files = "an .npz file", [path]
    sha256 = {}
    for file in files:
        try:
            sha256[os.path.basename(file)] = sha256_file(file)
        except OSError:  # absent (keras cache elsewhere, the other IDX spelling)
            pass
    return {"source": source, "sha256": sha256 or None}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or None


def blas_info():
    """NumPy's BLAS: its name and version as built (numpy.show_config), and, when it
    is OpenBLAS, what the loaded library says at run time: the CPU kernel it chose
    (the same build picks different kernels on different CPUs, and so rounds
    differently) and its number of threads."""
    import numpy as np
    info = {"name": None, "version": None, "config": None, "threads": None}
    try:
        built = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info.update(name=built.get("name"), version=built.get("version"))
    except Exception:  # older NumPy, or another layout of show_config
        pass
    config, threads = openblas_function("get_config"), openblas_function("get_num_threads")
    if config is not None and threads is not None:
        config.restype = ctypes.c_char_p
        info["config"] = config().decode(errors="replace").strip()
        info["threads"] = int(threads())
    return info


def git_info():
    """{"commit": ..., "dirty": bool} of the project's checkout, or None outside one.
    "dirty": tracked files differ from the commit (untracked ones do not count)."""
    def git(*args):
        return subprocess.run(["git", "-C", HERE, *args], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def weights_sha256(params):
    """SHA-256 of a model's arrays (name, dtype, shape and bytes, in name order):
    the same trained weights give the same digest, whatever file they are in.
    results.json records it, and experiments/evaluate.py checks that a results.json belongs
    to the model it evaluates."""
    import numpy as np
    digest = hashlib.sha256()
    for name in sorted(params):
        array = np.ascontiguousarray(params[name])
        digest.update(f"{name} {array.dtype.str} {array.shape}\n".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def summary(env):
    """One line for a report: 'AMD EPYC, 2 cores; Python 3.11.7, NumPy 2.4.6, ...'."""
    blas = env["blas"]
    blas_text = " ".join(str(v) for v in (blas["name"], blas["version"]) if v)
    if blas["threads"] is not None:
        blas_text += f" ({blas['threads']} thread{'s' if blas['threads'] != 1 else ''})"
    git = env["git"]
    code = (f"commit {git['commit'][:12]}{' + uncommitted changes' if git['dirty'] else ''}"
            if git else "not a git checkout")
    return (f"{env['cpu']}, {env['cpu_count']} cores; Python {env['python']}, "
            f"NumPy {env['numpy']}, {blas_text or 'BLAS unknown'}; {code}")


if __name__ == "__main__":  # python provenance.py [DATA]: what a run here would record
    import json
    print(json.dumps(environment(sys.argv[1] if len(sys.argv) > 1 else None), indent=2))
