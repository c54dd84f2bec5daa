"""Draw a digit in your browser and watch the network read it.

    python -m handwriting.serve [--port 8000] [--host 127.0.0.1] [--model PATH]

then open the URL it prints. It serves the page in static/ and one API call:

    POST /predict    body: the bytes of an image file (PNG, JPEG, ...)
    200  {"digit": 7, "probs": [10 floats], "image": [28 rows of 28 floats],
          "hidden": [[128 floats], [64 floats]]}
    4xx  {"error": "one line"}

    POST /predict?number=1    the image holds a whole number
    200  {"number": "2026", "digits": [{"digit": 2, "probs": [...], "image": [...],
          "hidden": [...], "box": [top, left, bottom, right]}, ...]}


"image" is the 28x28 image the network saw (0 black, 1 white) and "hidden"
each hidden layer's activations. The image goes through predict.py's reading
path (read.read_digit: preprocess.read_gray, then mnist_like), so the page,
the API and predict.py give the same answer for the same image file. With
?number=1 it is read as ``predict.py --number`` reads it (read.read_number):
"digits" holds, left to right, what the single-digit answer holds for each
digit, and where the digit was found in the image, in its pixels ("box":
bottom and right one past the ink).

Standard library only: http.server, one thread per connection.
"""
import io
import json
import os
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np

from cli import checked, make_parser, single_blas_thread
from handwriting.numbers import TooManyDigits
from handwriting.preprocess import BlankImage, ImageTooLarge
from handwriting.read import default_model, load_model, read_digit, read_number

HERE = os.path.dirname(os.path.abspath(__file__))
STATIC = os.path.join(HERE, "static")
# The page's files, by URL path. Only these are served: a request never names a file.
PAGES = {"/": "index.html", "/index.html": "index.html",
         "/app.js": "app.js", "/style.css": "style.css"}
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8"}
# The page names the network that reads: the server writes the served model's
# layer sizes over the assignment's, which static/index.html holds.
PAGE_NETWORK = '<span id="network">784-128-64-10</span>'
# The largest upload read. A drawing from the page is a few kB, a phone photo 2-5 MB.
MAX_BYTES = 5 * 1024 * 1024
# Seconds a client may take to send its request; a stalled upload then frees its thread.
TIMEOUT = 10
# Images read at the same time, at most. A drawing takes milliseconds and a few MB,
# but one at the pixel limit (16 megapixels, from a 30 kB PNG) took 2 s and 0.95 GB,
# so 8 at once would need 7.6 GB. Four keep it under 4 GB; on 2 cores more would
# not finish sooner anyway.
READ_AT_ONCE = 4


def answer(image, probs, hidden):
    """The JSON answer for one digit: what the network read and saw."""
    # Probabilities to 4 significant digits (a 1e-7 stays visible); the rest to
    # 3 decimals, in float64 first, so that 0.1 is written 0.1 and not 0.10000000149.
    return {
        "digit": int(np.argmax(probs)),
        "probs": [float(f"{p:.4g}") for p in probs],
        "image": np.round(image.astype(float), 3).tolist(),
        "hidden": [np.round(h.astype(float), 3).tolist() for h in hidden],
    }


