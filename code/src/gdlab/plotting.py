"""One house style for every figure: Okabe-Ito colour-blind-safe palette, labelled axes, sizes.

Figures are drawn for a text column about 7 inches wide (the book's column at a 1400 px window,
and an A4 page): at the default width of 6.4 in they are shown at their natural size, so the
font sizes below are the sizes the reader sees.  In a notebook (the book's build, Jupyter) they
are emitted as SVG, a vector format that stays sharp at any zoom and in the PDF.
"""
from __future__ import annotations

import functools
import io
import threading
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
from cycler import cycler

#: Okabe & Ito (2008) palette, distinguishable under the common colour-vision deficiencies.
__all__ = ["PALETTE", "LINESTYLES", "MIN_FONT_PT", "MAX_SVG_BYTES", "STYLE", "apply_style",
           "figure", "figure_legibility_metadata", "smallest_font_pt"]

PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
LINESTYLES: tuple[str, ...] = ("-", "--", "-.", ":")

#: Smallest font size (points, at the figure's natural size) that the style uses anywhere.
MIN_FONT_PT: float = 9.0

#: A figure whose SVG would be larger than this (bytes) is sent as a 2x PNG instead (dense scatter
#: plots make multi-megabyte SVGs that slow every page down).
MAX_SVG_BYTES: int = 1_000_000

STYLE: dict[str, object] = {
    "figure.figsize": (6.4, 3.8),
    "figure.dpi": 100,
    "savefig.dpi": 200,  # raster output (``savefig`` to PNG) at twice the screen resolution
    "svg.fonttype": "path",  # text drawn as glyph outlines: identical on every machine, no font needed
    "axes.prop_cycle": cycler(color=PALETTE),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": MIN_FONT_PT,
    "ytick.labelsize": MIN_FONT_PT,
    "legend.fontsize": MIN_FONT_PT,
    "legend.title_fontsize": MIN_FONT_PT,
    "figure.titlesize": 11,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
}


def figure_legibility_metadata(fig, width_in: float, font_pt: float | None = None) -> dict[str, str]:
    """What a reader of the image needs to check its text size: smallest font and saved width.

    ``min-font-pt`` is :func:`smallest_font_pt` and ``width-in`` the width of the saved image in
    inches; shown ``d`` CSS pixels wide, the smallest text is ``min-font-pt * d / (96 * width-in)``
    points on screen.  Written into the SVG (``<dc:description>``) and PNG (text chunk) files.
    ``font_pt``, when given, is that smallest font (already measured).
    """
    font = smallest_font_pt(fig) if font_pt is None else font_pt
    return {"min-font-pt": f"{font:.2f}", "width-in": f"{width_in:.4f}"}


def _png_with_text(data: bytes, text: dict[str, str]) -> bytes:
    """``data`` (a PNG file) with ``tEXt`` chunks for ``text`` after its header and existing text chunks.

    Where matplotlib's ``savefig(..., metadata=text)`` puts them, so the file is the same as a second
    save with that metadata, without drawing the figure again.
    """
    import struct
    import zlib

    pos = 8  # after the signature
    while True:  # skip IHDR and any text chunks that follow it
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if pos > 8 and kind != b"tEXt":
            break
        pos += 12 + length
    chunks = b""
    for key, value in text.items():
        body = b"tEXt" + key.encode("latin-1") + b"\0" + value.encode("latin-1")
        chunks += struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    return data[:pos] + chunks + data[pos:]


class _TooHeavy(Exception):
    """Raised by :class:`_CappedBytes` once more than its limit has been written."""


