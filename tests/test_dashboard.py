"""The dashboard end to end: `streamlearn serve` as a user runs it, the page in headless
Chromium, charts with data from the running service, a drift marker after a drift."""

from __future__ import annotations

import signal

import httpx
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import start_serve
from tests.test_monitor import concept

CONFIG = """
[model]
task = "binary"
bits = 12
[drift]
detector = "ADWIN"
signal = "log_loss"
[[challengers]]
optimizer = "sgd"
[checkpoint]
registry = "registry"
every_seconds = 0.5
[service]
port = {port}
token = "t0ken"
publish_every = 0.05
"""
AUTH = {"Authorization": "Bearer t0ken"}
# What scrolls sideways: the page, or a panel (a chart wider than its box).
OVERFLOWING = """
const page = document.documentElement, panels = [...document.querySelectorAll('.panel')];
const wide = panels.filter(p => p.scrollWidth > p.clientWidth + 1)
  .map(p => p.id || p.textContent.slice(0, 20));
if (page.scrollWidth > page.clientWidth + 1) wide.push('the page: ' + page.scrollWidth);
return wide.join('; ');
"""


def learn(base, events):
    for start in range(0, len(events), 1000):
        answer = httpx.post(
            f"{base}/learn", json={"events": events[start : start + 1000]}, headers=AUTH
        )
        assert answer.status_code == 200


def data_points(browser, chart_id):
    found = browser.find_elements(By.ID, chart_id)
    return int(found[0].get_attribute("data-points") or 0) if found else 0


def test_dashboard_shows_live_charts_and_marks_a_drift(tmp_path, browser):
    process, base = start_serve(tmp_path, CONFIG)
    try:
        learn(base, concept(4000, False, 1))
        for _ in range(30):
            httpx.post(f"{base}/predict", json={"features": {"colour": "red"}, "track": False})
        browser.get(f"{base}/dashboard")
        wait = WebDriverWait(browser, 30, poll_frequency=0.2)
        charts = (
            "chart-rolling_log_loss",
            "chart-rolling_accuracy",
            "chart-latency",
            "chart-throughput",
        )
        wait.until(lambda b: all(data_points(b, c) >= 3 for c in charts))
        for chart in charts:  # uPlot drew onto a canvas in each panel
            assert browser.find_element(By.CSS_SELECTOR, f"#{chart} canvas").size["width"] > 300
        wait.until(lambda b: b.find_element(By.ID, "health").text == "ok")
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#versions td"))
        assert browser.find_element(By.ID, "learned").text == "4,000"
        lanes = browser.find_element(By.ID, "lanes").text
        assert "champion LogisticRegression + ADWIN (reset)" in lanes
        assert "challenger 1 LogisticRegression" in lanes
        legend = browser.find_elements(
            By.CSS_SELECTOR, "#chart-rolling_log_loss .u-legend .u-series"
        )
        assert len(legend) == 3  # time, the champion, the challenger
        values = browser.find_elements(
            By.CSS_SELECTOR, "#chart-rolling_log_loss .u-legend .u-series .u-value"
        )
        assert all(v.text not in ("", "—") for v in values[1:]), [v.text for v in values]
        for width in (1024, 1440, 1920):  # no horizontal scroll, whatever the screen
            browser.set_window_size(width, 1000)
            wait.until(lambda b, w=width: b.execute_script("return window.innerWidth") <= w)
            try:
                wait.until(lambda b: not b.execute_script(OVERFLOWING))
            except TimeoutException:
                raise AssertionError(f"{width} px: {browser.execute_script(OVERFLOWING)}") from None
            browser.save_screenshot(str(tmp_path / f"dashboard-{width}.png"))
        drifts_before = len(browser.find_elements(By.CSS_SELECTOR, "li.marker.drift"))
        learn(base, concept(4000, True, 2))  # the concept flips: a drift
        wait.until(
            lambda b: len(b.find_elements(By.CSS_SELECTOR, "li.marker.drift")) > drifts_before
        )
        wait.until(
            lambda b: (
                int(
                    b.find_element(By.ID, "chart-rolling_log_loss").get_attribute("data-markers")
                    or 0
                )
                > drifts_before
            )
        )
        marker = browser.find_elements(By.CSS_SELECTOR, "li.marker.drift")[0].text
        assert "ADWIN" in marker and "reset" in marker
        browser.save_screenshot(str(tmp_path / "dashboard.png"))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
