"""Charts shared by the alert e-mail (PNG) and `monitor report` (SVG), drawn with matplotlib.

Every figure is built with `Figure` directly (no pyplot: no global state, no GUI backend)
and with mathtext off, so a payee called "$x$" is drawn as written. Payee names are
hostile: in SVG output matplotlib writes text as escaped XML character data, and
`monitor report` embeds each SVG as an image, where no script in it could run anyway.
The SVG output is reproducible: fixed id salt, no date.
"""
from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from itertools import accumulate

from monitor.detection.catalog import detectors
from monitor.settings.config import Config

TIER_COLOURS = {"warning": "#c98a00", "high": "#d9480f", "critical": "#7b1fa2"}
SPEND_COLOUR = "#b3261e"
BAR_COLOUR = "#3b5b92"
MIN_SPAN_DAYS = 14
# Text as <text> elements (small, selectable, searchable; escaped by matplotlib), the
# browser's sans-serif when DejaVu is not installed; ids salted so the file is the same twice.
SVG_SETTINGS = {"svg.fonttype": "none", "svg.hashsalt": "payment-monitor"}


@contextmanager
def _drawing():
    """rc settings every chart is built under: no mathtext, glyph warnings quiet
    (a CJK or emoji name the font lacks draws as boxes)."""
    import matplotlib
    with matplotlib.rc_context({"text.parse_math": False}), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def tiers(config: Config, detector: str) -> tuple:
    """(name, level) of a detector's severity tiers, lowest first; () when it has none."""
    for d in detectors(config):
        if d.name == detector:
            found = [(k[5:], float(v)) for k, v in d.params.items()
                     if k.startswith("tier_") and v is not None]     # not the text params
            return tuple(sorted(found, key=lambda tier: tier[1]))
    return ()


def _thousands(currency: str = ""):
    from matplotlib.ticker import FuncFormatter
    suffix = f" {currency}" if currency else ""
    return FuncFormatter(lambda v, _: f"{v:,.0f}{suffix}")


def spend_figure(*, payee: str, where: str, points: Sequence[tuple[date, Decimal]],
                 tiers: Sequence[tuple[str, float]], first_alert: date | None = None,
                 currency: str = "", size: tuple[float, float] = (6.4, 2.6)):
    """Cumulative unexplained spend (the evidence charges) over time, with the tier lines
    up to the first one above it and, when given, the first-alert day marked."""
    from matplotlib.dates import date2num
    from matplotlib.figure import Figure

    with _drawing():
        days = [day for day, _ in points]
        totals = list(accumulate(float(amount) for _, amount in points))
        figure = Figure(figsize=size, dpi=100)
        axes = figure.add_subplot()
        axes.step(days, totals, where="post", color=SPEND_COLOUR, linewidth=2)
        axes.plot(days, totals, "o", color=SPEND_COLOUR, markersize=3)
        top = max(totals + [0.0])
        unit = f" {currency}" if currency else ""
        for number, (name, level) in enumerate(tiers):
            colour = TIER_COLOURS.get(name, "grey")
            axes.axhline(level, linestyle="--", linewidth=1, color=colour)
            right = number % 2 == 1         # neighbouring tiers' labels on opposite sides
            axes.annotate(f"{name} {level:,.0f}{unit}", (1 if right else 0, level),
                          xycoords=("axes fraction", "data"), xytext=(-4 if right else 4, 2),
                          textcoords="offset points", fontsize=7, color=colour,
                          ha="right" if right else "left")
            top = max(top, level)
            if level > max(totals + [0.0]):
                break
        top = top or 1.0
        axes.set_ylim(min(totals + [0.0]) - 0.04 * top, top * 1.12)   # room for the labels
        _date_axis(axes, days + ([first_alert] if first_alert else []))
        if first_alert is not None:
            low, high = axes.get_xlim()
            right_half = date2num(first_alert) > (low + high) / 2
            axes.axvline(first_alert, color="#222222", linewidth=1, linestyle=":")
            axes.annotate(f"first alert {first_alert:%d %b %Y}", (first_alert, 1),
                          xycoords=("data", "axes fraction"), xytext=(-3 if right_half else 3, -10),
                          textcoords="offset points", fontsize=7, color="#222222",
                          ha="right" if right_half else "left")
        axes.set_title(f"Cumulative unexplained spend to {payee}, {where}", fontsize=9,
                       loc="left")
        axes.yaxis.set_major_formatter(_thousands())
        if currency:
            axes.set_ylabel(currency, fontsize=7)
        axes.grid(axis="y", linewidth=0.3)
        axes.tick_params(labelsize=7)
        figure.tight_layout()
    return figure


def _date_axis(axes, days: list[date]) -> None:
    """Dates as dates (never hours), over at least MIN_SPAN_DAYS so that a burst of
    charges on one or two days is not stretched across the whole chart."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    if days:
        first, last = min(days), max(days)
        pad = max(timedelta(days=1), (timedelta(days=MIN_SPAN_DAYS) - (last - first)) / 2)
        axes.set_xlim(first - pad, last + pad)
    locator = AutoDateLocator(minticks=3, maxticks=8, interval_multiples=True)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def bar_figure(*, labels: Sequence[str], values: Sequence[Decimal], title: str,
               currency: str = "", horizontal: bool = True, width: float = 6.4):
    """A bar per label (payee or initiator names when horizontal, months when not)."""
    from matplotlib.figure import Figure

    with _drawing():
        numbers = [float(v or 0) for v in values]
        height = max(1.8, 0.26 * len(labels) + 0.9) if horizontal else 2.4
        figure = Figure(figsize=(width, height), dpi=100)
        axes = figure.add_subplot()
        if horizontal:
            shown = [label if len(label) <= 40 else label[:39] + "…" for label in labels]
            places = list(range(len(labels)))[::-1]          # the largest at the top
            axes.barh(places, numbers, color=BAR_COLOUR)
            axes.set_yticks(places, shown)
            axes.xaxis.set_major_formatter(_thousands(currency))
            axes.grid(axis="x", linewidth=0.3)
        else:
            places = list(range(len(labels)))
            axes.bar(places, numbers, color=BAR_COLOUR)
            step = max(1, len(labels) // 12)
            slanted = len(labels) > 6
            axes.set_xticks(places[::step], list(labels)[::step], rotation=30 if slanted else 0,
                            ha="right" if slanted else "center")
            axes.yaxis.set_major_formatter(_thousands(currency))
            axes.grid(axis="y", linewidth=0.3)
        axes.set_axisbelow(True)
        axes.set_title(title, fontsize=9, loc="left")
        axes.tick_params(labelsize=7)
        figure.tight_layout()
    return figure


def png(figure) -> bytes:
    buffer = io.BytesIO()
    with _drawing():
        figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def svg(figure) -> bytes:
    """The figure as a standalone SVG document, the same bytes for the same figure."""
    import matplotlib
    buffer = io.BytesIO()
    with _drawing(), matplotlib.rc_context(SVG_SETTINGS):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()
