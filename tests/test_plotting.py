"""The notebook figure formatters of ``gdlab.plotting``: one draw per format, the same files as before."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from IPython.core.pylabtools import print_figure  # noqa: E402
from PIL import Image  # noqa: E402

from gdlab import plotting  # noqa: E402


@pytest.fixture
def light_and_heavy():
    plotting.apply_style()
    light, (ax, ax_image) = plotting.figure(ncols=2)
    ax_image.imshow(np.arange(12.0).reshape(3, 4))  # an image: its resolution in the SVG follows the dpi
    ax.plot([0, 1, 2], [1, 0, 2], label="a line")
    ax.set(xlabel="step size", ylabel="loss")
    ax.legend()
    heavy, ax = plotting.figure()
    rng = np.random.default_rng(0)
    ax.scatter(rng.random(60_000), rng.random(60_000), s=1)  # an SVG of several megabytes
    ax.set(xlabel="x", ylabel="y")
    yield light, heavy
    plt.close(light), plt.close(heavy)


def test_png_text_chunks_are_where_savefig_puts_them(light_and_heavy) -> None:
    fig = light_and_heavy[0]
    meta = {"min-font-pt": "9.00", "width-in": "6.1234"}
    plain = print_figure(fig, "png", bbox_inches="tight", dpi=200)
    assert plotting._png_with_text(plain, meta) == print_figure(fig, "png", bbox_inches="tight", dpi=200,
                                                                 metadata=meta)


def test_font_read_after_a_save_is_the_drawn_font(light_and_heavy) -> None:
    fig = light_and_heavy[0]
    fig.axes[0].tick_params(labelsize=7.5)
    print_figure(fig, "svg", bbox_inches="tight")
    assert plotting.smallest_font_pt(fig, draw=False) == plotting.smallest_font_pt(fig) == 7.5


def test_svg_and_png_carry_the_legibility_metadata(light_and_heavy) -> None:
    light, heavy = light_and_heavy
    fmt = plotting._NotebookFigureFormats()
    svg = fmt.svg(light)
    assert "min-font-pt=9.00; width-in=" in svg and fmt._DESCRIPTION not in svg
    assert fmt.png(light) is None, "a light figure is sent as SVG only"
    assert fmt.svg(heavy) is None, "a heavy figure is not sent as SVG"
    data, size = fmt.png(heavy)
    info = Image.open(io.BytesIO(data)).info
    assert info["min-font-pt"] == f"{plotting.smallest_font_pt(heavy):.2f}"
    width_px = Image.open(io.BytesIO(data)).size[0]
    assert size["width"] == width_px // 2, "shown at half its pixel width (a 2x PNG)"
    expected = plotting.figure_legibility_metadata(heavy, width_px / (2 * heavy.dpi))
    assert info["width-in"] == expected["width-in"]
    assert data == print_figure(heavy, "png", bbox_inches="tight", dpi=2 * heavy.dpi, metadata=expected)
    assert not fmt._too_heavy, "per-figure state is dropped once the figure is sent"


def test_svg_is_ipythons_and_a_heavy_one_stops_at_the_limit(light_and_heavy, monkeypatch) -> None:
    """The SVG sent is IPython's ``print_figure`` file (its metadata placeholder filled in), and a
    figure over :data:`~gdlab.plotting.MAX_SVG_BYTES` stops drawing once the limit is passed."""
    light, heavy = light_and_heavy
    fmt = plotting._NotebookFigureFormats()
    placeholder = {"Description": fmt._DESCRIPTION}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # the same date and element ids in both files
    monkeypatch.setitem(matplotlib.rcParams, "svg.hashsalt", "test")
    sent, full = fmt.svg(light), print_figure(light, "svg", bbox_inches="tight", metadata=placeholder)
    head, tail = full.split(fmt._DESCRIPTION, 1)
    assert sent.startswith(head) and sent.endswith(tail), "the SVG is IPython's file but for the metadata"
    assert len(full.encode()) <= plotting.MAX_SVG_BYTES < len(
        print_figure(heavy, "svg", bbox_inches="tight", metadata=placeholder).encode())
    written = []
    write = plotting._CappedBytes.write
    monkeypatch.setattr(plotting._CappedBytes, "write", lambda self, data: written.append(len(data)) or write(self, data))
    assert fmt.svg(heavy) is None
    assert sum(written) <= plotting.MAX_SVG_BYTES + max(written), "the heavy SVG stops at the limit"
    with pytest.raises(plotting._TooHeavy):
        plotting._CappedBytes(10).write(b"x" * 11)


def test_shared_mathtext_parses_give_the_same_file_and_parse_once(monkeypatch) -> None:
    """apply_style's shared cache of math-text parses: the SVG is byte for byte the one drawn with
    matplotlib's own per-parser cache, also under other math settings and for one math text in two math
    font families, and a second save parses nothing again."""
    from matplotlib import _mathtext
    from matplotlib.mathtext import MathTextParser

    plotting.apply_style()
    assert MathTextParser._parse_cached is plotting._shared_parse_cached

    def svg(rc: dict | None = None) -> bytes:
        with matplotlib.rc_context({"svg.hashsalt": "gdlab", **(rc or {})}):
            fig, ax = plotting.figure()
            ax.semilogy(np.arange(1, 60), np.exp(-np.arange(1, 60.0)), label=r"$e^{-k}$")
            ax.set(xlabel=r"iteration $k$", ylabel=r"$\eta\,\|\nabla f\|^2 / f$")
            ax.set_title(r"$e^{-k}$", math_fontfamily="cm")  # the legend's math text, in another font
            ax.legend()
            out = io.BytesIO()
            fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
        plt.close(fig)
        return out.getvalue()

    plotting._vector_parse.cache_clear()  # parses of earlier tests of this process
    parses = []
    parse = _mathtext.Parser.parse
    monkeypatch.setattr(_mathtext.Parser, "parse", lambda self, *a: parses.append(a[0]) or parse(self, *a))
    regular = {"mathtext.default": "regular"}
    shared, shared_regular = svg(), svg(regular)
    assert any(p.startswith(r"$\mathdefault{10^{") for p in parses), "the log axis' tick labels are math texts"
    parses.clear()
    assert svg() == shared and not parses, "a second save reuses every parse"
    monkeypatch.setattr(MathTextParser, "_parse_cached", plotting._MATPLOTLIB_PARSE)
    assert svg() == shared and parses, "matplotlib's own cache parses again and draws the same file"
    own_regular = svg(regular)
    assert own_regular != shared, "the setting changes the drawing"
    assert shared_regular == own_regular, "the shared cache keys on the math settings"
