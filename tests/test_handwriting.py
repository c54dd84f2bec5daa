"""Reading real handwriting: each preprocessing step on an image where its
effect is known, a slice of handwriting/benchmark.py, and its --all, which makes
every table and picture the handwriting pages show."""
import os
import posixpath
import re

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import ROOT, run_main, under_ci
from handwriting import benchmark as hb
from handwriting.preprocess import (MNIST_STROKE_WIDTH, STEPS, components, light_on_dark,
                                    max_filter, mnist_like, separate_ink, stroke_width)
from model import MLP


def four(height=120, pen=10, canvas=(200, 200), at=(40, 60)):
    """An open-topped "4" drawn with a round pen: ink coverage in [0, 1] on a
    blank canvas (1 = ink), drawn 4x larger and averaged down."""
    s = 4
    image = Image.new("L", (canvas[1] * s, canvas[0] * s), 0)
    draw = ImageDraw.Draw(image)
    top, left = at[0] * s, at[1] * s
    h = height * s
    strokes = [[(0.15, 0.0), (0.05, 0.65), (0.75, 0.65)], [(0.55, 0.1), (0.55, 1.0)]]
    for stroke in strokes:
        xy = [(left + x * h, top + y * h) for x, y in stroke]
        draw.line(xy, fill=255, width=pen * s, joint="curve")
        for x, y in (xy[0], xy[-1]):
            r = pen * s / 2
            draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
    return np.asarray(image.reduce(s), dtype=np.float64) / 255


def on_paper(ink, paper=0.9, pen=0.1):
    return paper * (1 - ink) + pen * ink


def ink_height(image):
    rows = np.flatnonzero((image > 0.05).any(axis=1))
    return rows[-1] - rows[0] + 1


def correlation(a, b):
    return np.corrcoef(a.ravel(), b.ravel())[0, 1]


# ---- the helpers --------------------------------------------------------------
@pytest.mark.parametrize("size", [3, 5, 9, 31])
def test_max_filter_is_the_maximum_over_the_square(size):
    image = np.random.default_rng(size).random((23, 37))
    r = size // 2
    padded = np.pad(image, r, mode="edge")
    brute = np.array([[padded[i:i + size, j:j + size].max() for j in range(37)]
                      for i in range(23)])
    np.testing.assert_array_equal(max_filter(image, size), brute)


def test_components_are_8_connected_and_separate():
    mask = np.zeros((7, 9), dtype=bool)
    mask[1, 1] = mask[2, 2] = mask[3, 3] = True  # a diagonal: one piece
    mask[1, 5:8] = True  # a bar ...
    mask[2:5, 7] = True  # ... with a leg: one piece (an upside-down L)
    mask[5:7, 0:2] = True  # a block, not touching the diagonal's end at (3, 3)
    labels, boxes, areas = components(mask)
    assert len(boxes) == 3
    assert labels[1, 1] == labels[3, 3] and labels[1, 5] == labels[4, 7]
    assert len({labels[1, 1], labels[1, 5], labels[6, 0]}) == 3
    assert (labels[~mask] == 0).all() and (labels[mask] > 0).all()
    # Each piece's box and pixel count, piece i at index i - 1.
    bar = labels[1, 5] - 1
    assert boxes[bar] == (slice(1, 5), slice(5, 8)) and areas[bar] == 6
    assert areas[labels[6, 0] - 1] == 4


def test_stroke_width_of_known_bars():
    """A bar w px wide and 80 long: 2 * area / outline = w * 80 / (80 + w)."""
    for w in (2, 5, 12):
        image = np.zeros((100, 60))
        image[10:90, 20:20 + w] = 1
        assert stroke_width(image) == pytest.approx(w * 80 / (80 + w), rel=0.02)


# ---- each step on an image where its effect is known ---------------------------
@pytest.mark.parametrize("darkness", [0.35, 1.0])
def test_a_line_across_the_page_is_removed(darkness):
    """Ruled paper: a line across the whole page, faint (35 % of the ink, under
    the histogram's threshold) or as dark as the ink (a piece crossing the page)."""
    ink = four()
    lined = ink.copy()
    lined[20:22, :] = np.maximum(lined[20:22, :], darkness)  # above the digit
    page, clean = on_paper(lined), on_paper(ink)
    kept = separate_ink(light_on_dark(page))
    assert kept[20:22, :].max() == 0  # the line is gone ...
    assert kept[118, 100] > 0.9 and kept[150, 126] > 0.9  # ... the digit's strokes are not
    np.testing.assert_allclose(mnist_like(page), mnist_like(clean), atol=0.02)
    # Without the step the line stays, and the crop takes it in.
    assert correlation(mnist_like(page, skip=["separate_ink"]), mnist_like(clean)) < 0.8