class Handler(BaseHTTPRequestHandler):
    server_version = "mnist-serve"
    protocol_version = "HTTP/1.1"  # keep-alive: the page sends a request every few strokes
    timeout = TIMEOUT

    # ---- routes --------------------------------------------------------------
    def do_GET(self):
        path = urlsplit(self.path).path
        if path == "/predict":
            return self.wrong_method()
        if path not in PAGES:
            return self.not_found()
        name = PAGES[path]
        with open(os.path.join(STATIC, name), "rb") as f:
            body = f.read()
        if name == "index.html":
            sizes = "-".join(str(n) for n in self.server.model.sizes)
            body = body.replace(PAGE_NETWORK.encode(),
                                f'<span id="network">{sizes}</span>'.encode())
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPES[os.path.splitext(name)[1]])
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        url = urlsplit(self.path)
        if url.path != "/predict":
            return self.wrong_method()
        number = parse_qs(url.query, keep_blank_values=True).get("number", ["0"])[-1]
        if number not in ("0", "1"):
            return self.send_json(400, {"error": f"number={number!r}: use number=1 for a "
                                                 "whole number, number=0 (or none) for one digit"})
        body = self.read_body()
        if body is None:
            return  # read_body has answered
        try:
            with self.server.reading:
                if number == "1":
                    digits = read_number(self.server.model, io.BytesIO(body))
                else:
                    image, probs, hidden = read_digit(self.server.model, io.BytesIO(body))
        except ImageTooLarge as e:
            return self.send_json(413, {"error": str(e)})
        except (BlankImage, TooManyDigits) as e:
            return self.send_json(422, {"error": str(e)})
        except ValueError as e:  # not an image, truncated, ...: load_image's one line
            return self.send_json(400, {"error": str(e)})
        except Exception as e:  # a bug of ours: say so in one line, log the traceback
            traceback.print_exc()
            return self.send_json(500, {"error": f"internal error ({type(e).__name__}: {e})"})
        if number == "0":
            return self.send_json(200, answer(image, probs, hidden))
        answers = [dict(answer(image, probs, hidden), box=[int(v) for v in box])
                   for image, probs, hidden, box in digits]
        self.send_json(200, {"number": "".join(str(a["digit"]) for a in answers),
                             "digits": answers})

    def wrong_method(self):
        path = urlsplit(self.path).path
        allow = "POST" if path == "/predict" else "GET" if path in PAGES else None
        if allow is None:
            return self.not_found()
        self.send_json(405, {"error": f"{self.command} is not allowed here: use {allow} {path}"},
                       Allow=allow)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = wrong_method

    def not_found(self):
        self.send_json(404, {"error": f"nothing at {urlsplit(self.path).path}: the page is at /, "
                                      "the API is POST /predict"})

    def handle_expect_100(self):
        """curl asks before it sends a body over 1 MB ("Expect: 100-continue"):
        refuse a bad or oversized one before it is sent."""
        if self.command == "POST" and urlsplit(self.path).path == "/predict":
            if self.content_length() is None:
                return False
        return super().handle_expect_100()

    # ---- reading and answering -------------------------------------------------
    def content_length(self):
        """The request's Content-Length, or None after answering with an error:
        missing, invalid, 0 or over MAX_BYTES."""
        if self.headers.get("Transfer-Encoding"):
            self.send_json(411, {"error": "send the image with a Content-Length, not chunked"})
            return None
        length = self.headers.get("Content-Length")
        if length is None:
            self.send_json(411, {"error": "missing Content-Length: send the image file's "
                                          "bytes as the body"})
            return None
        if not (length.isascii() and length.isdigit()):
            self.send_json(400, {"error": f"invalid Content-Length {length!r}"})
            return None
        length = int(length)
        if length == 0:
            self.send_json(400, {"error": "empty body: send the bytes of an image file "
                                          "(PNG, JPEG, ...)"})
            return None
        if length > MAX_BYTES:
            self.send_json(413, {"error": f"image too large: {length} bytes (the limit is "
                                          f"{MAX_BYTES // 2**20} MB)"})
            return None
        return length

    def read_body(self):
        """The request's body, or None after answering with an error. Its length
        is checked before anything is read, so an oversized upload costs nothing."""
        length = self.content_length()
        if length is None:
            return None
        body = bytearray()
        try:
            while len(body) < length:
                chunk = self.rfile.read1(length - len(body))
                if not chunk:  # the client closed the connection
                    self.send_json(400, {"error": f"the body ended after {len(body)} of its "
                                                  f"{length} bytes"})
                    return None
                body += chunk
        except TimeoutError:
            self.send_json(408, {"error": f"nothing more came for {self.timeout:g} s after "
                                          f"{len(body)} of the body's {length} bytes"})
            return None
        return bytes(body)

    def send_json(self, code, payload, **headers):
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers.items():
            self.send_header(name, value)
        if code >= 400:
            # The body may be unread (too large, no length): the connection cannot be reused.
            self.close_connection = True
            self.send_header("Connection", "close")
            self.log_message('"%s" %d %s', self.requestline, code, payload["error"])
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error(self, code, message=None, explain=None):
        """http.server's own errors (a malformed request line, headers too long)
        as JSON like ours, not as an HTML page. It answers a method it has no
        do_ method for with 501; here that is a wrong method like any other."""
        if code == HTTPStatus.NOT_IMPLEMENTED:
            return self.wrong_method()
        self.send_json(code, {"error": message or HTTPStatus(code).phrase})

    def log_request(self, code="-", size="-"):
        pass  # the page sends many requests; errors are logged by send_json

    def log_error(self, format, *args):
        # http.server logs "Request timed out" whenever a browser leaves a keep-alive
        # connection idle for TIMEOUT seconds: that is normal, not worth a line. (A
        # stalled upload is answered with 408, and send_json logs that.)
        if not format.startswith("Request timed out"):
            super().log_error(format, *args)


class DigitServer(ThreadingHTTPServer):
    """An HTTP server that reads digits with ``model``, one thread per connection."""
    request_queue_size = 64  # connections waiting to be accepted (the default is 5)

    def __init__(self, address, model):
        super().__init__(address, Handler)
        self.model = model
        self.reading = threading.BoundedSemaphore(READ_AT_ONCE)


def parse_args(argv=None):
    p = make_parser("Serve a page to draw digits on and watch the network read them, and "
                    "the API behind it (POST /predict with an image file as the body).", __spec__)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on. The default answers this computer only. "
                   "--host 0.0.0.0 lets anyone who can reach this machine on the network use "
                   "the page and the API: there is no login and no HTTPS, so do that only on "
                   "a network you trust")
    p.add_argument("--port", type=checked(int, lambda v: 0 <= v < 65536, "a port, 0 to 65535"),
                   default=8000, help="port to listen on; 0 picks a free one")
    p.add_argument("--model", default=None,
                   help="weights saved by train.py (default: as predict.py, the most robust "
                   "shipped model, handwriting/robust/model.npz, else model.npz)")
    return p.parse_args(argv)


def shown_path(path):
    """``path`` relative to the current folder when it is inside it: shorter to read."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # on another drive (Windows)
        return path
    return path if relative.startswith(os.pardir) else relative


def main(argv=None):
    single_blas_thread()
    args = parse_args(argv)
    args.model = args.model or default_model()
    try:
        server = DigitServer((args.host, args.port), load_model(args.model))
    except ValueError as e:  # the model: load_model's one line
        sys.exit(f"error: {e}")
    except OSError as e:  # the address: in use, not this machine's, ...
        sys.exit(f"error: cannot listen on {args.host}:{args.port} ({e.strerror or e})")
    with server:
        host, port = server.server_address[:2]
        shown = "127.0.0.1" if host == "0.0.0.0" else host
        print(f"Reading digits with {shown_path(args.model)}: open http://{shown}:{port}/ "
              "in a browser (Ctrl-C stops)", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # the way to stop it, so no traceback
        print("\nstopped.", flush=True)
