"""Layout checks for figures: overlapping text, text running into another panel, legends over data.

    from mmlib.figures import figcheck, plots
    fig = plots.estimate_curves(summary, x="level", panel="knob")
    assert figcheck.problems(fig) == []      # else: readable lines naming the texts and panels

Everything is measured with matplotlib's own renderer (window extents in pixels after a draw), so
what it reports is what the saved PNG/PDF shows. Rules:
- no two drawn text boxes overlap (titles, labels, tick labels, annotations, legend entries);
- a text that belongs to one panel does not run into another panel (e.g. a row label into the
  spectrogram next to it); figure-level text (suptitles, figure legends) runs into no panel;
- no legend box overlaps any panel: legends sit outside the data.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.legend import Legend
from matplotlib.text import Text
from matplotlib.transforms import BboxBase

TOLERANCE = 0.5  # pixels: boxes that only touch do not count


def _overlap(a: BboxBase | np.ndarray, b: BboxBase | np.ndarray) -> bool:
    """Whether two boxes (axis-aligned Bbox, or (4, 2) corners of a rotated one) overlap by more than
    TOLERANCE pixels along every separating axis (the separating axis test for convex polygons)."""
    p, q = _corners(a), _corners(b)
    for poly in (p, q):
        for k in range(4):
            edge = poly[(k + 1) % 4] - poly[k]
            n = np.array([-edge[1], edge[0]]) / (np.hypot(*edge) or 1.0)
            pa, pb = p @ n, q @ n
            if min(pa.max(), pb.max()) - max(pa.min(), pb.min()) <= TOLERANCE:
                return False
    return True


def _corners(box) -> np.ndarray:
    if isinstance(box, BboxBase):
        return np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1], [box.x0, box.y1]])
    return np.asarray(box, dtype=float)


def _text_corners(t: Text, renderer) -> np.ndarray:
    """The text's own (rotated) rectangle: its axis-aligned window extent would make neighbouring
    tick labels at 30 degrees look overlapping when their glyphs are not."""
    box = t.get_window_extent(renderer)
    angle = np.deg2rad(t.get_rotation())
    if abs(np.sin(angle) * np.cos(angle)) < 1e-6:  # 0 or 90 degrees: the extent is the rectangle
        return _corners(box)
    rotation = t.get_rotation()
    t.set_rotation(0)
    flat = t.get_window_extent(renderer)
    t.set_rotation(rotation)
    c = np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])  # a rotated rectangle's centre = its extent's
    r = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [flat.width / 2, flat.height / 2]
    return c + half @ r.T


def _hidden_ticks(fig: plt.Figure) -> set[int]:
    """ids of tick labels matplotlib does not draw: ticks outside the view, or of axes turned off."""
    out = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            eps = 1e-9 * max(1.0, abs(hi - lo))
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not ax.axison or not (lo - eps <= tick.get_loc() <= hi + eps):
                    out.update({id(tick.label1), id(tick.label2)})
            if not ax.axison:
                out.update({id(axis.label), id(axis.offsetText)})
    return out


def drawn_texts(fig: plt.Figure) -> list[tuple[Text, np.ndarray]]:
    """Every text matplotlib draws, with the (4, 2) corners of its box in pixels (after a draw)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    hidden = _hidden_ticks(fig)
    out, seen = [], set()
    for t in fig.findobj(Text):
        if id(t) in seen or id(t) in hidden or not t.get_visible() or not t.get_text().strip():
            continue
        seen.add(id(t))
        box = t.get_window_extent(renderer)
        if box.width > 0 and box.height > 0:
            out.append((t, _text_corners(t, renderer)))
    return out


def problems(fig: plt.Figure) -> list[str]:
    """Human-readable layout defects of `fig` (empty when clean)."""
    texts = drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    panels = [(ax, ax.get_window_extent(renderer)) for ax in fig.axes if ax.get_visible()]
    legends = [leg for leg in fig.findobj(Legend) if leg.get_visible()]
    legend_texts = {id(t): leg for leg in legends for t in [*leg.get_texts(), leg.get_title()]}
    found = []
    for i, (a, box_a) in enumerate(texts):
        for b, box_b in texts[i + 1:]:
            if _overlap(box_a, box_b):
                found.append(f"text {a.get_text()!r} overlaps text {b.get_text()!r}")
    for t, box in texts:
        owner = None if id(t) in legend_texts else t.axes  # legend entries may run into no panel at all
        for ax, panel in panels:
            if ax is owner or not _overlap(box, panel):
                continue
            found.append(f"text {t.get_text()!r} runs into panel {_name(ax)!r}")
    for leg in legends:
        box = leg.get_window_extent(renderer)
        for ax, panel in panels:
            if _overlap(box, panel):
                found.append(f"legend ({', '.join(t.get_text() for t in leg.get_texts()[:3])}...) covers panel "
                             f"{_name(ax)!r}")
    return found


def _name(ax) -> str:
    return ax.get_title() or ax.get_label() or f"axes at {ax.get_position().bounds}"