def test_a_line_through_the_digit_is_removed_outside_it():
    """A faint line crossing the digit's strokes: gone, except for stubs a
    stroke's width long beside them (they are kept with the strokes' soft
    edges); the digit comes out close to the clean one (measured: correlation
    0.85)."""
    ink = four()
    lined = np.maximum(ink, 0.3 * (np.abs(np.arange(200) - 80) < 1)[:, None])
    kept = separate_ink(light_on_dark(on_paper(lined)))
    assert kept[79:81, :40].max() == 0 and kept[79:81, 160:].max() == 0
    clean = mnist_like(on_paper(ink))
    assert correlation(mnist_like(on_paper(lined)), clean) > 0.8
    # With the step off the crop spans the line, and the digit shrinks to 13 rows.
    # (normalise_width is off too: it re-crops after resampling, which loses a
    # line this faint and thin by chance.)
    off = ["separate_ink", "normalise_width"]
    assert ink_height(mnist_like(on_paper(lined), skip=off)) < 15
    assert ink_height(mnist_like(on_paper(lined))) == 20


def test_a_shadow_edge_is_flattened():
    """A shadow with a sharp edge across the page and the digit: the paper on
    both sides of the edge reads as no ink, and the strokes in the shadow as
    strong as in the light."""
    ink = four()
    rows, cols = np.mgrid[0:200, 0:200]
    light = np.where(cols + 0.3 * rows > 110, 0.45, 1.0)  # the edge crosses the digit
    page = on_paper(ink) * light
    flat = light_on_dark(page)
    paper = ink < 0.01
    # The edge left no ink behind, but for a few pixels in the acute corner it
    # makes with the image's border, which no window fits into (measured: 18).
    assert np.count_nonzero(flat[paper] > 0.05) < 40
    assert flat[40:180, 40:180][paper[40:180, 40:180]].max() < 0.05
    in_shadow = (ink > 0.99) & (light < 1)
    in_light = (ink > 0.99) & (light == 1)
    assert in_shadow.sum() > 300 and in_light.sum() > 300
    assert np.median(flat[in_shadow]) == pytest.approx(np.median(flat[in_light]), abs=0.05)
    assert correlation(mnist_like(page), mnist_like(on_paper(ink))) > 0.97
    # A plane fitted to the border (the step switched off) takes one side for ink.
    plane = light_on_dark(page, local=False)
    assert max(plane[paper & (light < 1)].mean(), plane[paper & (light == 1)].mean()) > 0.3


def test_a_small_digit_in_a_large_noisy_photo_is_taken_for_dark_ink():
    """Paper grain is the same on both sides of the paper's level; summed over
    a 640x480 photo it outweighed a digit 30 pixels tall, which then came out
    inverted (the benchmark's 'small in a large photo' lost 6 of 100 so)."""
    ink = np.zeros((480, 640))
    ink[200:240, 300:340] = four(height=30, pen=3, canvas=(40, 40), at=(4, 8))
    for seed in range(6):  # the grain's two sides differ by chance: half the seeds failed
        photo = on_paper(ink) + np.random.default_rng(seed).normal(0, 0.03, ink.shape)
        flat = light_on_dark(photo)
        assert flat[ink > 0.9].mean() > 0.5 and flat[ink == 0].mean() < 0.01, seed
    assert correlation(mnist_like(photo), mnist_like(on_paper(ink))) > 0.9


def test_a_thin_stroke_comes_out_at_full_intensity():
    """A pen 1.7 % of the digit's height: shrunk 9x, the stroke averages with the
    paper around it into grey; the strongest ink is stretched to 1 after resizing."""
    page = on_paper(four(height=180, pen=3, canvas=(240, 240), at=(30, 80)))
    assert mnist_like(page).max() == pytest.approx(1)
    faint = mnist_like(page, skip=["restretch", "normalise_width"])
    assert faint.max() < 0.7  # what the network saw before (measured: 0.46)


@pytest.mark.parametrize("pen", [1, 45])
def test_stroke_width_comes_out_near_mnists(pen):
    """A thin pen (0.8 % of the height) and a thick marker (37 %): the width the
    network sees is brought into MNIST's range, near its median; untouched, both
    lie outside it (measured: 1.47 -> 2.43 and 5.20 -> 2.32 px; MNIST's median 2.36)."""
    page = on_paper(four(height=120, pen=pen, canvas=(220, 220), at=(40, 60)))
    untouched = stroke_width(mnist_like(page, skip=["normalise_width"]))
    assert not MNIST_STROKE_WIDTH[0] <= untouched <= MNIST_STROKE_WIDTH[2], untouched
    width = stroke_width(mnist_like(page))
    assert abs(width - MNIST_STROKE_WIDTH[1]) < 0.5, (untouched, width)


