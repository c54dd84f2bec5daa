"""The command-line plumbing every script shares, and nothing else.

    from cli import HelpFormatter, positive_int, check_writable, single_blas_thread

- argparse types that say what they want ("must be a positive integer, got '0'");
- a help formatter that shows every flag's default;
- a check that an output folder can be written, made before the work, not after it;
- one BLAS thread, which each script's ``main`` asks for first.

Importing this module changes nothing: no environment variable, no thread count.
"""
import argparse
import contextlib
import ctypes
import functools
import math
import os
import tempfile

from data import DataError


# ---- argparse types ------------------------------------------------------------
def checked(convert, ok, wanted):
    """An argparse type: convert(text), then require ok(value). Either failing
    gives the same argparse error, "must be <wanted>, got <text>"."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        return value
    parse.__name__ = wanted  # argparse names the type in some messages
    return parse


positive_int = checked(int, lambda v: v > 0, "a positive integer")
non_negative_int = checked(int, lambda v: v >= 0, "an integer >= 0")
positive_float = checked(float, lambda v: 0 < v < math.inf, "a positive number")
non_negative_float = checked(float, lambda v: 0 <= v < math.inf, "a number >= 0")
fraction = checked(float, lambda v: 0 <= v < 1, "a number in [0, 1)")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, unless its help already says it or there is none
    (None, or False for a switch). A default of 0 is shown: ``0 in (None, False)``
    is True in Python, which once hid --seed 0, --l2 0 and --warmup 0."""

    def _get_help_string(self, action):
        if ("(default" in (action.help or "") or action.default is None
                or action.default is False):
            return action.help
        return super()._get_help_string(action)


def make_parser(description, spec=None):
    """The ArgumentParser of a script: every flag's default in --help, and usage and
    errors that name the command as it is typed. Pass the script's ``__spec__``: for
    a script in a folder it gives "python -m experiments.tune" (the file's name,
    tune.py, is not what a user can run); None for a script at the top."""
    prog = f"python -m {spec.name}" if spec is not None and "." in spec.name else None
    return argparse.ArgumentParser(prog=prog, description=description,
                                   formatter_class=HelpFormatter)


# ---- outputs -------------------------------------------------------------------
def check_writable(folder, flag="--out"):
    """Fail before the work, not after it, if the results cannot be written;
    the message names the folder's command-line ``flag``."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise DataError(f"{flag} {folder}: is a file, not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise DataError(f"{flag} {folder}: cannot write there ({e.strerror})") from None


def report_folders(out=None):
    """(reports, images): where a benchmark writes its report and its pictures, the
    project's docs/reports and docs/images (which the docs pages link), or both to
    ``out`` (--out); each checked as check_writable does, before the work starts."""
    root = os.path.dirname(os.path.abspath(__file__))
    folders = (out or os.path.join(root, "docs", "reports"),
               out or os.path.join(root, "docs", "images"))
    for folder in folders:
        check_writable(folder)
    return folders


# ---- the machine ---------------------------------------------------------------
# $OPENBLAS_NUM_THREADS as the user set it ("" if not), once single_blas_thread ran.
USER_BLAS_THREADS = None


def single_blas_thread():
    """One BLAS thread, unless $OPENBLAS_NUM_THREADS says otherwise.

    The matrix products of a batch of 64 are too small to gain from a second
    thread, which then mostly waits; on a busy machine it makes an epoch several
    times slower (experiments/speed.py measures both). Called by each script's
    ``main``, so importing a module never changes it. NumPy and SciPy may be
    loaded already, each with an OpenBLAS of its own: NumPy's, for the matrix
    products, is told directly, and SciPy's, for the optimizer's axpy, keeps
    one thread (vector_blas_on_one_thread); the environment variable is set for
    the child processes a script starts and for an OpenBLAS loaded later.
    """
    global USER_BLAS_THREADS
    if USER_BLAS_THREADS is None:  # the first call sees what the user set, if anything
        USER_BLAS_THREADS = os.environ.get("OPENBLAS_NUM_THREADS") or ""
    wanted = USER_BLAS_THREADS or "1"
    os.environ["OPENBLAS_NUM_THREADS"] = wanted
    set_threads = openblas_function("set_num_threads")
    if wanted.isdigit() and set_threads is not None:
        set_threads(int(wanted))
    vector_blas_on_one_thread()


@contextlib.contextmanager
def blas_threads_for_big_products():
    """Within the block, NumPy's OpenBLAS may use every core; then one thread again.

    For products of thousands of rows, such as a pass over the 10,000
    validation images (26 -> 17 ms on 2 cores), where a second thread has
    enough work to pay for itself; under load from other programs it is no
    slower. $OPENBLAS_NUM_THREADS, when the user set it, still wins.
    """
    get_threads, set_threads = (openblas_function(name)
                                for name in ("get_num_threads", "set_num_threads"))
    if get_threads is None or set_threads is None or USER_BLAS_THREADS:
        yield
        return
    before = get_threads()
    set_threads(os.cpu_count() or 1)
    try:
        yield
    finally:
        set_threads(before)


def vector_blas_on_one_thread():
    """Every OpenBLAS this process loaded besides NumPy's (SciPy's, behind the
    optimizer's scal and axpy) on one thread, whatever $OPENBLAS_NUM_THREADS says.

    Two OpenBLAS libraries each keep their own pool of threads, and an idle
    thread of one spins for a while, holding a core, before it sleeps. With 2
    threads in both on 2 cores, each library's threads waited for cores the
    other's were spinning on: training with OPENBLAS_NUM_THREADS=2 took 10 s an
    epoch, and 0.66 s with SciPy's on one thread (AMD EPYC; the weights are
    the same). A vector of 100,352 floats is too little work for a second
    thread anyway: SciPy's on 2 and NumPy's on 1 took 0.8-1.0 s an epoch.
    """
    for library in loaded_openblas()[1:]:
        set_threads = openblas_function("set_num_threads", library)
        if set_threads is not None:
            set_threads(1)


def loaded_openblas():
    """The OpenBLAS libraries this process has loaded (Linux: found in
    /proc/self/maps), NumPy's first (the one behind its matrix products)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:
        return []
    libraries = []
    for path in sorted((p for p in paths if ".so" in os.path.basename(p)),
                       key=lambda p: "numpy" not in p):
        try:
            libraries.append(ctypes.CDLL(path))
        except OSError:
            pass
    return libraries


@functools.cache
def numpy_openblas():
    """NumPy's OpenBLAS (loaded_openblas' first), or None; looked up once, since
    NumPy loaded it on import and it stays (the validation pass asks each epoch)."""
    return (loaded_openblas() or [None])[0]


def openblas_function(name, library=None):
    """The function ``name`` (e.g. "get_config") of an OpenBLAS this process has
    loaded (``library``, by default NumPy's), or None. NumPy's and SciPy's own
    builds prefix and suffix the names (scipy_openblas_get_config64_), a system
    one does not."""
    if library is None:
        library = numpy_openblas()
    if library is None:
        return None
    for prefix in ("scipy_openblas", "openblas"):
        for suffix in ("64_", ""):
            function = getattr(library, f"{prefix}_{name}{suffix}", None)
            if function is not None:
                return function
    return None
