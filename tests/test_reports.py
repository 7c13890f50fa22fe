"""The graded HTML reports in answers/ open cleanly in headless Chromium.

For each report and the index page: the page loads from a local file, every image has
decoded (non-zero natural size), no cell shows an error, a traceback or any stderr output,
the report starts with a header (title, mode, hardware) and ends with conclusions, and a
screenshot is saved to ``build/screenshots/``. Needs Debian's ``chromium`` and
``chromium-driver`` (``.ci/run`` installs them); without them the browser tests are skipped,
and fail in CI (``CI=true``). These tests read committed files (``answers/``): they check the
graded outputs, not the behaviour of the code.
"""

from __future__ import annotations

import re
import shutil
import time

import pytest
from conftest import require

from helpers.config import REPO_ROOT

ANSWERS = REPO_ROOT / "answers"
SHOTS = REPO_ROOT / "build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
REPORTS = sorted(p for p in ANSWERS.glob("*.html") if p.name != "index.html")


IMAGES_DECODED = """
return Array.from(document.images).map(img => [img.complete, img.naturalWidth, img.alt || ""]);
"""
TEXT_BEFORE_FIRST_SECTION = """
const h2 = document.querySelector("h2");
if (!h2) { return document.body.textContent; }
const range = document.createRange();
range.setStart(document.body, 0);
range.setEndBefore(h2);
return range.toString();
"""
BAD_OUTPUT = """
return document.querySelectorAll(
  '[data-mime-type="application/vnd.jupyter.stderr"], .output_error, .jp-OutputArea-error'
).length;
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    require(
        CHROMIUM and DRIVER,
        "headless browser tests need chromium and chromedriver "
        "(apt install chromium chromium-driver)",
    )
    from selenium import webdriver

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1280,1600",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(DRIVER))
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def _decoded_images(browser, timeout: float = 60.0) -> list:
    """The page's images once the document has loaded and every image finished decoding (or
    ``timeout`` passed): a large report on a busy machine can still be decoding its figures
    when ``get`` returns."""
    deadline = time.monotonic() + timeout
    while True:
        ready = browser.execute_script("return document.readyState") == "complete"
        images = browser.execute_script(IMAGES_DECODED)
        if (ready and images and all(done for done, *_ in images)) or time.monotonic() > deadline:
            return images
        time.sleep(0.5)


def _shot(browser, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / f"{name}.png"))
    assert (SHOTS / f"{name}.png").stat().st_size > 10_000


def test_every_notebook_has_a_report():
    """Reads committed files only (no browser needed)."""
    notebooks = {p.stem for p in (REPO_ROOT / "notebooks").glob("*.ipynb")}
    missing = notebooks - {p.stem for p in REPORTS}
    assert not missing, f"no report in answers/ for {sorted(missing)} (run make execute-all)"


@pytest.mark.parametrize("page", REPORTS, ids=[p.stem for p in REPORTS])
def test_report_renders_cleanly(browser, page):
    browser.get(page.as_uri())
    images = _decoded_images(browser)
    assert images, "a report without figures"
    broken = [i for i, (done, width, _) in enumerate(images) if not done or width == 0]
    assert not broken, f"{len(broken)} of {len(images)} images did not decode"
    assert browser.execute_script(BAD_OUTPUT) == 0, "a cell shows an error or stderr output"
    text = browser.find_element("tag name", "body").text
    assert "Traceback (most recent call last)" not in text
    headings = [h.text.lower() for h in browser.find_elements("css selector", "h1, h2")]
    assert headings and "conclusion" in " ".join(headings[-3:]), headings[-3:]
    # the run header (mode, seed, hardware) comes before the first section of the report
    intro = browser.execute_script(TEXT_BEFORE_FIRST_SECTION)
    assert re.search(r"mode, seed \d+, on .*cores", intro), "header: mode and hardware first"
    _shot(browser, page.stem)


def test_index_links_every_report(browser):
    browser.get((ANSWERS / "index.html").as_uri())
    links = {
        a.get_attribute("href").rsplit("/", 1)[-1]
        for a in browser.find_elements("css selector", "td a")
    }
    assert {p.name for p in REPORTS} <= links
    assert browser.execute_script(IMAGES_DECODED) == []
    _shot(browser, "index")