def test_a_digit_of_mnists_width_is_left_alone():
    page = on_paper(four(height=120, pen=12))
    assert MNIST_STROKE_WIDTH[0] <= stroke_width(mnist_like(page)) <= MNIST_STROKE_WIDTH[2]
    np.testing.assert_array_equal(mnist_like(page), mnist_like(page, skip=["normalise_width"]))


def test_unknown_step_is_refused():
    with pytest.raises(ValueError, match="unknown preprocessing steps"):
        mnist_like(on_paper(four()), skip=["flatten"])


# ---- a slice of the benchmark ----------------------------------------------------
SLICE_DIGITS = (1, 4, 7)
SLICE_CONDITIONS = ("clean", "grid paper", "sharp-edged shadow")


@pytest.fixture(scope="module")
def benchmark_slice():
    """3 digits x 3 conditions x 4 samples, as handwriting/benchmark.py draws them."""
    return list(hb.generate(4, seed=0, conditions=SLICE_CONDITIONS, digits=SLICE_DIGITS,
                            fonts=False))


def test_benchmark_draws_the_same_images_every_time(benchmark_slice):
    again = hb.generate(4, seed=0, conditions=SLICE_CONDITIONS, digits=SLICE_DIGITS, fonts=False)
    for (row, digit, data, _), (row2, digit2, data2, _) in zip(benchmark_slice, again):
        assert (row, digit, data.getvalue()) == (row2, digit2, data2.getvalue())
    other = next(hb.generate(1, seed=1, conditions=["clean"], digits=[1], fonts=False))
    assert other[2].getvalue() != benchmark_slice[0][2].getvalue()


def test_benchmark_slice_is_read_and_each_step_matters(benchmark_slice):
    """With the shipped default model, 12 images per condition. Measured: all 36
    read right; without separate_ink grid paper 9 of 12; without flatten_paper
    the shadow 1 of 12; the clean digits 12 of 12 with or without the steps."""
    model = MLP.load(os.path.join(ROOT, "model.npz"))
    rows = np.array([row for row, _, _, _ in benchmark_slice])
    truth = np.array([digit for _, digit, _, _ in benchmark_slice])
    buffers = [data for _, _, data, _ in benchmark_slice]

    def right(skip=()):
        seen, refused = hb.read_all(buffers, skip)
        correct = np.where(refused, -1, model.predict(seen)) == truth
        return {row: int(correct[rows == row].sum()) for row in SLICE_CONDITIONS}

    assert min(right().values()) >= 11
    assert right(["separate_ink"])["grid paper"] <= 10
    assert right(["flatten_paper"])["sharp-edged shadow"] <= 6
    assert right(STEPS)["clean"] >= 11  # clean digits were read before the steps too


@pytest.mark.slow  # draws and reads every condition and font
def test_benchmark_command_writes_its_report(tmp_path, monkeypatch):
    """The whole command, 1 sample per digit: table, confusions, report and picture."""
    monkeypatch.setattr(hb, "FONT_PACKAGES", hb.FONT_PACKAGES[:1] + [
        ("fonts-not-installed", str(tmp_path / "missing.ttf"))])
    hb.main(["--per-digit", "1", "--out", str(tmp_path)])
    report = (tmp_path / "handwriting.md").read_text()
    for row in hb.CONDITIONS:
        assert f"| {row} |" in report
    assert "fonts-not-installed (not installed: apt-get install fonts-not-installed)" in report
    data = __import__("json").loads((tmp_path / "handwriting.json").read_text())
    assert set(data["accuracy"]["default"]) >= set(hb.CONDITIONS)
    picture = Image.open(tmp_path / "handwriting_samples.png")
    assert picture.size[0] > 500 and picture.size[1] > 1000


