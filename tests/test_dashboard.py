"""The dashboard: its levers as scenario overrides, and the page driven in a real browser.

The browser test serves `app.py` with `solara run` on a free localhost port and
drives it in Debian's headless chromium through Playwright (no browser
download: `.ci/run` installs the `chromium` package). It is skipped when
chromium, Playwright or Solara is missing. Its screenshot is kept in
`$EXODUS_ARTEFACTS` (default: the test's temporary folder).
"""

from __future__ import annotations

import inspect
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SCENARIOS

from exodus.experiments import dashboard
from exodus.experiments.core.runner import run
from exodus.model import load_scenario

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_levers_are_scenario_overrides() -> None:
    base = load_scenario(SCENARIOS / "baseline.toml")
    assert dashboard.lever_overrides(base) == {}
    out = dashboard.lever_overrides(
        base,
        mobilisation=dashboard.ON,
        mobilisation_date="2022-07-01",
        it_deferment=dashboard.OFF,
        penalty_tax=0.3,
        penalty_date="2023-07-01",
        border_closure=dashboard.ON,
        destination_incentives=dashboard.OFF,
        entry_bans=dashboard.OFF,
    )
    assert out["policy.partial_mobilisation.date"] == "2022-07-01"
    assert out["policy.partial_mobilisation.until"] == "2022-08-07"  # the call-up lasts as long as in 2022
    assert out["policy.it_mobilisation_exemption.date"] == "2022-07-03"
    assert out["policy.it_mobilisation_exemption.enabled"] is False
    assert out["policy.penalty_tax.level"] == 0.3 and out["policy.penalty_tax.date"] == "2023-07-01"
    assert out["policy.border_closure.enabled"] is True
    assert out["locations.GE.income_tax_it"] == 0.20  # drivers.toml's destination incentives off
    assert out["policy.finland_border_closure.enabled"] is False
    load_scenario(SCENARIOS / "baseline.toml", out)  # a valid scenario


def test_dashboard_model_steps_the_baseline_alongside_and_counts_flows() -> None:
    model = dashboard.DashboardModel(
        "penalty_tax.toml", seed=1, scale=0.01, penalty_tax=0.5, penalty_date="2022-03-10", **{"scenario.days": 30}
    )
    assert model.baseline.seed == model.seed and model.baseline.scale == model.scale
    while model.running:
        model.step()
    assert model.baseline.day == model.day == 30
    left = model.persons_left(0) + model.persons_left(1)
    assert model.flows[0, 1:].sum() == pytest.approx(left)  # every departure from Russia is a drawn flow
    assert np.isfinite(model.flows).all()
    for draw in (
        dashboard.departures_figure,
        dashboard.stocks_figure,
        dashboard.returns_figure,
        dashboard.tax_figure,
        dashboard.jobs_figure,
        dashboard.queues_figure,
        dashboard.flow_map,
    ):
        assert draw(model).axes
    assert "Day 30 of 30" in dashboard.summary(model)
    alone = run(model.job)  # the run core runs the dashboard's job to the same end
    assert np.array_equal(alone.workers.location, model.workers.location)
    assert np.array_equal(alone.tally.departures, model.tally.departures)


def test_solaraviz_accepts_the_dashboard_model() -> None:
    solara_viz = pytest.importorskip("mesa.visualization.solara_viz")
    params = dashboard.model_params()
    solara_viz._check_model_params(dashboard.Dashboard.__init__, params)
    dash = dashboard.Dashboard(scale="0.01", **{"scenario.days": 3})
    if "model_or_func" in inspect.signature(solara_viz._check_model_params).parameters:  # Mesa >= 3.5
        solara_viz._check_model_params(dash, params)  # as SolaraViz calls it, on the instance
        kwargs = solara_viz._build_model_init_kwargs(  # what Reset passes to the constructor
            dash, {k: v["value"] for k, v in params.items()}, add_scenario_when_empty=True,
            require_model_accepts_scenario=False,
        )  # fmt: skip
        assert type(dashboard.Dashboard(**{**kwargs, "scale": "0.01"}).run) is dashboard.DashboardModel
    dash.step()
    assert dash.run.day == dash.run.baseline.day == 1 and dash.steps == 1
    _, fixed = solara_viz.split_model_params(params)
    assert fixed == {}  # every parameter is a control