class _CappedBytes(io.BytesIO):
    """A byte buffer that refuses to grow past ``limit`` bytes (raises :class:`_TooHeavy`).

    matplotlib's SVG backend writes each element as it draws it, so a figure whose SVG would be too
    heavy stops drawing as soon as it is known to be: the decision is the same as measuring the whole
    file, without drawing the rest of a dense scatter plot only to discard it.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def write(self, data) -> int:  # type: ignore[override]
        if self.tell() + len(data) > self.limit:
            raise _TooHeavy
        return super().write(data)


class _NotebookFigureFormats:
    """IPython formatters: SVG for a figure (vector), or a 2x PNG when the SVG would be too heavy.

    Each figure is drawn once per format: the smallest font is read from the texts of the save that
    just happened (tick labels exist only after a draw), and the PNG's text chunks are inserted into
    the file instead of saving it twice.
    """

    _DESCRIPTION = "gdlab-legibility"  # placeholder in the SVG metadata, replaced once the width is known

    def __init__(self) -> None:
        self._too_heavy: dict[int, bool] = {}

    def svg(self, fig):
        import re

        if not fig.axes and not fig.texts:
            return None
        out = _CappedBytes(MAX_SVG_BYTES)
        try:
            # the arguments of IPython's print_figure, writing into the capped buffer
            fig.canvas.print_figure(out, format="svg", facecolor=fig.get_facecolor(), edgecolor=fig.get_edgecolor(),
                                    dpi=fig.dpi, bbox_inches="tight", metadata={"Description": self._DESCRIPTION})
        except _TooHeavy:  # the PNG formatter, called next, sends it instead
            self._too_heavy[id(fig)] = True
            return None
        data = out.getvalue().decode("utf-8")
        font = smallest_font_pt(fig, draw=False)
        self._too_heavy[id(fig)] = False  # no PNG for this figure
        width_in = float(re.search(r'<svg[^>]*\bwidth="([0-9.]+)pt"', data).group(1)) / 72
        meta = figure_legibility_metadata(fig, width_in, font_pt=font)
        return data.replace(f"{self._DESCRIPTION}<", "; ".join(f"{k}={v}" for k, v in meta.items()) + "<", 1)

    def png(self, fig):
        import struct

        from IPython.core.pylabtools import print_figure

        if not self._too_heavy.pop(id(fig), True) or (not fig.axes and not fig.texts):
            return None
        dpi = 2 * fig.dpi
        data = print_figure(fig, "png", bbox_inches="tight", dpi=dpi)
        font = smallest_font_pt(fig, draw=False)
        width_px, height_px = struct.unpack(">II", data[16:24])  # the PNG's IHDR chunk
        meta = figure_legibility_metadata(fig, width_px / dpi, font_pt=font)
        return _png_with_text(data, meta), {"width": width_px // 2, "height": height_px // 2}


_FORMATS = _NotebookFigureFormats()


def _use_vector_figures_in_notebooks() -> None:
    """Register the SVG-or-2x-PNG figure formatters with IPython (a no-op outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the book, not of gdlab
        return
    shell = get_ipython()
    if shell is None:
        return
    from matplotlib.figure import Figure
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats("png")  # resets the inline backend's own figure formatters
    formatters = shell.display_formatter.formatters
    formatters["image/png"].for_type(Figure, _FORMATS.png)
    formatters["image/svg+xml"].for_type(Figure, _FORMATS.svg)


@functools.lru_cache(maxsize=1024)
def _vector_parse(text: str, dpi: float, prop, antialiased: bool, load_glyph_flags, rc: tuple, thread: int):
    """matplotlib's vector parse of the math text ``text`` (its ``MathTextParser._parse_cached`` uncached).

    ``rc`` (the ``mathtext.*`` and ``font.*`` settings, read while parsing) and ``thread`` (matplotlib keeps
    its font objects per thread) only key the cache.
    """
    from matplotlib.mathtext import MathTextParser

    assert _MATPLOTLIB_PARSE is not None
    return _MATPLOTLIB_PARSE.__wrapped__(MathTextParser("path"), text, dpi, prop, antialiased, load_glyph_flags)


def _shared_parse_cached(self, s, dpi, prop, antialiased, load_glyph_flags):
    """``MathTextParser._parse_cached`` with one cache for all the parsers of vector output (matplotlib 3.11
    parses math as vectors for SVG, PNG and PDF alike); raster output keeps matplotlib's own cache."""
    assert _MATPLOTLIB_PARSE is not None
    if self._output_type != "vector":
        return _MATPLOTLIB_PARSE(self, s, dpi, prop, antialiased, load_glyph_flags)
    rc = tuple((key, str(mpl.rcParams[key])) for key in _MATH_RC_KEYS)
    return _vector_parse(s, dpi, prop, antialiased, load_glyph_flags, rc, threading.get_ident())


#: matplotlib's ``MathTextParser._parse_cached`` (cached per parser), once :func:`_share_mathtext_parses` ran.
_MATPLOTLIB_PARSE: Any = None
#: The settings a math-text parse reads (fonts and math fonts), part of the shared cache's key.
_MATH_RC_KEYS: tuple[str, ...] = ()


def _share_mathtext_parses() -> None:
    """Let every renderer reuse the parses of a math text (log-axis tick labels such as ``10^{-3}``, labels).

    matplotlib caches parses per ``MathTextParser``, and every renderer has its own parser; an SVG save
    makes two renderers (layout, then drawing), so each math text was parsed again at every save: about
    a quarter of the drawing time of a chapter's figures. A parse depends on its arguments (text, dpi,
    font properties, antialiasing, glyph flags) and on the ``mathtext.*`` and ``font.*`` settings, so
    vector parses share one cache keyed on all of these (and on the thread: matplotlib's font objects are
    per thread). The files are byte for byte those of matplotlib's own caching (``tests/test_plotting.py``).
    A no-op if matplotlib's private method is not the cached function this expects.
    """
    global _MATPLOTLIB_PARSE, _MATH_RC_KEYS
    from matplotlib.mathtext import MathTextParser

    current = MathTextParser.__dict__.get("_parse_cached")
    if _MATPLOTLIB_PARSE is not None or not hasattr(current, "__wrapped__"):
        return
    _MATPLOTLIB_PARSE = current
    _MATH_RC_KEYS = tuple(sorted(key for key in mpl.rcParams if key.startswith(("mathtext.", "font."))))
    MathTextParser._parse_cached = _shared_parse_cached


def apply_style() -> None:
    """Set the book's matplotlib defaults (call once in a chapter's set-up cell).

    Fonts are at least :data:`MIN_FONT_PT` points at the figure's natural size.  In IPython, figures
    are sent as SVG, or as a PNG at twice the resolution when the SVG would exceed
    :data:`MAX_SVG_BYTES`; both files carry :func:`figure_legibility_metadata`. Math texts are
    parsed once per process (``_share_mathtext_parses``).
    """
    mpl.rcParams.update(STYLE)
    _share_mathtext_parses()
    _use_vector_figures_in_notebooks()


def smallest_font_pt(fig, *, draw: bool = True) -> float:
    """The smallest font size (points, at natural size) of any visible text in ``fig``.

    Tick labels exist only after a draw: ``draw=True`` lays the figure out first (without rendering);
    ``draw=False`` reads the texts of the last draw, e.g. right after a ``savefig``.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> apply_style()
        >>> fig, ax = plt.subplots(); _ = ax.set_xlabel("step size", fontsize=12)
        >>> smallest_font_pt(fig) >= MIN_FONT_PT
        True
        >>> plt.close(fig)
    """
    if draw:
        fig.draw_without_rendering()
    sizes = [
        t.get_fontsize()
        for t in fig.findobj(mpl.text.Text)
        if t.get_visible() and t.get_text().strip() and t.get_figure() is not None
    ]
    return min(sizes) if sizes else float("inf")


def figure(ncols: int = 1, nrows: int = 1, width: float = 6.4, height: float = 3.8, **kwargs):
    """A new figure and axes in the house style (``plt.subplots`` with ``layout='constrained'``)."""
    apply_style()
    return plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", **kwargs)
