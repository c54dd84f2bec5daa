"""Rule: every failure path is checked for what the user sees afterwards.

For each way a write, a request or a reading can fail, what is left: the files
(the old one intact, none half-written, no temporary ``.tmp-*`` file), the
answer (status line, headers, a one-line JSON error, never a traceback), the
log line, and how the reports count it (an image that could not be read is a
miss, never a guess, never skipped).

Paths covered:
  writes     fileio.write_atomically, write_json, save_figure and MLP.save (the
             writers every script uses), each failing half-way and at the
             rename, by an error and by Ctrl-C; train.main failing at each of
             its three outputs
  server     handwriting/serve.py: a body that is not an image, empty,
             truncated, too large, an image too large, a blank image, a model
             that fails on an input (by an error of its own or a ValueError),
             and a good request after all of them
  benchmark  handwriting/benchmark.py main: blank, unreadable and truncated
             images, alone and mixed with readable ones, read by a model that
             would guess right if it were asked
"""
import contextlib
import io
import json
import os
import re
import socket
import threading

import numpy as np
import pytest
from PIL import Image, ImageDraw

import fileio
import train
from handwriting import benchmark, hard, serve
from model import MLP

# Pillow warns about the 100-megapixel image of "too many pixels" (which the server refuses).
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
FAILURES = {"error": OSError("disk full"), "ctrl-c": KeyboardInterrupt()}


# ---- writes -------------------------------------------------------------------------
def write_half_then(failure):
    """A write(file) that writes a few bytes and then fails with ``failure``."""
    def write(f):
        f.write(b"half of it")
        raise failure
    return write


def figure_failing_with(failure, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure()
    monkeypatch.setattr(fig, "savefig", lambda f, **kwargs: write_half_then(failure)(f))
    return fig


WRITERS = {  # name: write(path, failure, monkeypatch), failing half-way
    "write_atomically": lambda path, failure, mp: fileio.write_atomically(
        path, write_half_then(failure)),
    "write_json": lambda path, failure, mp: (
        mp.setattr(fileio.json, "dumps", lambda *a, **k: write_half_then(failure)(io.BytesIO())),
        fileio.write_json(path, {"a": 1})),
    "save_figure": lambda path, failure, mp: fileio.save_figure(
        figure_failing_with(failure, mp), path),
    "MLP.save": lambda path, failure, mp: (
        mp.setattr(np, "savez", lambda f, **arrays: write_half_then(failure)(f)),
        MLP((4, 3, 2)).save(path)),
}
GOOD_WRITES = {
    "write_atomically": lambda path: fileio.write_atomically(path, lambda f: f.write(b"new")),
    "write_json": lambda path: fileio.write_json(path, {"a": 1}),
    "MLP.save": lambda path: MLP((4, 3, 2)).save(path),
}


def assert_left_as_it_was(folder, path, old):
    assert sorted(os.listdir(folder)) == [os.path.basename(path)]  # no .tmp-* left
    assert open(path, "rb").read() == old


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("writer", WRITERS)
def test_a_write_failing_half_way_leaves_the_old_file(tmp_path, monkeypatch, writer, failure):
    path = tmp_path / "result.out"
    path.write_bytes(b"old")
    with pytest.raises(type(FAILURES[failure])):
        WRITERS[writer](str(path), FAILURES[failure], monkeypatch)
    assert_left_as_it_was(tmp_path, path, b"old")


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("writer", GOOD_WRITES)
def test_a_write_failing_at_the_rename_leaves_the_old_file(tmp_path, monkeypatch, writer,
                                                           failure):
    path = tmp_path / "result.out"
    path.write_bytes(b"old")

    def replace(src, dst):
        raise FAILURES[failure]

    monkeypatch.setattr(fileio.os, "replace", replace)
    with pytest.raises(type(FAILURES[failure])):
        GOOD_WRITES[writer](str(path))
    assert_left_as_it_was(tmp_path, path, b"old")
    monkeypatch.undo()
    GOOD_WRITES[writer](str(path))  # and the same write, not failing, does write
    assert open(path, "rb").read() != b"old"


@pytest.mark.parametrize("output, failure", [
    ("loss_curve.png", "error"), ("results.json", "error"), ("model.npz", "error"),
    ("model.npz", "ctrl-c")])  # the last one written: the others new, it old
def test_train_failing_at_an_output_leaves_each_file_old_or_whole(
        quadrants, tmp_path, monkeypatch, output, failure):
    """train.main's outputs, one of them failing as it is put in place: that one
    is the old file, the others old or complete, nothing else in --out; an
    error is one line."""
    out = tmp_path / "out"
    out.mkdir()
    old = {name: f"old {name}".encode()
           for name in ("loss_curve.png", "results.json", "model.npz")}
    for name, content in old.items():
        (out / name).write_bytes(content)
    replace = fileio.os.replace

    def failing_replace(src, dst):
        if os.path.basename(dst) == output:
            raise FAILURES[failure]
        replace(src, dst)

    monkeypatch.setattr(fileio.os, "replace", failing_replace)
    with contextlib.redirect_stdout(io.StringIO()), pytest.raises(
            (SystemExit, KeyboardInterrupt)) as raised:
        train.main(["--data", quadrants, "--val-size", "200", "--hidden", "16",
                    "--epochs", "1", "--out", str(out)])
    if failure == "error":
        message = str(raised.value)
        assert raised.type is SystemExit and message.startswith("error: cannot write")
        assert "\n" not in message
    assert sorted(os.listdir(out)) == sorted(old)
    assert (out / output).read_bytes() == old[output]
    monkeypatch.undo()
    for name in old:
        content = (out / name).read_bytes()
        if content != old[name]:  # written: whole
            if name == "results.json":
                json.loads(content)
            elif name == "model.npz":
                MLP.load(out / name)
            else:
                Image.open(out / name).load()


# ---- the server ------------------------------------------------------------------------
def image_file(array, fmt="PNG"):
    out = io.BytesIO()
    Image.fromarray(array).save(out, fmt)
    return out.getvalue()


def a_drawn_square():
    image = Image.new("L", (120, 120), 255)
    ImageDraw.Draw(image).rectangle([40, 30, 80, 90], outline=0, width=8)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


GOOD = a_drawn_square()
HUGE = io.BytesIO()
Image.new("1", (10000, 10000), 1).save(HUGE, "PNG")  # 100 megapixels in 12 kB


def post(body, headers=None, path="/predict"):
    """The bytes of a POST to ``path`` with ``body``, as a client sends them (one
    request per connection: the answer ends with the connection)."""
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode()
    if headers is None:
        headers = {"Content-Length": str(len(body))}
    head += b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items())
    return head + b"\r\n" + body