def test_exodus_dashboard_runs_solara_on_app_py() -> None:
    from exodus.experiments.cli.commands import dashboard as command
    from exodus.experiments.cli.main import build_parser

    args = build_parser().parse_args(["dashboard", "--port", "9999"])
    cmd = command.command(args)
    assert cmd[1:4] == ["-m", "solara", "run"] and cmd[4] == str(ROOT / "app.py")
    assert cmd[cmd.index("--port") + 1] == "9999"


# -- in the browser ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    pytest.importorskip("solara")
    if not os.path.exists(CHROMIUM):
        pytest.skip("no chromium (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(os.devnull, "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "solara", "run", str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port)]
        + ["--no-open", "--production"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the dashboard did not start on {url}") from None
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group (start_new_session)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _images(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all("img", "els => els.map(e => e.src)")


def _day(page) -> int:  # type: ignore[no-untyped-def]
    text = page.locator(".exodus-day").inner_text()
    return int(text.split()[1])


def test_the_dashboard_in_a_browser(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    artefacts = Path(os.environ.get("EXODUS_ARTEFACTS", tmp_path))
    artefacts.mkdir(parents=True, exist_ok=True)
    charts = 7  # departures, stocks, returns, tax, jobs, queues, map (dashboard.components)
    returns, tax = 2, 3
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1800})
            page.goto(server, timeout=90_000)
            page.wait_for_function(f"document.querySelectorAll('img').length >= {charts}", timeout=90_000)
            expect(page.locator(".exodus-day")).to_contain_text("Day 0 of 730", timeout=30_000)
            start = _images(page)

            page.get_by_role("button", name="Step").click()  # one render interval: a month
            expect(page.locator(".exodus-day")).to_contain_text(
                f"Day {dashboard.DAYS_PER_RENDER} of 730", timeout=30_000
            )
            page.wait_for_function(f"document.querySelectorAll('img')[0].src != {start[0]!r}", timeout=30_000)

            # the penalty-tax control: the slider's track, clicked at half its length (30% on 0-60%)
            slider = page.locator(".v-input", has_text="Penalty tax").locator(".v-slider")
            box = slider.bounding_box()
            assert box is not None
            page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
            page.get_by_role("button", name="Reset").click()  # builds the model with the new parameters
            expect(page.locator(".exodus-day")).to_contain_text("Day 0 of 730", timeout=30_000)
            expect(page.get_by_text("policy.penalty_tax.enabled=True")).to_be_visible(timeout=30_000)
            before = _images(page)

            clock = time.monotonic()
            page.get_by_role("button", name="▶").click()
            page.wait_for_function(
                "parseInt(document.querySelector('.exodus-day').innerText.split(' ')[1]) >= 420", timeout=120_000
            )
            elapsed = time.monotonic() - clock
            page.get_by_role("button", name="❚❚").click()
            time.sleep(1.0)
            after = _images(page)
            assert after[returns] != before[returns]
            assert after[tax] != before[tax]
            days = _day(page)
            assert days >= 420
            page.screenshot(path=str(artefacts / "dashboard.png"), full_page=True)
            print(f"\n{days} days in {elapsed:.1f} s of play ({days / 30 / elapsed:.1f} simulated months a second)")
            penalty = page.locator("tr", has_text="penalty tax so far").inner_text().split()
            assert float(penalty[-2].replace(",", "")) > 0  # the scenario collects it, the baseline not
            assert penalty[-1] == "0"
        finally:
            browser.close()
