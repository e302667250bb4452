"""Drawing self-contained SVG by hand: a document, text that fits its room, shapes.

Everything drawn as text goes through :func:`label`: escaped for XML, URLs' secrets
masked, cut with an ellipsis to the width it has (the full text then goes in a
``<title>``, the tooltip a browser shows). Text is set in a monospace font, so that its
width is known without measuring: :data:`CHAR_WIDTH` ems a character.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

from asyncbdd.secrets import mask_urls_in

__all__ = [
    "CHAR_WIDTH",
    "FONT_SIZE",
    "MARK_COLOURS",
    "WIDTH",
    "document",
    "fit",
    "label",
    "line",
    "marker",
    "nice_ticks",
    "rect",
    "vertical_marker_line",
]

WIDTH = 1280
"""The width every picture is drawn for, in pixels."""
FONT_SIZE = 15
"""Pixels. Nothing is drawn smaller than :data:`SMALL_SIZE`: still 12 px or more when a
page shows the picture scaled down to 1100 px."""
SMALL_SIZE = 14
CHAR_WIDTH = 0.61
"""The advance of one monospace character, in ems (a little more than most fonts')."""
FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace"

MARK_COLOURS = {
    "arrived": "#2563eb",
    "expected": "#15803d",
    "missing": "#dc2626",
    "out of order": "#ea580c",
    "duplicate": "#7c3aed",
    "unexpected": "#be123c",
    "not matching": "#6b7280",
    "timing": "#b45309",
}
"""The colour of each mark (and of a plain arrival, and of an expected one)."""


def document(width: int, height: int, title: str, body: list[str]) -> str:
    """A complete SVG document: ``body`` (drawn elements) under a ``<title>``."""
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" font-family={quoteattr(FONT)} '
            f'font-size="{FONT_SIZE}">',
            f"<title>{escape(mask_urls_in(title))}</title>",
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
            *body,
            "</svg>",
        ]
    )


def fit(text: str, width: float, size: int = FONT_SIZE) -> tuple[str, bool]:
    """``text`` on one line, cut with an ellipsis to ``width`` pixels; and whether it was cut."""
    flat = " ".join(mask_urls_in(text).split())
    room = max(int(width / (size * CHAR_WIDTH)), 1)
    if len(flat) <= room:
        return flat, False
    return flat[: max(room - 1, 0)] + "\u2026", True


def label(
    x: float,
    y: float,
    text: str,
    *,
    width: float,
    size: int = FONT_SIZE,
    anchor: str = "start",
    fill: str = "#111827",
    weight: str = "normal",
    tooltip: str | None = None,
    attributes: str = "",
) -> str:
    """Text at (``x``, ``y``), no wider than ``width``; cut text (or any ``tooltip``)
    gets a ``<title>`` with the whole of it."""
    shown, cut = fit(text, width, size)
    full = tooltip if tooltip is not None else (text if cut else None)
    title = f"<title>{escape(' '.join(mask_urls_in(full).split()))}</title>" if full else ""
    extra = f" {attributes}" if attributes else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{max(size, SMALL_SIZE)}" '
        f'text-anchor="{anchor}" fill="{fill}" font-weight="{weight}"{extra}>'
        f"{title}{escape(shown)}</text>"
    )


def line(
    x1: float, y1: float, x2: float, y2: float, *, stroke: str, width: float = 1, dash: str = ""
) -> str:
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
        f'stroke-width="{width}"{dashes}/>'
    )


def rect(
    x: float,
    y: float,
    width: float,
    height: float,
    *,
    fill: str,
    stroke: str = "none",
    opacity: float = 1.0,
    tooltip: str | None = None,
    attributes: str = "",
) -> str:
    title = f"<title>{escape(' '.join(mask_urls_in(tooltip).split()))}</title>" if tooltip else ""
    extra = f" {attributes}" if attributes else ""
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 0):.1f}" height="{height:.1f}" '
        f'fill="{fill}" stroke="{stroke}" fill-opacity="{opacity:g}"{extra}>{title}</rect>'
    )


def marker(x: float, y: float, mark: str, *, tooltip: str | None = None, part: str = "item") -> str:
    """The symbol of ``mark`` (a key of :data:`MARK_COLOURS`) centred on (``x``, ``y``),
    each drawn in its own shape so that it reads without colour too. ``part`` says what
    it belongs to: an ``item`` drawn, the ``expected`` list, the ``legend``."""
    colour = MARK_COLOURS.get(mark, MARK_COLOURS["timing"])
    title = f"<title>{escape(' '.join(mask_urls_in(tooltip).split()))}</title>" if tooltip else ""
    tag = f'<g data-mark="{escape(mark)}" data-part="{escape(part)}">{title}'
    r = 6
    if mark == "missing":
        shape = (
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="#ffffff" stroke="{colour}" '
            'stroke-width="2" stroke-dasharray="3 2"/>'
        )
    elif mark == "out of order":
        shape = (
            f'<polygon points="{x:.1f},{y - r - 1:.1f} {x + r + 1:.1f},{y:.1f} '
            f'{x:.1f},{y + r + 1:.1f} {x - r - 1:.1f},{y:.1f}" fill="{colour}"/>'
        )
    elif mark == "duplicate":
        shape = (
            f'<circle cx="{x - 3:.1f}" cy="{y:.1f}" r="{r - 1}" fill="{colour}" '
            'fill-opacity="0.5"/>'
            f'<circle cx="{x + 3:.1f}" cy="{y:.1f}" r="{r - 1}" fill="{colour}"/>'
        )
    elif mark == "unexpected":
        shape = (
            f'<path d="M{x - r:.1f},{y - r:.1f} L{x + r:.1f},{y + r:.1f} '
            f'M{x - r:.1f},{y + r:.1f} L{x + r:.1f},{y - r:.1f}" stroke="{colour}" '
            'stroke-width="3"/>'
        )
    elif mark == "not matching":
        shape = (
            f'<rect x="{x - r + 1:.1f}" y="{y - r + 1:.1f}" width="{2 * r - 2}" '
            f'height="{2 * r - 2}" fill="#ffffff" stroke="{colour}" stroke-width="2"/>'
        )
    elif mark in ("arrived", "expected"):
        shape = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r - 1}" fill="{colour}"/>'
    else:  # at the wrong time
        shape = (
            f'<polygon points="{x:.1f},{y - r:.1f} {x + r:.1f},{y + r:.1f} '
            f'{x - r:.1f},{y + r:.1f}" fill="{colour}"/>'
        )
    return f"{tag}{shape}</g>"


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round values from ``low`` to ``high`` for an axis: steps of 1, 2 or 5 times a
    power of ten, about ``count`` of them."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def vertical_marker_line(
    x: float, top: float, bottom: float, text: str, *, right_edge: float, css: str
) -> list[str]:
    """A dashed vertical line (the deadline) from ``top`` to ``bottom`` with ``text``
    above it, kept inside ``right_edge``."""
    room = 170.0
    shown, _ = fit(text, room)
    half = len(shown) * FONT_SIZE * CHAR_WIDTH / 2
    at, anchor = (x, "middle") if x + half <= right_edge else (right_edge, "end")
    return [
        line(x, top - 8, x, bottom, stroke="#dc2626", width=2, dash="6 4"),
        label(at, top - 12, text, width=room, anchor=anchor, fill="#dc2626",
              attributes=f'class="{css}"'),
    ]  # fmt: skip
