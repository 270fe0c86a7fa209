"""One house style for every figure: Okabe-Ito colour-blind-safe palette, labelled axes, sizes."""
from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
from cycler import cycler

#: Okabe & Ito (2008) palette, distinguishable under the common colour-vision deficiencies.
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


def apply_style() -> None:
    """Set the book's matplotlib defaults (call once in a chapter's set-up cell)."""
    mpl.rcParams.update(
        {
            "figure.figsize": (6.4, 3.8),
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "axes.prop_cycle": cycler(color=PALETTE),
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 10,
            "legend.frameon": False,
            "lines.linewidth": 1.6,
        }
    )


def figure(ncols: int = 1, nrows: int = 1, width: float = 6.4, height: float = 3.8, **kwargs):
    """A new figure and axes in the house style (``plt.subplots`` with ``layout='constrained'``)."""
    apply_style()
    return plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", **kwargs)
