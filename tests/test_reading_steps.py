"""The reading steps added for the harder tier (issue 18), each on a constructed
image whose right answer is known: deskewing (a slanted stroke comes out
upright), smoothing a blocky enlargement, erasing ruled lines as dark as the
pen."""
import numpy as np
import pytest
from PIL import Image, ImageDraw

from handwriting.blocks import block_size, is_smooth_scan, smooth_blocks
from handwriting.deskew import deskew, slope
from handwriting.preprocess import STEPS, mnist_like
from handwriting.ruled_lines import remove_ruled_lines


def strokes(size, lines, width=4, supersample=4):
    """Ink (1 = ink, 0 = paper) of straight strokes [((x0, y0), (x1, y1)), ...]
    in a (height, width) = ``size`` image, anti-aliased."""
    s = supersample
    canvas = Image.new("L", (size[1] * s, size[0] * s), 0)
    draw = ImageDraw.Draw(canvas)
    for (x0, y0), (x1, y1) in lines:
        draw.line([(x0 * s, y0 * s), (x1 * s, y1 * s)], fill=255, width=width * s)
    return np.asarray(canvas.reduce(s), dtype=np.float64) / 255


def columns_of(ink, rows):
    """The ink's mean column over the given rows."""
    part = ink[rows]
    return (part * np.arange(ink.shape[1])).sum() / part.sum()


# ---- deskew -----------------------------------------------------------------------
@pytest.mark.parametrize("lean", [-0.5, -0.2, 0.3, 0.6])
def test_a_slanted_stroke_comes_out_upright(lean):
    """A bar leaning ``lean`` columns per row: its slope is measured as that,
    and after deskewing its top and its bottom are in the same column (they
    were 100 * lean apart), at the same height and as long as before."""
    bar = strokes((120, 160), [((80 - 50 * lean, 10), (80 + 50 * lean, 110))])
    assert slope(bar) == pytest.approx(lean, abs=0.02)
    upright = deskew(bar)
    assert abs(slope(upright)) < 0.01
    top, bottom = slice(10, 30), slice(90, 110)
    assert abs(columns_of(upright, top) - columns_of(upright, bottom)) < 1.0
    assert upright.sum() == pytest.approx(bar.sum(), rel=0.02)  # shearing keeps the ink's area
    assert np.array_equal(np.flatnonzero(upright.any(axis=1)), np.flatnonzero(bar.any(axis=1)))


def test_deskew_leaves_an_upright_stroke_and_a_blank_alone():
    bar = strokes((100, 60), [((30, 10), (30, 90))])
    out = deskew(bar)
    pad = (out.shape[1] - bar.shape[1]) // 2  # the canvas is widened evenly
    assert np.abs(out[:, pad:pad + bar.shape[1]] - bar).max() < 0.05
    assert slope(np.zeros((5, 5))) == 0.0


def test_mnist_like_deskews_a_slanted_digit():
    """Through the whole pipeline: a "1" leaning left (its foot 0.43 columns
    right per row) on paper comes out upright, unless the step is skipped."""
    paper = 0.9 - 0.8 * strokes((200, 200), [((70, 30), (130, 170))], width=10)
    assert abs(slope(mnist_like(paper))) < 0.05
    assert slope(mnist_like(paper, skip=["deskew"])) > 0.3


# ---- smooth_blocks ----------------------------------------------------------------
def blocky(small, k):
    """``small`` (2-D in [0, 1]) enlarged k times by repeating pixels."""
    return np.kron(small, np.ones((k, k)))


def test_block_size_is_found_and_smoothing_removes_the_staircase():
    small = np.full((8, 8), 0.9)
    small[1:7, 3] = small[1, 2:6] = 0.1  # a dark "T"-ish digit on light paper ...
    small[1:7, 4] = 0.5  # ... with a stroke half as dark beside its stem
    image = blocky(small, 12)
    assert block_size(image, 0)[0] == 12 and block_size(image, 1)[0] == 12
    out = smooth_blocks(image)
    assert out.shape == image.shape
    # Inside every 12x12 block the enlargement was flat; smoothed, the blocks
    # on the digit's edge are not.
    blocks = out.reshape(8, 12, 8, 12).transpose(0, 2, 1, 3).reshape(64, -1)
    assert (np.ptp(blocks, axis=1) > 0.3).sum() >= 8
    # Cut into ink and paper: the grey stroke comes out as dark as the black one.
    assert out[12 * 3 + 6, 12 * 4 + 6] < 0.2  # the middle of a grey block (0.5 before)
    assert out[12 * 3 + 6, 12 * 6 + 6] > 0.85  # and of a paper block (0.9)


