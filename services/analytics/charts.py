"""SVG charts of the analytics tables, drawn by matplotlib's SVG backend: readable without JavaScript.

Every chart is a complete SVG document with a visible title and a subtitle naming the definition
version and the freshness, and with accessible text for screen readers: `role="img"`, `<title>`
and `<desc>` as the first children of the root, tied to it by `aria-labelledby`. The `<desc>` states
every number the chart shows (and which cells are suppressed), so the chart says all it shows in
words as well. Suppressed cells are drawn as empty bars marked "suppressed", never with a value.

matplotlib is used through its object API (`Figure`, no pyplot): no global figure state, nothing
kept between requests, and it is imported when a chart is drawn, not when the API starts.
"""
from __future__ import annotations

import io
import threading
from typing import Any
from xml.sax.saxutils import escape

from services.analytics.domain import STEPS

# matplotlib's rc settings are global and not thread-safe: `rc_context` saves and restores them around a
# save, so two of an API worker's threads (gthread) saving at once would restore each other's settings
_RENDERING = threading.Lock()
MOST_SERIES = 8  # more groups than this make an unreadable chart: the largest are drawn, the desc says so
STEP_LABELS = {"contacted": "Contacted", "replied": "Replied", "interview_scheduled": "Interview\nscheduled",
               "interview_held": "Interview\nheld", "thank_you_sent": "Thank-you\nsent",
               "followed_up": "Followed\nup", "ongoing": "Ongoing"}


def _label(key: dict[str, str]) -> str:
    return ", ".join(key.values()) or "All students"


def _render(figure: Any) -> str:
    import matplotlib

    buffer = io.StringIO()
    # a fixed salt and no date: the same table gives the same bytes
    with _RENDERING, matplotlib.rc_context({"svg.hashsalt": "careerloop", "svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return buffer.getvalue()


def accessible(svg: str, title: str, description: str) -> str:
    """The SVG with role="img", aria-labelledby and `<title>`/`<desc>` first inside its root."""
    start = svg.index("<svg")
    end = svg.index(">", start)
    opening = svg[start:end]
    attributes = ' role="img" aria-labelledby="chart-title chart-desc"'
    head = f'<title id="chart-title">{escape(title)}</title><desc id="chart-desc">{escape(description)}</desc>'
    return svg[:start] + opening + attributes + ">" + head + svg[end + 1:]


def _figure(title: str, subtitle: str) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 5.5))
    axes = figure.add_subplot()
    axes.set_title(f"{title}\n{subtitle}", loc="left", fontsize=11)
    axes.spines[["top", "right"]].set_visible(False)
    return figure, axes


def funnel_svg(answer: dict[str, Any], title: str, subtitle: str) -> str:
    """A grouped bar chart: distinct students at each step, one bar per group (or the total)."""
    rows = [(_label(g["key"]), g) for g in answer["groups"]] or [("All students", answer["total"])]
    rows.sort(key=lambda r: -(r[1]["steps"][0]["students"] or 0))
    drawn, left_out = rows[:MOST_SERIES], rows[MOST_SERIES:]
    from matplotlib.patches import Patch

    figure, axes = _figure(title, subtitle)
    width = 0.8 / len(drawn)
    colours = [f"C{index}" for index in range(len(drawn))]
    for index, (label, row) in enumerate(drawn):
        xs = [step + (index - (len(drawn) - 1) / 2) * width for step in range(len(STEPS))]
        values = [cell["students"] or 0 for cell in row["steps"]]
        bars = axes.bar(xs, values, width, color=colours[index], label=label)
        for bar, cell in zip(bars, row["steps"], strict=True):
            if cell["suppressed"]:  # an empty bar in the group's colour, and the word
                bar.set_fill(False)
                bar.set_edgecolor(colours[index])
                axes.annotate("suppressed", (bar.get_x() + bar.get_width() / 2, 0), rotation=90, ha="center",
                              va="bottom", fontsize=7, color=colours[index])
    axes.set_xticks(range(len(STEPS)), [STEP_LABELS[s] for s in STEPS], fontsize=8)
    axes.set_ylabel("distinct students")
    if len(drawn) > 1:  # the legend's own patches: a group's first bar may be an empty (suppressed) one
        patches = [Patch(color=colour, label=label) for colour, (label, _) in zip(colours, drawn, strict=True)]
        axes.legend(handles=patches, fontsize=8, frameon=False)
    sentences = [f"Distinct students at each funnel step ({subtitle})."]
    for label, row in drawn:
        cells = [f"{s.replace('_', ' ')} " + ("suppressed" if c["suppressed"] else str(c["students"]))
                 for s, c in zip(STEPS, row["steps"], strict=True)]
        sentences.append(f"{label}: " + "; ".join(cells) + ".")
    if any(c["suppressed"] for _, row in drawn for c in row["steps"]):
        sentences.append(f"A suppressed cell counts fewer than {answer['min_cell']} students, or is hidden so that "
                         "such a cell cannot be worked out from the others and the total.")
    if left_out:
        sentences.append(f"{len(left_out)} smaller groups are not drawn; the JSON and CSV answers list them.")
    return accessible(_render(figure), title, " ".join(sentences))


def engagement_svg(answer: dict[str, Any], title: str, subtitle: str) -> str:
    """A weekly time series: active students (and conversations, for the total) per week."""
    figure, axes = _figure(title, subtitle)
    weeks = answer["weeks"]
    series = [(_label(s["key"]), s["points"]) for s in answer["series"]][:MOST_SERIES] or [
        ("Active students", answer["total"])]
    sentences = [f"Weekly active students ({subtitle})."]
    for label, points in series:
        values = [p["active_students"] for p in points]
        axes.plot(range(len(weeks)), [v if v is not None else float("nan") for v in values], marker="o", label=label)
        for x, point in enumerate(points):
            if point["active_suppressed"]:
                axes.annotate("suppressed", (x, 0), rotation=90, ha="center", va="bottom", fontsize=7)
            elif not answer["series"] and point["conversations_suppressed"]:
                axes.annotate("conversations suppressed", (x, 0), rotation=90, ha="center", va="bottom", fontsize=7)
        sentences.append(f"{label}: " + "; ".join(
            f"week of {p['week']} " + ("suppressed" if p["active_suppressed"] else str(p["active_students"]))
            for p in points) + ".")
    if not answer["series"]:
        talks = [p["conversations"] for p in answer["total"]]
        axes.plot(range(len(weeks)), [v if v is not None else float("nan") for v in talks], marker="s",
                  linestyle="--", label="Conversations")
        sentences.append("Conversations: " + "; ".join(
            f"week of {p['week']} " + ("suppressed" if p["conversations_suppressed"] else str(p["conversations"]))
            for p in answer["total"]) + ".")
    step = max(1, len(weeks) // 12)
    axes.set_xticks(range(0, len(weeks), step), weeks[::step], rotation=45, ha="right", fontsize=8)
    axes.set_ylabel("per week")
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=8, frameon=False)
    if not weeks:
        sentences.append("No activity in this window.")
    return accessible(_render(figure), title, " ".join(sentences))