def test_benchmark_refuses_an_unwritable_out_at_once(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(SystemExit) as exit:
        hb.main(["--out", str(tmp_path / "file" / "report")])
    message = str(exit.value.code)  # train.check_writable's, as for every script
    assert message.startswith("error: --out ") and "cannot write there" in message
    assert "\n" not in message


# ---- --all: every table and picture the handwriting pages show ----------------------
HANDWRITING_PAGES = ["docs/reading-handwriting.md", "docs/drawing-page.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")  # [text](target) and ![alt](target)
NAMED = re.compile(r"\bdocs/(?:images|reports)/[\w-]+(?:\.\w+)+")  # `docs/reports/x.json`


def files_the_handwriting_pages_show():
    """Every file under docs/images and docs/reports that the handwriting pages
    link, embed or name, as a path from the project's folder."""
    shown = set()
    for page in HANDWRITING_PAGES:
        with open(os.path.join(ROOT, page), encoding="utf-8") as f:
            text = f.read()
        targets = [posixpath.normpath(posixpath.join(posixpath.dirname(page), target))
                   for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]
        targets = [target.partition("#")[0] for target in targets] + NAMED.findall(text)
        shown |= {t for t in targets if t.startswith(("docs/images/", "docs/reports/"))}
    return shown


def test_the_pages_name_the_files_the_check_looks_for():
    """The parsing behind the --all test finds pictures, reports and a named
    file on both pages (a parser that found nothing would pass that test)."""
    shown = files_the_handwriting_pages_show()
    assert {"docs/images/handwriting_samples.png", "docs/images/handwriting_hard_styles.png",
            "docs/reports/numbers.md", "docs/reports/strokes.json",
            "docs/images/draw_a_number.png", "docs/images/draw_a_digit_phone.png"} <= shown
    assert all(os.path.isfile(os.path.join(ROOT, path)) for path in shown)


@pytest.mark.slow  # every part at its smallest (~95 s), trains a network, starts Chromium
def test_all_makes_every_picture_and_report_the_handwriting_pages_show(tmp_path, mnist_path):
    """``python -m handwriting.benchmark --all`` into a temporary folder, every
    benchmark at its smallest: each file the handwriting pages show is made (a
    page showing a picture the command does not make fails here), and the
    command says what it wrote."""
    result = run_main("handwriting/benchmark.py", "--all", "--per-digit", 1, "--per-style", 1,
                      "--per-length", 1, "--mnist-images", 100, "--data", mnist_path,
                      "--out", tmp_path)
    shown = files_the_handwriting_pages_show()
    missing = sorted(path for path in shown if not (tmp_path / posixpath.basename(path)).exists())
    skipped = [line for line in result.stdout.splitlines() if line.startswith("skipped ")]
    if missing and not under_ci() and all(
            any(posixpath.basename(path) in line for line in skipped) for path in missing):
        pytest.skip("; ".join(skipped))  # no Chromium here: the browser tests skip too
    assert missing == [], f"shown on the handwriting pages, not made by --all: {missing}"
    assert result.returncode == 0 and skipped == [], result.stdout + result.stderr
    summary = result.stdout.split("\n--all wrote ")[1]
    for path in shown:
        assert f"  {tmp_path / posixpath.basename(path)}\n" in summary, path


def test_all_says_in_one_line_what_it_could_not_make_and_makes_the_rest(tmp_path, monkeypatch):
    """A part this machine cannot make is one line, a failing part another,
    and every other part is still made; only the failure makes the exit status 1."""
    made = []

    def part(name):
        def make(*args):
            made.append(name)
            path = tmp_path / name
            path.write_text(name)
            return [str(path)]
        return make

    def cannot(*args):
        raise hb.Skipped("needs headless Chromium")

    def fails(*args):
        raise ValueError("no such model")

    monkeypatch.setattr(hb, "load_mnist", lambda path: None)
    monkeypatch.setattr(hb, "prepare", lambda *args: (None, None, "test set"))
    monkeypatch.setattr(hb, "standard_tier", part("handwriting.md"))
    monkeypatch.setattr(hb, "hard_tier", fails)
    monkeypatch.setattr(hb, "whole_numbers", part("numbers.md"))
    monkeypatch.setattr(hb, "real_digits", part("real_digits.md"))
    monkeypatch.setattr(hb, "redrawn_mnist", part("strokes.json"))
    monkeypatch.setattr(hb, "augmentation_picture", part("robust_augmentation.png"))
    monkeypatch.setattr(hb, "page_screenshots", cannot)
    result = run_main("handwriting/benchmark.py", "--all", "--out", tmp_path)
    assert made == ["handwriting.md", "numbers.md", "real_digits.md", "strokes.json",
                    "robust_augmentation.png"]
    assert result.returncode == 1
    assert result.stderr.count("failed: the harder tier: no such model\n") == 2  # then, summary
    assert "Traceback" not in result.stderr
    assert result.stdout.count(
        "skipped the drawing page's screenshots: needs headless Chromium\n") == 2
    assert "--all wrote 5 files:" in result.stdout

    monkeypatch.setattr(hb, "hard_tier", part("handwriting_hard.md"))
    assert run_main("handwriting/benchmark.py", "--all", "--out", tmp_path).returncode == 0


def test_all_refuses_a_missing_data_path_before_the_long_part(tmp_path, monkeypatch):
    monkeypatch.setattr(hb, "standard_tier", lambda *args: pytest.fail("ran the long part"))
    result = run_main("handwriting/benchmark.py", "--all", "--data", tmp_path / "no.npz",
                      "--out", tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