def test_smooth_blocks_leaves_other_images_alone():
    rng = np.random.default_rng(1)
    photo = rng.uniform(0, 1, (60, 80))
    assert smooth_blocks(photo) is photo
    assert smooth_blocks(blocky(rng.uniform(0, 1, (20, 20)), 2)) is not None  # k = 2: as is
    twice = blocky(rng.uniform(0, 1, (20, 20)), 2)
    assert smooth_blocks(twice) is twice
    page = np.ones((50, 50))
    assert smooth_blocks(page) is page  # no runs at all


# ---- remove_ruled_lines --------------------------------------------------------------
def ruled_one(tilt_degrees=1.0, line=1.0):
    """A vertical stroke (a "1") crossing three ruled lines as dark as it
    (``line``: their ink), tilted ``tilt_degrees``; returns (ink, the stroke alone)."""
    h, w = 200, 240
    one = strokes((h, w), [((120, 30), (120, 170))], width=6)
    rise = np.tan(np.deg2rad(tilt_degrees)) * w
    lines = strokes((h, w), [((0, y), (w, y + rise)) for y in (50, 100, 150)], width=2)
    return np.maximum(one, line * lines), one


@pytest.mark.parametrize("tilt", [-1.5, 0.0, 1.0])
def test_ruled_lines_as_dark_as_the_pen_are_erased_and_the_stroke_kept(tilt):
    ink, one = ruled_one(tilt)
    out = remove_ruled_lines(ink)
    away = np.ones_like(one, dtype=bool)
    away[:, 105:136] = False  # the stroke and a margin round it
    assert ink[away].sum() > 1000 and out[away].sum() < 0.02 * ink[away].sum()
    assert np.allclose(out[one > 0.5], ink[one > 0.5])  # not a pixel of the stroke lost


def test_a_single_long_bar_is_not_a_ruled_line():
    """A 7's bar, cropped tight, spans the image: one line is not ruled paper."""
    seven = strokes((100, 80), [((0, 5), (80, 5)), ((80, 5), (30, 95))], width=6)
    assert np.array_equal(remove_ruled_lines(seven), seven)


def test_the_new_steps_can_be_switched_off():
    assert {"deskew", "smooth_blocks", "remove_lines"} <= set(STEPS)


def test_a_blocky_scan_keeps_the_width_smooth_blocks_gave_it():
    """normalise_width is for a pen's width; after smooth_blocks has redrawn an 8x8
    scan it is left out (it broke such scans' strokes apart), and it still acts on
    an ordinary drawing."""
    small = np.zeros((8, 8))
    small[1:7, 2] = small[1:7, 5] = small[1, 2:6] = small[6, 2:6] = 1.0  # a ring, 8x8
    scan = 1.0 - np.kron(small, np.ones((12, 12)))                     # enlarged, dark ink
    np.testing.assert_array_equal(mnist_like(scan), mnist_like(scan, skip=("normalise_width",)))
    # A thin pen's digit, drawn smoothly: the width step still makes it MNIST-wide.
    page = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(page).ellipse((60, 30, 140, 170), outline=0, width=3)
    drawn = np.asarray(page, dtype=np.float64) / 255
    assert not np.array_equal(mnist_like(drawn), mnist_like(drawn, skip=("normalise_width",)))


# An 8x8 scan whose 8 touches all four edges (as UCI's 8x8 digits, a real
# collection, often do).
FRAME_FILLING_8 = np.array([[0, 0, 1, 1, 1, 1, 0, 0], [0, 1, 1, 0, 0, 1, 1, 0],
                            [0, 1, 1, 0, 0, 1, 1, 0], [0, 0, 1, 1, 1, 1, 0, 0],
                            [0, 1, 1, 0, 0, 1, 1, 0], [1, 1, 0, 0, 0, 0, 1, 1],
                            [1, 1, 0, 0, 0, 0, 1, 1], [0, 1, 1, 1, 1, 1, 1, 0]], dtype=np.float64)