FAILING_REQUESTS = {  # name: (request, status)
    "not an image": (post(b"hello"), 400),
    "empty": (post(b""), 400),
    "truncated": (post(GOOD[:60]), 400),
    "blank": (post(image_file(np.full((50, 50), 255, np.uint8))), 422),
    "too many bytes": (post(b"", {"Content-Length": str(serve.MAX_BYTES + 1)}), 413),
    "too many pixels": (post(HUGE.getvalue()), 413),
    "no length": (post(b"", {}), 411),
}
MODEL_FAILURES = {"an error of its own": RuntimeError("the weights are gone"),
                  "a ValueError": ValueError("shapes (1,784) and (100,8) not aligned")}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """serve.DigitServer with an untrained network: failures need no skill."""
    httpd = serve.DigitServer(("127.0.0.1", 0), MLP((784, 8, 10), seed=0))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def exchange(server, request):
    """(status line, headers, body) of the answer to ``request``, read to the
    connection's close."""
    with socket.create_connection(server.server_address[:2], timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    return status, dict(line.split(": ", 1) for line in lines), body


def assert_failure_seen_right(server, capsys, request, status_code):
    """The answer and the log line of a request that fails, then a good request's."""
    capsys.readouterr()
    status, headers, body = exchange(server, request)
    assert re.fullmatch(rf"HTTP/1\.1 {status_code} [A-Z][A-Za-z ]+", status), status
    assert headers["Content-Type"] == "application/json"
    assert headers["Content-Length"] == str(len(body))
    assert headers["Connection"] == "close" and headers["Cache-Control"] == "no-store"
    error = json.loads(body)
    assert list(error) == ["error"] and error["error"]
    assert "\n" not in error["error"] and "Traceback" not in error["error"]
    log = capsys.readouterr().err.splitlines()
    said = [line for line in log if f'" {status_code} {error["error"]}' in line]
    assert len(said) == 1, log  # one line, with the status and the error the user got
    assert not status_code < 500 or len(log) == 1  # a client's error: that line alone
    ok_status, _, ok_body = exchange(server, post(GOOD))
    assert ok_status.startswith("HTTP/1.1 200 ") and "digit" in json.loads(ok_body)


@pytest.mark.parametrize("name", FAILING_REQUESTS)
def test_a_failing_request_is_answered_and_logged_in_one_line(server, capsys, name):
    assert_failure_seen_right(server, capsys, *FAILING_REQUESTS[name])


@pytest.mark.parametrize("path", ["/predict", "/predict?number=1"])
@pytest.mark.parametrize("name", MODEL_FAILURES)
def test_a_model_failing_on_an_input_is_our_500_not_the_clients_fault(
        server, capsys, monkeypatch, name, path):
    """The image was fine; the reading failed on our side: 500, and the log
    has what happened."""
    forward = server.model.forward

    def failing_forward(X, train=False):
        monkeypatch.setattr(server.model, "forward", forward)  # this request only
        raise MODEL_FAILURES[name]

    monkeypatch.setattr(server.model, "forward", failing_forward)
    assert_failure_seen_right(server, capsys, post(GOOD, path=path), 500)


# ---- the benchmark ------------------------------------------------------------------------
def always_zero_model(path):
    """A network that reads every image, even a blank one, as 0."""
    model = MLP((784, 4, 10), seed=0)
    model.params["b2"][:] = 0
    model.params["b2"][0] = 50
    model.save(path)


def encoded(image, fmt="PNG"):
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    buffer.seek(0)
    return buffer


def fake_images(per_digit, seed):
    """Every image is of a 0, so guessing 0 for one that could not be read
    would be a hit: readable, blank, unreadable, truncated, and a row of both."""
    square = Image.open(io.BytesIO(GOOD)).convert("L")
    blank = Image.new("L", (60, 60), 255)
    garbage = io.BytesIO(b"this is not an image")
    truncated = io.BytesIO(GOOD[:60])
    yield from [("readable", 0, encoded(square), square)] * 3
    yield from [("blank", 0, encoded(blank), blank)] * 2
    yield from [("unreadable", 0, garbage, square), ("unreadable", 0, truncated, square)]
    yield from [("mixed", 0, encoded(square), square), ("mixed", 0, encoded(blank), blank),
                ("mixed", 0, garbage, square), ("mixed", 0, encoded(square), square)]


def test_benchmark_counts_an_image_it_could_not_read_as_a_miss(tmp_path, monkeypatch):
    always_zero_model(tmp_path / "zero.npz")
    monkeypatch.setattr(benchmark, "MODELS", [("zero", str(tmp_path / "zero.npz"))])
    monkeypatch.setattr(benchmark, "generate", fake_images)
    hand = hard.Hand("normal", "medium", 1.0, 0.0, 0.1, 1.0, 0.0)
    monkeypatch.setattr(benchmark, "sample_picture", lambda path, *args, **kwargs: None)
    monkeypatch.setattr(hard, "generate", lambda per_style, seed: [
        hard.Sample(condition, "0 plain", hand, digit, data, image)
        for condition, digit, data, image in fake_images(per_style, seed)])
    with contextlib.redirect_stdout(io.StringIO()):
        benchmark.main(["--out", str(tmp_path)])  # both tiers
    report = json.loads((tmp_path / "handwriting.json").read_text())
    assert report["images"] == 11
    assert report["accuracy"]["zero"] == {"readable": 1.0, "blank": 0.0, "unreadable": 0.0,
                                          "mixed": 0.5}
    assert report["confusions"]["zero"] == [[0, -1, 6]]  # refused: -1
    assert "0 as refused (6)" in (tmp_path / "handwriting.md").read_text()
    hard_report = json.loads((tmp_path / "handwriting_hard.json").read_text())
    assert hard_report["images"] == 11
    assert hard_report["overall"]["zero"] == 5 / 11
    assert hard_report["accuracy"]["zero"]["condition"] == report["accuracy"]["zero"]
