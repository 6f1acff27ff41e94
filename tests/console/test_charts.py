"""The console's inline SVG charts: accessible, escaped, drawn to scale."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from server.console.charts import bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def parsed(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def test_a_bar_chart_is_an_image_named_by_its_title_and_description() -> None:
    svg = parsed(bar_chart("by hour", "Messages by hour", ["09", "10", "11"], [2, 4, 0], unit="messages"))
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "by-hour-title by-hour-desc"
    assert svg.find(f"{SVG}title").text == "Messages by hour"  # type: ignore[union-attr]
    assert svg.find(f"{SVG}desc").text == "3 bars; total 6 messages; largest 4"  # type: ignore[union-attr]
    bars = svg.findall(f"{SVG}rect")
    assert [b.find(f"{SVG}title").text for b in bars] == ["09: 2", "10: 4", "11: 0"]  # type: ignore[union-attr]
    heights = [float(b.get("height", "")) for b in bars]
    assert heights[1] == pytest.approx(2 * heights[0]) and heights[2] == 0  # to scale, from zero


def test_labels_are_escaped() -> None:
    markup = str(bar_chart("x", "<b>t</b>", ["<script>alert(1)</script>"], [1]))
    assert "<script>" not in markup and "<b>" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    parsed(markup)  # still well-formed


def test_many_labels_are_thinned_on_the_axis_but_every_bar_keeps_its_title() -> None:
    labels = [f"{h:02d}" for h in range(24)]
    svg = parsed(bar_chart("h", "Hours", labels, list(range(24))))
    axis = [t.text for t in svg.findall(f"{SVG}text") if t.get("text-anchor") == "middle"]
    assert axis == labels[::2]
    assert len(svg.findall(f"{SVG}rect")) == 24


def test_a_line_chart_breaks_where_a_value_is_missing_and_clamps_to_its_scale() -> None:
    svg = parsed(line_chart("mood", "Sentiment", ["01", "02", "03", "04", "05"], [0.5, -0.5, None, 2.0, 0.0]))
    lines = svg.findall(f"{SVG}polyline")
    assert [len(line.get("points", "").split()) for line in lines] == [2, 2]
    points = svg.findall(f"{SVG}circle")
    assert [p.find(f"{SVG}title").text for p in points] == ["01: 0.50", "02: -0.50", "04: 2", "05: 0"]  # type: ignore[union-attr]
    top = min(float(p.get("cy", "")) for p in points)
    assert float(points[2].get("cy", "")) == top  # 2.0 drawn at the top of the -1…1 scale
    assert svg.find(f"{SVG}desc").text == "4 of 5 points; from -0.50 to 2"  # type: ignore[union-attr]


def test_a_line_chart_without_points_says_so() -> None:
    svg = parsed(line_chart("empty", "Sentiment", ["01"], [None]))
    assert svg.find(f"{SVG}desc").text == "no points in this range"  # type: ignore[union-attr]
    assert not svg.findall(f"{SVG}polyline")


def test_labels_and_values_must_pair_up() -> None:
    with pytest.raises(ValueError, match="2 labels but 1 values"):
        bar_chart("x", "X", ["a", "b"], [1])
    with pytest.raises(ValueError, match="1 labels but 2 values"):
        line_chart("x", "X", ["a"], [1.0, 2.0])


def test_ids_are_safe_for_html() -> None:
    markup = str(bar_chart('a" onload="x', "T", ["a"], [1]))
    assert re.search(r'id="a-onload-x-title"', markup)