def smoothly(small, side, resample=Image.BILINEAR):
    """``small`` ink (1 = ink) as dark ink on paper, enlarged to side x side."""
    page = Image.fromarray(np.round((1.0 - small) * 255).astype(np.uint8))
    return np.asarray(page.resize((side, side), resample), dtype=np.float64) / 255


def assert_one_stroke_around_a_loop(seen, loops=1):
    from scipy import ndimage
    ink = seen > 0.5
    assert ndimage.label(ink)[1] == 1
    assert ndimage.label(~ink)[1] >= 1 + loops  # the paper around it, and the loops


def test_a_blocky_scan_filling_its_frame_is_read_in_one_piece():
    """The 8x8 scan enlarged blockily: the paper cannot be fitted to a border
    the ink covers, and the local paper estimate (flatten_paper), whose window
    is no wider than these strokes, took them for paper and cut the 8 into four
    pieces with no loop. A scan has no shadow to flatten: it must come out as
    one stroke around a loop."""
    assert_one_stroke_around_a_loop(mnist_like(1.0 - np.kron(FRAME_FILLING_8, np.ones((8, 8)))))


@pytest.mark.parametrize("small, loops", [
    # a 0 touching all four edges: its sides were taken for paper (six pieces, no loop)
    ([[0, 0, 1, 1, 1, 1, 0, 0], [0, 1, 1, 0, 0, 1, 1, 0], [0, 1, 0, 0, 0, 0, 1, 0],
      [1, 1, 0, 0, 0, 0, 1, 1], [1, 1, 0, 0, 0, 0, 1, 1], [0, 1, 0, 0, 0, 0, 1, 0],
      [0, 1, 1, 0, 0, 1, 1, 0], [0, 0, 1, 1, 1, 1, 0, 0]], 1),
    # an 8 touching the top and bottom edges: read as blank paper; with no
    # paper fitted to its border (so much of it is ink), cut into ink and
    # paper first, or it keeps only one of its loops
    ([[0, 0, 1, 1, 1, 1, 0, 0], [0, 1, 1, 0, 0, 1, 1, 0], [0, 1, 1, 0, 0, 1, 1, 0],
      [0, 0, 1, 1, 1, 1, 0, 0], [0, 1, 1, 0, 0, 1, 1, 0], [0, 1, 0, 0, 0, 0, 1, 0],
      [0, 1, 1, 0, 0, 1, 1, 0], [0, 0, 1, 1, 1, 1, 0, 0]], 2)])
def test_a_smooth_scan_reaching_its_frame_is_read_in_one_piece(small, loops):
    """8x8 scans whose ink reaches the frame (as UCI's digits often do),
    enlarged smoothly (bilinear) to 64x64: no blocks for smooth_blocks to find,
    but every step from paper to ink is spread over 8 pixels, which no pen's
    edge is. A scan has no shadow to flatten: the local paper estimate, whose
    window is no wider than these strokes, must not cut them apart."""
    image = smoothly(np.array(small, dtype=np.float64), 64)
    assert is_smooth_scan(image)
    assert_one_stroke_around_a_loop(mnist_like(image), loops)


def test_only_small_smooth_enlargements_count_as_scans():
    """A drawing with anti-aliased edges is not a smooth scan, nor is a large
    picture whose edges are blurred (a phone's photo out of focus); a 12x12 or
    16x16 scan enlarged to 96 pixels (bilinear or bicubic) is, and a 2x
    enlargement is too mild to tell from a blurred drawing."""
    ring = strokes((96, 96), [((30, 20), (66, 20)), ((66, 20), (66, 76)),
                              ((66, 76), (30, 76)), ((30, 76), (30, 20))], width=6)
    assert not is_smooth_scan(1.0 - ring)
    for pixels in (12, 16):
        small = np.asarray(Image.fromarray(np.float32(ring)).resize((pixels, pixels), Image.BOX))
        for resample in (Image.BILINEAR, Image.BICUBIC):
            assert is_smooth_scan(smoothly(small, 96, resample))
    assert not is_smooth_scan(smoothly(small, 32))  # 16 -> 32: twice
    from scipy import ndimage
    big = ndimage.zoom(1.0 - ring, 12, order=1)  # 1152 x 1152, edges spread over 12 pixels
    assert not is_smooth_scan(big)
