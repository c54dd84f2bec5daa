"""handwriting/serve.py: the HTTP API from pytest, and the page in a real browser.

The server reads digits with a network that ``python train.py --epochs 3`` trains
here (a few seconds; about 97 % on MNIST's test set), not with the shipped model:
what these tests see then depends only on the code under test, and they keep
holding when the shipped model is retrained or replaced. One test runs
``python -m handwriting.serve`` with its default (shipped) model and checks that it answers
like ``predict.py``.

The digits are drawn from the strokes in STROKES: rendered with Pillow for the
API tests, and drawn with real pointer input (mouse, pen, touch) on the page's
canvas in headless Chromium for the browser test. The browser test needs Debian's
``chromium`` and ``chromium-driver`` and the ``selenium`` package; without them it
is skipped with a line saying how to install them (under CI=true it fails instead).
"""
import concurrent.futures
import contextlib
import http.client
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw

from handwriting import serve
from conftest import ROOT, run_script, under_ci
from handwriting.read import load_model
from model import MLP

# pytest resets the warning filters for each test, undoing preprocess's filter for
# Pillow's warning about images over 89 MP (test_read_gray.py checks it for users).
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")

# Strokes of a few digits as a person draws them, in pad coordinates (0, 0) top
# left to (1, 1) bottom right; each stroke a list of points the pen goes through.
STROKES = {
    0: [[(0.5 + 0.22 * np.sin(t), 0.5 - 0.32 * np.cos(t))
         for t in np.linspace(0, 2 * np.pi, 25)]],
    1: [[(0.46, 0.15), (0.54, 0.85)]],
    2: [[(0.3, 0.3), (0.4, 0.2), (0.55, 0.18), (0.68, 0.25), (0.68, 0.38), (0.55, 0.52),
         (0.3, 0.8), (0.72, 0.8)]],
    3: [[(0.3, 0.22), (0.5, 0.17), (0.66, 0.25), (0.62, 0.4), (0.45, 0.48), (0.64, 0.56),
         (0.68, 0.7), (0.55, 0.82), (0.3, 0.8)]],
    4: [[(0.6, 0.15), (0.3, 0.6), (0.75, 0.6)], [(0.6, 0.15), (0.6, 0.85)]],
    5: [[(0.68, 0.18), (0.36, 0.18), (0.33, 0.45), (0.55, 0.42), (0.68, 0.55), (0.65, 0.72),
         (0.5, 0.82), (0.3, 0.78)]],
    6: [[(0.62, 0.18), (0.4, 0.4), (0.33, 0.62), (0.4, 0.8), (0.56, 0.82), (0.65, 0.68),
         (0.58, 0.55), (0.42, 0.55), (0.34, 0.62)]],
    7: [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]],
    8: [[(0.5, 0.48), (0.35, 0.38), (0.36, 0.22), (0.5, 0.16), (0.64, 0.22), (0.65, 0.38),
         (0.5, 0.48), (0.34, 0.6), (0.35, 0.78), (0.5, 0.85), (0.66, 0.78), (0.66, 0.6),
         (0.5, 0.48)]],
    9: [[(0.65, 0.3), (0.55, 0.18), (0.4, 0.2), (0.35, 0.35), (0.45, 0.45), (0.62, 0.4),
         (0.65, 0.3), (0.62, 0.85)]],
}
PEN = 0.06  # the page's stroke width as a fraction of the pad (static/app.js: PEN)
BROWSER_HELP = ("needs headless Chromium: apt-get install chromium chromium-driver "
                "and pip install selenium")
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def dense(stroke, step=0.02):
    """The stroke's polyline with points at most ``step`` apart, as a pen reports them."""
    points = [stroke[0]]
    for (x0, y0), (x1, y1) in zip(stroke[:-1], stroke[1:]):
        n = max(1, int(np.ceil(np.hypot(x1 - x0, y1 - y0) / step)))
        points += [(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(1, n + 1)]
    return points


def draw_strokes(draw, strokes, size, left=0.0):
    """``strokes`` drawn as on the page - dark round strokes - in a ``size``
    pixel square whose left edge is ``left`` pixels in."""
    r = PEN * size / 2
    for stroke in strokes:
        points = [(left + x * size, y * size) for x, y in dense(stroke)]
        draw.line(points, fill=17, width=round(2 * r))
        for x, y in points:  # round caps and joins, as the canvas draws them
            draw.ellipse([x - r, y - r, x + r, y + r], fill=17)


def encoded(image, fmt="PNG"):
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def drawing(digit, size=448, fmt="PNG"):
    """The bytes of an image file of ``digit`` drawn as on the page: dark round
    strokes on white."""
    image = Image.new("L", (size, size), 255)
    draw_strokes(ImageDraw.Draw(image), STROKES[digit], size)
    return encoded(image, fmt)


# Each digit of a number is drawn in a square of the pad's height, the next one
# NUMBER_STEP squares further right: STROKES span 0.25-0.75 of their square, so
# neighbours' ink is 0.2 of a square apart, less the pen.
NUMBER_STEP = 0.7


def number_drawing(digits, size=160, fmt="PNG"):
    """The bytes of an image file of the number ``digits`` (a string) written
    as on the page's wide pad: STROKES side by side, ``size`` pixels tall."""
    image = Image.new("L", (round(size * (NUMBER_STEP * (len(digits) - 1) + 1)), size), 255)
    draw = ImageDraw.Draw(image)
    for k, digit in enumerate(digits):
        draw_strokes(draw, STROKES[int(digit)], size, left=k * NUMBER_STEP * size)
    return encoded(image, fmt)


# ---- fixtures -----------------------------------------------------------------
@pytest.fixture(scope="session")
def model_path(trained_run):
    """model.npz from ``python train.py --epochs 3``: conftest's shared run."""
    return str(trained_run.folder / "model.npz")


@contextlib.contextmanager
def serving(model):
    """serve.DigitServer reading with ``model`` on a free port, in a thread of
    this process: (host, port)."""
    httpd = serve.DigitServer(("127.0.0.1", 0), model)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield httpd.server_address[:2]
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def server(model_path):
    """serving() the tests' trained model: (host, port)."""
    with serving(load_model(model_path)) as address:
        yield address


def start_serve_py(*args):
    """``python -m handwriting.serve --port 0 *args`` as a child process: (process, its URL).
    SIGINT is restored to its default in the child: a shell that starts
    programs in the background (CI runners, scripts) ignores it, and so would
    the child."""
    process = subprocess.Popen(
        [sys.executable, "-m", "handwriting.serve", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    first = process.stdout.readline()
    assert "open http://127.0.0.1:" in first, (first, process.stderr.read())
    url = first.split("open ")[1].split()[0]
    return process, url


@pytest.fixture(scope="module")
def served(model_path):
    """The URL of ``python -m handwriting.serve --model <model_path>``, running as a child process."""
    process, url = start_serve_py("--model", model_path)
    yield url
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=10)


def post(address, body, path="/predict", method="POST", headers=None):
    """(status, headers, decoded JSON) of one request on a new connection."""
    connection = http.client.HTTPConnection(*address, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        connection.close()


def raw(address, data, shut_write=False):
    """Send ``data`` as it is on a socket; (status, JSON body) of the answer."""
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(data)
        if shut_write:
            sock.shutdown(socket.SHUT_WR)
        return read_answer(sock)


def read_answer(sock):
    """(status, JSON body) of an answer that ends by closing the connection."""
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def address_of(url):
    host, port = url.split("//")[1].rstrip("/").split(":")
    return host, int(port)


# ---- the API --------------------------------------------------------------------
@pytest.mark.parametrize("digit", sorted(STROKES))
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_drawn_digit_is_read(server, model_path, digit, fmt):
    status, headers, answer = post(server, drawing(digit, fmt=fmt))
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert answer["digit"] == digit
    probs = np.array(answer["probs"])
    assert probs.shape == (10,) and probs.argmax() == digit and probs.sum() == pytest.approx(1, abs=1e-4)
    image = np.array(answer["image"])
    assert image.shape == (28, 28) and image.min() >= 0 and image.max() == pytest.approx(1, abs=1e-3)
    # The hidden activations are this image's: ReLU(x W1 + b1), then ReLU(h1 W2 + b2).
    params = load_model(model_path).params
    h1 = np.maximum(image.reshape(-1) @ params["W1"] + params["b1"], 0)
    h2 = np.maximum(h1 @ params["W2"] + params["b2"], 0)
    assert [len(h) for h in answer["hidden"]] == [128, 64]
    np.testing.assert_allclose(answer["hidden"][0], h1, atol=0.02)
    np.testing.assert_allclose(answer["hidden"][1], h2, atol=0.05)


def png_of(array):
    out = io.BytesIO()
    Image.fromarray(array).save(out, "PNG")
    return out.getvalue()


BLANK = png_of(np.full((100, 100), 255, np.uint8))
HUGE = io.BytesIO()
Image.new("1", (10000, 10000), 1).save(HUGE, "PNG")  # 100 megapixels in 12 kB
BAD_REQUESTS = {  # name: (raw request, status, words in the error)
    "not an image": (b"POST /predict HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 400,
                     "cannot read it as an image"),
    "empty": (b"POST /predict HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400, "empty"),
    "blank": (b"POST /predict HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(BLANK), BLANK),
              422, "blank image"),
    "truncated": (b"POST /predict HTTP/1.1\r\nContent-Length: 1000\r\n\r\n"
                  + drawing(7)[:1000], 400, "cannot read it as an image (image file is truncated"),
    # Only the headers are sent: the server must answer without waiting for 6 MB.
    "too many bytes": (b"POST /predict HTTP/1.1\r\nContent-Length: 6000000\r\n\r\n", 413,
                       "6000000 bytes (the limit is 5 MB)"),
    "too many pixels": (b"POST /predict HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s"
                        % (len(HUGE.getvalue()), HUGE.getvalue()), 413, "10000x10000 pixels"),
    "GET /predict": (b"GET /predict HTTP/1.1\r\n\r\n", 405, "use POST /predict"),
    "PUT /predict": (b"PUT /predict HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", 405, "use POST"),
    "DELETE /": (b"DELETE / HTTP/1.1\r\n\r\n", 405, "use GET /"),
    "unknown method": (b"BREW /predict HTTP/1.1\r\n\r\n", 405, "BREW is not allowed"),
    "GET /nope": (b"GET /nope HTTP/1.1\r\n\r\n", 404, "nothing at /nope"),
    "GET /../serve.py": (b"GET /../serve.py HTTP/1.1\r\n\r\n", 404, "nothing at /../serve.py"),
    "POST /nope": (b"POST /nope HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", 404,
                   "the API is POST /predict"),
    "no Content-Length": (b"POST /predict HTTP/1.1\r\n\r\n", 411, "missing Content-Length"),
    "chunked": (b"POST /predict HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                411, "not chunked"),
    "Content-Length abc": (b"POST /predict HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400,
                           "invalid Content-Length 'abc'"),
    "Content-Length -5": (b"POST /predict HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400,
                          "invalid Content-Length '-5'"),
    "malformed request line": (b"GET / / HTTP/1.1\r\n\r\n", 400, "Bad request syntax"),
    "header line too long": (b"GET / HTTP/1.1\r\nX: " + b"x" * 70000 + b"\r\n\r\n", 431,
                             "Line too long"),
}


@pytest.mark.parametrize("name", BAD_REQUESTS)
def test_bad_request_gets_4xx_and_one_line(server, name):
    request, expected_status, words = BAD_REQUESTS[name]
    status, answer = raw(server, request)
    assert status == expected_status
    assert list(answer) == ["error"] and words in answer["error"]
    assert "\n" not in answer["error"] and "Traceback" not in answer["error"]


def test_body_shorter_than_its_length(server):
    status, answer = raw(server, b"POST /predict HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc",
                         shut_write=True)
    assert status == 400 and answer["error"] == "the body ended after 3 of its 100 bytes"


def test_a_stalled_upload_holds_up_nobody(server, monkeypatch):
    """A client that stops sending half-way gets 400 after the handler's timeout,
    its thread ends, and others are answered meanwhile and afterwards."""
    monkeypatch.setattr(serve.Handler, "timeout", 1.0)
    threads_before = threading.active_count()
    with socket.create_connection(server, timeout=30) as stalled:
        stalled.sendall(b"POST /predict HTTP/1.1\r\nContent-Length: 1000\r\n\r\nabc")
        assert post(server, drawing(7))[2]["digit"] == 7  # while it is stalled
        status, answer = read_answer(stalled)  # after the timeout
    assert status == 408 and "after 3 of the body's 1000 bytes" in answer["error"]
    assert threads_settle_to(threads_before)


def threads_settle_to(count, seconds=3):
    """Whether this process's thread count falls back to ``count`` within ``seconds``:
    a handler thread ends just after its answer, not before the client reads it."""
    deadline = time.monotonic() + seconds
    while threading.active_count() > count and time.monotonic() < deadline:
        time.sleep(0.02)
    return threading.active_count() <= count


def test_idle_keep_alive_connection_is_closed_quietly(server, monkeypatch, capsys):
    """A browser keeps its connection open between requests: after the timeout the
    server closes it (freeing its thread) without a log line."""
    monkeypatch.setattr(serve.Handler, "timeout", 0.5)
    connection = http.client.HTTPConnection(*server, timeout=30)
    connection.request("GET", "/style.css")
    assert connection.getresponse().read()
    time.sleep(1)
    assert connection.sock.recv(1) == b""  # closed by the server
    connection.close()
    assert capsys.readouterr().err == ""


def test_still_answers_after_every_bad_request(server):
    threads_before = threading.active_count()
    for request, _, _ in BAD_REQUESTS.values():
        raw(server, request)
    for digit in STROKES:
        assert post(server, drawing(digit))[2]["digit"] == digit
    assert threads_settle_to(threads_before)  # none of them left behind


def test_at_most_READ_AT_ONCE_images_are_read_at_once(server, monkeypatch):
    """Memory stays bounded however many large images arrive together: 12 requests
    at once, each read held up for 0.2 s, are all answered, READ_AT_ONCE at a time."""
    reading, most = [0], [0]
    lock = threading.Lock()
    read_digit = serve.read_digit

    def slow_read_digit(model, source):
        with lock:
            reading[0] += 1
            most[0] = max(most[0], reading[0])
        time.sleep(0.2)
        with lock:
            reading[0] -= 1
        return read_digit(model, source)

    monkeypatch.setattr(serve, "read_digit", slow_read_digit)
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda _: post(server, drawing(7))[2]["digit"], range(12)))
    assert answers == [7] * 12 and most[0] == serve.READ_AT_ONCE


# ---- whole numbers: POST /predict?number=1 -----------------------------------------
def test_a_number_is_read_digit_by_digit(server):
    status, headers, answer = post(server, number_drawing("2026"), "/predict?number=1")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert answer["number"] == "2026" and len(answer["digits"]) == 4
    lefts = []
    for digit, each in zip("2026", answer["digits"]):
        # Each digit as the single-digit answer has it, and where it was found.
        assert set(each) == {"digit", "probs", "image", "hidden", "box"}
        assert each["digit"] == int(digit) == int(np.argmax(each["probs"]))
        assert np.array(each["image"]).shape == (28, 28)
        assert [len(h) for h in each["hidden"]] == [128, 64]
        top, left, bottom, right = each["box"]
        assert 0 <= top < bottom <= 160 and left < right
        lefts.append(left)
    assert lefts == sorted(lefts)


def test_without_number_a_picture_is_one_digit(server):
    body = drawing(7)
    plain = post(server, body)
    assert plain[0] == 200 and "number" not in plain[2]
    assert post(server, body, "/predict?number=0")[2] == plain[2]
    one = post(server, body, "/predict?number=1")
    assert one[0] == 200 and one[2]["number"] == "7"  # a number of one digit


NUMBER_REQUESTS = {  # name: (body, status, words in the error, or the number read)
    "no ink": (BLANK, 422, "blank image"),
    "one digit": (number_drawing("4"), 200, "4"),
    "50 digits": (number_drawing("0123456789" * 5), 200, "0123456789" * 5),
    "more digits than MAX_DIGITS": (number_drawing("1" * 70), 422,
                                    "too many digits: 70 found, the limit is 64"),
    "too many pixels": (HUGE.getvalue(), 413, "10000x10000 pixels"),
    "not an image": (b"hello", 400, "cannot read it as an image"),
}


@pytest.mark.parametrize("name", NUMBER_REQUESTS)
def test_number_bad_and_odd_input(server, name):
    body, expected_status, expected = NUMBER_REQUESTS[name]
    status, _, answer = post(server, body, "/predict?number=1")
    assert status == expected_status
    if status == 200:
        assert answer["number"] == expected
    else:
        assert expected in answer["error"] and "\n" not in answer["error"]


@pytest.mark.parametrize("query", ["number=2", "number=yes", "number="])
def test_number_must_be_0_or_1(server, query):
    status, _, answer = post(server, drawing(7), f"/predict?{query}")
    assert status == 400 and "use number=1 for a whole number" in answer["error"]


def test_page_and_its_files(server):
    connection = http.client.HTTPConnection(*server, timeout=30)
    for path, kind in [("/", "text/html"), ("/app.js", "text/javascript"),
                       ("/style.css", "text/css")]:
        connection.request("GET", path)  # one keep-alive connection for all three
        response = connection.getresponse()
        body = response.read().decode()
        assert response.status == 200 and response.getheader("Content-Type").startswith(kind)
        # Nothing comes from the internet: the page works with no network.
        assert "http://" not in body and "https://" not in body and "//cdn" not in body
    connection.close()


def test_page_names_the_network_it_serves():
    """The heading's layer sizes are the served model's (the robust one is wider
    than the assignment's), not the ones written in index.html."""
    with open(os.path.join(serve.STATIC, "index.html")) as f:
        assert serve.PAGE_NETWORK in f.read()
    for sizes in [(784, 128, 64, 10), (784, 512, 256, 10)]:
        with serving(MLP(sizes, seed=0)) as address:
            connection = http.client.HTTPConnection(*address, timeout=30)
            connection.request("GET", "/")
            page = connection.getresponse().read().decode()
            connection.close()
        expected = "-".join(map(str, sizes))
        assert f'<span id="network">{expected}</span>' in page
        assert page.count('id="network"') == 1


@pytest.mark.slow  # a measurement the README quotes (latency under load)
def test_200_requests_from_8_threads(served):
    """All answers right. Prints the latency (run with -s to see it); README,
    "Draw a digit in your browser", quotes it."""
    address = address_of(served)
    bodies = {digit: drawing(digit) for digit in STROKES}
    jobs = [sorted(STROKES)[i % len(STROKES)] for i in range(200)]

    alone = {digit: post(address, body)[2] for digit, body in bodies.items()}

    def one(digit):
        start = time.perf_counter()
        status, _, answer = post(address, bodies[digit])
        return status, answer, time.perf_counter() - start

    one_at_a_time = [one(digit)[2] for digit in jobs[:30]]  # as one person drawing

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, jobs))
    wall = time.perf_counter() - start
    assert [(status, answer.get("digit")) for status, answer, _ in results] == [
        (200, digit) for digit in jobs]
    # Every answer is its own image's, to the last activation: no request saw another's.
    assert all(answer == alone[digit] for (_, answer, _), digit in zip(results, jobs))
    latencies = sorted(seconds for *_, seconds in results)
    print(f"\npython -m handwriting.serve, a 448x448 PNG as the page sends: one at a time, median "
          f"{1000 * statistics.median(one_at_a_time):.0f} ms; 200 requests from 8 threads, "
          f"median {1000 * statistics.median(latencies):.0f} ms, 90th percentile "
          f"{1000 * latencies[179]:.0f} ms, {200 / wall:.0f} requests/s "
          f"(load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores)")


def test_serve_py_answers_like_predict_py_and_stops_on_ctrl_c(tmp_path):
    """The real command with its default (shipped) model: the same answer as
    predict.py for the same file, and Ctrl-C (SIGINT) stops it with one line."""
    path = tmp_path / "seven.png"
    path.write_bytes(drawing(7))
    process, url = start_serve_py()
    try:
        status, _, answer = post(address_of(url), path.read_bytes())
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0 and err == "" and out == "\nstopped.\n"
    predicted = run_script("predict.py", path, check=True).stdout
    # "seven.png: 7    top 3: 7:  99.9%  ..."
    digit, top = predicted.split(": ", 1)[1].split("    top 3: ")
    assert status == 200 and answer["digit"] == int(digit)
    assert f"{answer['probs'][answer['digit']]:6.1%}" == top.split(": ")[1].split("  ")[0]


def test_serve_py_bad_model_or_busy_port_is_one_line(tmp_path):
    not_a_model = tmp_path / "model.npz"
    not_a_model.write_text("weights?")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for args, words in [(["--model", str(not_a_model)], "not a saved MLP"),
                            (["--port", port], f"cannot listen on 127.0.0.1:{port}")]:
            result = run_script("handwriting/serve.py", *args, timeout=60)
            assert result.returncode == 1 and result.stdout == ""
            assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
            assert words in result.stderr


# ---- the page in a real browser ---------------------------------------------------
@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium driven by selenium: Debian's chromium and chromium-driver,
    named by path, so that Selenium Manager never tries to download a browser."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(path)]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("the selenium package")
    if missing:
        reason = f"{BROWSER_HELP} (missing: {', '.join(missing)})"
        if under_ci():
            pytest.fail(f"{reason} (CI must run every test)", pytrace=False)
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    yield driver
    driver.quit()


def draw(driver, pad, digit, kind, lift=True):
    """Draw ``digit``'s strokes on the pad with a pointer of ``kind`` (mouse, pen,
    touch): real input events, dispatched by the browser as a person's would be."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    width, height = pad.size["width"], pad.size["height"]

    def offset(x, y):  # from the pad's centre, in CSS pixels
        return round((x - 0.5) * width), round((y - 0.5) * height)

    for i, stroke in enumerate(STROKES[digit]):
        actions = ActionBuilder(driver, mouse=PointerInput(kind, kind), duration=0)
        points = dense(stroke)
        actions.pointer_action.move_to(pad, *offset(*points[0]))
        actions.pointer_action.pointer_down()
        for point in points[1:]:
            actions.pointer_action.move_to(pad, *offset(*point))
        if lift or i < len(STROKES[digit]) - 1:
            actions.pointer_action.pointer_up()
        actions.perform()


def lift(driver, kind):
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    actions = ActionBuilder(driver, mouse=PointerInput(kind, kind), duration=0)
    actions.pointer_action.pointer_up()
    actions.perform()


PAD_IS_BLANK = """
const pad = document.getElementById("pad");
return pad.getContext("2d").getImageData(0, 0, pad.width, pad.height).data.every(v => v === 255);
"""
SEEN_INK = """
const seen = document.getElementById("seen");
return seen.getContext("2d").getImageData(0, 0, 28, 28).data.filter((v, i) => i % 4 == 0 && v > 0).length;
"""


SITE = " - MNIST from scratch in NumPy"  # the page's title after its heading's words


def heading_and_title(driver):
    """The page's heading (its h1) and the tab's title, as the reader sees them."""
    from selenium.webdriver.common.by import By
    return driver.find_element(By.TAG_NAME, "h1").text, driver.title


def open_page(driver, url, size):
    """The page at ``url`` in a window of ``size`` (width, height): (the pad,
    #prediction, reads) - reads(text) waits up to 10 s for #prediction to say
    ``text``, and fails the test if it does not."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.set_window_size(*size)
    driver.get(url)
    prediction = driver.find_element(By.ID, "prediction")

    def reads(text):
        try:
            WebDriverWait(driver, 10).until(lambda _: prediction.text == text)
        except TimeoutException:
            pytest.fail(f"#prediction shows {prediction.text!r} after 10 s, expected {text!r}")

    return driver.find_element(By.ID, "pad"), prediction, reads


@pytest.mark.slow  # starts Chromium
def test_page_reads_digits_drawn_in_a_real_browser(browser, served):
    """Four digits, drawn with a mouse, a pen and a finger; #prediction shows each,
    while the stroke is still going on and at its end; clear (button or Esc)
    empties it and the pad. Also at phone width. With SCREENSHOTS=folder, saves
    draw_a_digit.png and draw_a_digit_phone.png there (for the README)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    pad, prediction, reads = open_page(driver, served, (960, 720))
    assert prediction.text == "" and driver.execute_script(PAD_IS_BLANK)
    assert heading_and_title(driver) == ("Draw a digit", "Draw a digit" + SITE)

    # A mouse: the answer comes while the button is still down (live), and stays.
    draw(driver, pad, 1, "mouse", lift=False)
    reads("1")
    lift(driver, "mouse")
    reads("1")
    driver.find_element(By.ID, "clear").click()
    reads("")
    assert driver.execute_script(PAD_IS_BLANK)

    # A pen, in two strokes, then cleared with the keyboard.
    draw(driver, pad, 4, "pen")
    reads("4")
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    reads("")
    assert driver.execute_script(PAD_IS_BLANK)

    # A finger; the look inside is filled in.
    draw(driver, pad, 7, "touch")
    reads("7")
    assert driver.execute_script(SEEN_INK) > 20  # the 28x28 image the network saw
    for layer, units in ((1, 128), (2, 64)):
        label = driver.find_element(By.ID, f"hidden{layer}-label").text
        assert label.startswith(f"hidden layer {layer}: ") and label.endswith(
            f" of {units} units fire"), label
    top = driver.find_element(By.CSS_SELECTOR, ".prob.top .d").text
    assert top == "7"
    shots = os.environ.get("SCREENSHOTS")
    if shots:
        driver.save_screenshot(os.path.join(shots, "draw_a_digit.png"))

    # Nothing came from anywhere but the server, and no script failed.
    resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(name.startswith(served) for name in resources), resources
    errors = [entry["message"] for entry in driver.get_log("browser")
              if "Uncaught" in entry["message"]]
    assert errors == []

    # A slow network: an answer that arrives after the pad was cleared is dropped.
    driver.execute_script("""
        const fetchNow = window.fetch;
        window.fetch = (...args) => fetchNow(...args).then(
            response => new Promise(resolve => setTimeout(() => resolve(response), 300)));""")
    draw(driver, pad, 0, "mouse")
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    time.sleep(1)  # the late answer has arrived by now, and must not be shown
    assert prediction.text == "" and driver.execute_script(PAD_IS_BLANK)

    # A tap leaves a dot: ink, and so an answer (whatever digit a dot is).
    pad.click()
    WebDriverWait(driver, 10).until(lambda _: prediction.text != "")
    assert not driver.execute_script(PAD_IS_BLANK)

    # A phone: one column (the answer under the pad, as wide), nothing wider than
    # the screen, and it still reads.
    pad, prediction, reads = open_page(driver, served, (390, 1300))  # tall: the whole page
    answer = driver.find_element(By.CSS_SELECTOR, ".answer")
    width = driver.execute_script("return window.innerWidth")
    assert width <= 400
    assert driver.execute_script("return document.documentElement.scrollWidth") <= width
    assert pad.rect["width"] <= width and answer.rect["width"] >= 0.9 * pad.rect["width"]
    assert answer.rect["y"] >= pad.rect["y"] + pad.rect["height"]
    draw(driver, pad, 7, "touch")
    reads("7")
    if shots:
        driver.save_screenshot(os.path.join(shots, "draw_a_digit_phone.png"))


def draw_number(driver, pad, digits, kind):
    """Write the number ``digits`` on the wide pad (2.5 times as wide as tall):
    digit k's STROKES in a square 0.7 of the pad's height, 0.55 of it further
    right than digit k - 1's (their ink 0.2 of the height apart, less the pen)."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    width, height = pad.size["width"], pad.size["height"]

    def offset(k, x, y):  # from the pad's centre, in CSS pixels
        return (round((0.05 + 0.55 * k + 0.7 * x) * height - width / 2),
                round((0.15 + 0.7 * y - 0.5) * height))

    for k, digit in enumerate(digits):
        for stroke in STROKES[int(digit)]:
            actions = ActionBuilder(driver, mouse=PointerInput(kind, kind), duration=0)
            points = dense(stroke)
            actions.pointer_action.move_to(pad, *offset(k, *points[0]))
            actions.pointer_action.pointer_down()
            for point in points[1:]:
                actions.pointer_action.move_to(pad, *offset(k, *point))
            actions.pointer_action.pointer_up()
            actions.perform()


DIGITS_SHOWN = """
return [...document.querySelectorAll("#digits figure")].map(figure => {
  const canvas = figure.querySelector("canvas");
  const pixels = canvas.getContext("2d").getImageData(0, 0, 28, 28).data;
  return [figure.querySelector("figcaption").textContent,
          pixels.filter((v, i) => i % 4 == 0 && v > 0).length];
});
"""


@pytest.mark.slow  # starts Chromium
def test_page_reads_a_number_written_in_a_real_browser(browser, served):
    """Ticking "a whole number" widens the pad and makes the heading and title
    "Write a number"; a number written on it with a pen is read, and each digit
    the network saw is shown with its answer. Unticked, the pad is square again,
    "Draw a digit" again, and reads one digit as before. With
    SCREENSHOTS=folder, saves draw_a_number.png there (for the README)."""
    from selenium.webdriver.common.by import By

    driver = browser
    pad, prediction, reads = open_page(driver, served, (960, 900))
    square = pad.size
    assert heading_and_title(driver) == ("Draw a digit", "Draw a digit" + SITE)
    driver.find_element(By.ID, "number-mode").click()
    assert heading_and_title(driver) == ("Write a number", "Write a number" + SITE)
    assert driver.execute_script(PAD_IS_BLANK)
    assert pad.size["width"] == pytest.approx(2.5 * pad.size["height"], abs=4)  # +- borders
    assert pad.size["width"] > 2 * square["width"]
    assert driver.execute_script("return [document.getElementById('pad').width, "
                                 "document.getElementById('pad').height]") == [1120, 448]
    draw_number(driver, pad, "2026", "pen")
    reads("2026")
    shown = driver.execute_script(DIGITS_SHOWN)
    assert [caption.split()[0] for caption, _ in shown] == list("2026")
    assert all(caption.endswith("%") and ink > 20 for caption, ink in shown), shown
    assert driver.find_element(By.ID, "status").text.startswith("4 digits, each at least ")
    assert not driver.find_element(By.ID, "probs").is_displayed()
    shots = os.environ.get("SCREENSHOTS")
    if shots:
        driver.save_screenshot(os.path.join(shots, "draw_a_number.png"))
    errors = [entry["message"] for entry in driver.get_log("browser")
              if "Uncaught" in entry["message"]]
    assert errors == []

    # One digit, then back to one digit a picture, as before.
    driver.find_element(By.ID, "clear").click()
    reads("")
    assert driver.execute_script(DIGITS_SHOWN) == []
    draw_number(driver, pad, "7", "mouse")
    reads("7")
    driver.find_element(By.ID, "number-mode").click()
    reads("")
    assert heading_and_title(driver) == ("Draw a digit", "Draw a digit" + SITE)
    assert pad.size == square and driver.execute_script(PAD_IS_BLANK)
    draw(driver, pad, 4, "pen")
    reads("4")
    assert driver.find_element(By.CSS_SELECTOR, ".prob.top .d").text == "4"
    assert not driver.find_element(By.ID, "digits").is_displayed()
