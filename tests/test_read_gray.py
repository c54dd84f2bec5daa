"""preprocess.read_gray: reading an image from a path or from its bytes, and the
pixel limit that keeps a huge picture from taking gigabytes (no MNIST needed)."""
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import run_script
from handwriting.preprocess import MAX_PIXELS, ImageTooLarge, mnist_like, read_gray

# pytest resets the warning filters for each test, undoing preprocess's filter for
# Pillow's warning about images over 89 MP; test_predict_on_a_huge_png_is_one_line_at_once
# checks that predict.py's users never see it.
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


def draw_seven(size, mode="L"):
    """A thick black "7" on white paper, size x size pixels."""
    im = Image.new(mode, (size, size), 255 if mode == "L" else 1)
    s = size / 100
    ImageDraw.Draw(im).line([(30 * s, 20 * s), (70 * s, 20 * s), (45 * s, 80 * s)],
                            fill=0, width=max(1, round(6 * s)))
    return im


def png_without_pixels(width, height):
    """A PNG file that claims width x height 1-bit pixels and holds no pixel
    data (an empty IDAT chunk): Pillow opens it, and fails only when it decodes it."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", b""))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_bytes_read_like_the_file(tmp_path, fmt):
    path = tmp_path / f"seven.{fmt.lower()}"
    draw_seven(120).convert("RGB").save(path, fmt)
    from_path = read_gray(str(path))
    from_bytes = read_gray(io.BytesIO(path.read_bytes()))
    assert from_path.shape == (120, 120)
    np.testing.assert_array_equal(from_bytes, from_path)


@pytest.mark.parametrize("width, height", [(10000, 10000), (MAX_PIXELS + 1, 1), (20000, 20000)])
def test_too_many_pixels_refused_before_decoding(width, height):
    """The header alone decides: a file with no pixel data at all gets the size
    error, not a decoding error (so nothing was decoded). 20000x20000 is over
    Pillow's own refusal limit (179 MP): the same error."""
    with pytest.raises(ImageTooLarge, match=r"^image too large: .*megapixels"):
        read_gray(io.BytesIO(png_without_pixels(width, height)))


def test_at_the_limit_is_still_read():
    side = int(MAX_PIXELS ** 0.5)  # 4000 x 4000 = 16 MP: a phone photo's size
    with pytest.raises(OSError, match="truncated"):  # decoding it fails: no size error
        read_gray(io.BytesIO(png_without_pixels(side, side)))


def test_predict_on_a_huge_png_is_one_line_at_once(tmp_path):
    """10000x10000 pixels (a valid 1-bit PNG of 50 kB): before the limit, predict.py
    took 5-16 s, 5.5 GB of memory and printed Pillow's DecompressionBombWarning."""
    path = tmp_path / "huge.png"
    draw_seven(10000, mode="1").save(path)
    result = run_script("predict.py", path, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (f"error: {path}: image too large: 10000x10000 pixels "
                             f"(the limit is {MAX_PIXELS / 1e6:g} megapixels; scale it down first)\n")


@pytest.mark.slow  # encodes and decodes a 100-megapixel JPEG
def test_huge_jpeg_is_decoded_at_a_reduced_scale(tmp_path):
    """A 10000x10000 JPEG is decoded at 1/4 scale (2500x2500, the mildest that fits
    16 MP) and reads like the same drawing made at that size."""
    path = tmp_path / "huge.jpg"
    draw_seven(10000).save(path, quality=90)
    gray = read_gray(str(path))
    assert gray.shape == (2500, 2500)
    small = np.asarray(draw_seven(2500), dtype=np.float64) / 255
    seen, expected = mnist_like(gray), mnist_like(small)
    assert np.corrcoef(seen.ravel(), expected.ravel())[0, 1] > 0.98
