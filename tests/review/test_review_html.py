"""The HTML report: self-contained, counts in the page, images decodable, text escaped."""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from datetime import UTC
from html.parser import HTMLParser

import pytest

from crampwatch.consumers.store import EventStore
from crampwatch.review.html import render_html
from crampwatch.review.report import build_report
from review.nightgen import NightSpec, evening, fill_store

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """Collects every URL-bearing attribute, the images and the body's data attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.images: list[str] = []
        self.body: dict[str, str] = {}
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href", "action", "data", "poster"):
            if a.get(key):
                self.urls.append(a[key])
        if tag == "img":
            self.images.append(a.get("src") or "")
        if tag == "body":
            self.body = {k: v for k, v in a.items() if k.startswith("data-")}

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Page:
    p = Page()
    p.feed(html)
    return p


@pytest.fixture(scope="module")
def report(nights):
    with EventStore(nights.db, create=False) as store:
        return build_report(store)


@pytest.fixture(scope="module")
def html(report) -> str:
    return render_html(report, tz=UTC)


def png_size(src: str) -> tuple[int, int]:
    assert src.startswith("data:image/png;base64,")
    data = base64.b64decode(src.split(",", 1)[1], validate=True)
    assert data[:8] == PNG_MAGIC
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_page_is_self_contained(html):
    page = parse(html)
    assert all(u.startswith("data:") or u.startswith("#") for u in page.urls), page.urls
    assert not re.search(r"https?://", html)
    assert "Content-Security-Policy" in html


def test_counts_and_plots_of_the_night(html, nights):
    spec = nights.last
    page = parse(html)
    n_real = sum(c.label != "not_a_cramp" for c in spec.cramps)
    assert page.body["data-cramps"] == str(n_real)
    assert page.body["data-cramp-events"] == str(len(spec.cramps))
    assert page.body["data-leg-movements"] == str(spec.n_lms)
    assert page.body["data-periodic"] == str(spec.n_periodic)
    assert page.body["data-positions"] == str(len(spec.positions))
    assert page.body["data-dropouts"] == str(len(spec.issues))
    # timeline + one per cramp + intervals + trends
    assert len(page.images) == 1 + len(spec.cramps) + 1 + 1
    for src in page.images:
        w, h = png_size(src)
        assert w > 100 and h > 100
    text = " ".join(page.text)
    assert "not a medical device" in text
    assert "quinine" not in text.lower()
    assert "22:40" in text  # the first cramp, 600 s after 22:30 UTC
    # every stored night of the week had cramps: the page suggests talking to a doctor
    assert "Cramps on 4 of the 4 monitored nights" in text
    assert "several nights a week are worth mentioning to a doctor" in text


def test_data_is_escaped(report):
    s = report.summary
    evil = replace(s, night="<script>alert(1)</script>")
    # no cramp plots or trends: only the text matters here
    html = render_html(
        replace(report, summary=evil, notes=("<b>x</b>",), traces={}, history=()), tz=UTC
    )
    assert "<script>alert(1)" not in html and "<b>x</b>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_device_id_issue_kind_and_leg_from_data_are_escaped(report):
    """Text that comes over MQTT (device id, a signal issue's kind, the leg) and the night
    in an attribute are escaped by the template: no element or attribute comes from them."""
    from crampwatch.review.summary import Dropout

    s = report.summary
    evil = replace(
        s,
        night='2026-11-24" onload="alert(0)',
        dropouts=(
            Dropout("<script>alert(2)</script>", "dev", "<img src=x onerror=alert(3)>", 60, 90),
        ),
    )
    device = "<script>alert(1)</script>"
    html = render_html(
        replace(report, summary=evil, device_id=device, traces={}, history=()), tz=UTC
    )
    page = parse(html)
    assert page.body["data-night"] == '2026-11-24" onload="alert(0)'
    assert "onload" not in page.body
    assert all(src.startswith("data:image/png;base64,") for src in page.images)  # plots only
    assert html.count("<script>") == 1  # the page's own check script only
    text = " ".join(page.text)
    assert "— <script>alert(1)</script>" in text  # shown as text, in the heading
    assert "<script>alert(2)</script>" in text and "<img src=x onerror=alert(3)>" in text


def test_empty_night_page(tmp_path):
    spec = NightSpec(start=evening(24), hours=7.0)
    with EventStore(tmp_path / "s.sqlite") as store:
        fill_store(store, spec)
        report = build_report(store)
    page = parse(render_html(report, tz=UTC))
    assert page.body["data-cramps"] == "0" and page.body["data-leg-movements"] == "0"
    assert len(page.images) == 1  # the timeline only: nothing else to plot
    text = " ".join(page.text)
    assert "Nothing was detected" in text and "No cramp was detected" in text
