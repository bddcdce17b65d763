"""The web desk in a real browser: Playwright driving Debian's Chromium headless against
`chipwatch serve` on loopback. Screenshots of every page in both languages go to test-artifacts/."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (CI installs it: apt install chromium)")
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts" / "web"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run"]
PAGES = {"home": "/", "classify": "/classify?item=H100+SXM&date=2026-11-25", "determine": "/determine",
         "screen": "/screen?name=%E5%95%86%E6%B9%AF%E9%9B%86%E5%9C%98%E6%9C%89%E9%99%90%E5%85%AC%E5%8F%B8&country=HK",
         "batch": "/batch", "ledger": "/ledger", "audit": "/audit",
         "scenarios": "/scenarios?policy=historical&policy=blockade&policy=targeted&paths=200"}
TITLES = {"en": {"classify": "Classify a chip", "determine": "Determine a transaction", "screen": "Screen a party",
                 "batch": "Order books", "ledger": "Compute ledger", "audit": "Audit log", "scenarios": "Scenario explorer",
                 "home": "chipwatch compliance desk"},
          "zh": {"classify": "物项分类", "determine": "许可判定", "screen": "名单筛查", "batch": "批量订单", "ledger": "算力台账",
                 "audit": "审计日志", "scenarios": "情景推演", "home": "chipwatch 出口管制合规台"}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from desk_server import start

    # Small chunks, so an order book takes long enough for the page to show it in progress.
    srv = start(tmp_path_factory.mktemp("browser-desk"), env={"CHIPWATCH_JOB_CHUNK": "50"})
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def officer_key(server) -> str:
    r = httpx.post(f"{server.base}/v1/keys", json={"name": "Wang Fang", "role": "officer"}, headers={"X-API-Key": server.admin_key})
    assert r.status_code == 201, r.text
    return str(r.json()["secret"])


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser, server, officer_key):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.goto(f"{server.base}/login")
    pg.fill("input[name=api_key]", officer_key)
    pg.click("button[type=submit]")
    pg.wait_for_url(f"{server.base}/")
    yield pg
    context.close()


def _shot(pg, name: str) -> None:
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_login_page_and_a_wrong_key(browser, server):
    context = browser.new_context()
    pg = context.new_page()
    pg.goto(f"{server.base}/classify?lang=zh")
    assert "/login" in pg.url
    assert pg.inner_text("h1") == "登录"
    _shot(pg, "login-zh")
    pg.fill("input[name=api_key]", "cw_wrong")
    pg.click("button[type=submit]")
    assert "该 API 密钥无效" in pg.inner_text("[role=alert]")
    context.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_each_page_in_both_languages(page, server, lang):
    for name, path in PAGES.items():
        sep = "&" if "?" in path else "?"
        page.goto(f"{server.base}{path}{sep}lang={lang}")
        assert page.inner_text("h1").startswith(TITLES[lang][name]), (name, page.inner_text("h1"))
        assert page.get_attribute("html", "lang") == ("zh-CN" if lang == "zh" else "en")
        if name in ("classify", "scenarios"):
            assert page.locator("svg.chart").count() >= 1
        _shot(page, f"{name}-{lang}")


def test_language_switch_keeps_the_page(page, server):
    page.goto(f"{server.base}/classify?item=H20&date=2026-11-25&lang=en")
    page.click("[data-lang-switch] a[hreflang=zh]")
    assert page.inner_text("h1") == "物项分类"
    assert "item=H20" in page.url
    page.goto(f"{server.base}/screen")  # the cookie keeps the choice
    assert page.inner_text("h1") == "名单筛查"
    page.goto(f"{server.base}/?lang=en")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_determination_end_to_end_with_its_pdf(page, server, lang):
    page.goto(f"{server.base}/determine?lang={lang}")
    page.fill("input[name=item]", "H200")
    page.fill("input[name=quantity]", "1000")
    page.fill("input[name=destination]", "CN")
    page.fill("input[name=end_user_hq]", "CN")
    page.select_option("select[name=listed]", "no")
    page.select_option("select[name=commercially_available_us]", "yes")
    page.select_option("select[name=h200_certified]", "yes")
    page.fill("input[name=date]", "2026-03-01")
    page.click("#determine-form button[type=submit]")
    answer = page.locator("#result .answer").first
    answer.wait_for()
    assert answer.inner_text().startswith("Licence required" if lang == "en" else "需要许可证")
    assert "CCL-AC" in answer.inner_text()
    assert ("case-by-case review" if lang == "en" else "逐案审查") in answer.inner_text()  # the 2026 policy, as the CLI gives
    trace = page.locator("ol.trace li")
    assert trace.count() >= 5 and "15 CFR" in page.inner_text("ol.trace")
    # The answer comes before the trace on the page.
    assert answer.bounding_box()["y"] < trace.first.bounding_box()["y"]
    _shot(page, f"determine-result-{lang}")
    link = page.locator(f"a[href$='.pdf?lang={lang}']").first
    with page.expect_download() as dl:
        link.click()
    path = ARTIFACTS / f"determination-{lang}.pdf"
    dl.value.save_as(path)
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 1
    page.goto(server.base + page.locator(f"a[href$='.html?lang={lang}']").first.get_attribute("href"))
    assert page.inner_text("h1") == ("Licence determination report" if lang == "en" else "许可判定报告")
    _shot(page, f"determination-report-{lang}")


def test_batch_upload_with_progress_to_completion(page, server, tmp_path):
    rows = ["item,quantity,destination,date,end_user_hq,party_listed"]
    chips, places = ["H100 SXM", "H20", "A100 SXM4 80GB", "B200", "L40S"], ["CN", "SG", "MY", "DE", "AE", "IN"]
    for i in range(3000):
        rows.append(f"{chips[i % 5]},{1 + i % 7},{places[i % 6]},2025-0{1 + i % 9}-15,{places[(i + 1) % 6]},false")
    book = tmp_path / "orders.csv"
    book.write_text("\n".join(rows) + "\n")
    page.goto(f"{server.base}/batch?lang=zh")
    page.set_input_files("input[name=file]", str(book))
    page.click("#batch-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f]+$"))
    first_status = page.get_attribute("#job", "data-status")
    _shot(page, "job-running-zh")
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = page.get_attribute("#job", "data-status")
        seen.append(int(page.get_attribute("#job-progress", "value") or 0))
        if status == "done":
            break
        time.sleep(0.2)
    page.wait_for_selector("#job-done:not([hidden])")
    assert page.get_attribute("#job", "data-status") == "done"
    assert page.inner_text("#job-status") == "已完成"
    assert page.locator("#job-preview tr").count() > 1
    assert seen == sorted(seen)  # progress never goes back
    # The page was served before the job finished: only its poll can have brought it to "done".
    assert first_status in ("queued", "running"), first_status
    assert page.get_attribute("#job-progress", "value") == "3000"
    _shot(page, "job-done-zh")
    job_id = page.url.rsplit("/", 1)[1]
    page.goto(f"{server.base}/reports/batch/{job_id}.html?lang=zh")
    assert "批量订单报告" in page.inner_text("h1")
    _shot(page, "batch-report-zh")


def test_audit_record_opens(page, server):
    page.goto(f"{server.base}/classify?item=H20&date=2026-11-25&lang=en")
    page.goto(f"{server.base}/audit?lang=en")
    page.locator("#audit-table a[href^='/audit/']").first.click()
    assert page.inner_text("h1").startswith("Audit record #")
    assert page.locator("text=Previous hash").count() == 1
    _shot(page, "audit-record-en")


def test_scenario_report_pdf(page, server):
    page.goto(f"{server.base}/scenarios?policy=historical&policy=blockade&paths=100&lang=zh")
    link = page.locator("a[href*='/reports/scenario/'][href*='.html']").first
    page.goto(f"{server.base}{link.get_attribute('href')}")
    assert page.locator("svg.chart").count() >= 1
    _shot(page, "scenario-report-zh")


EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_ledger_upload_shows_the_report(page, server, lang):
    page.goto(f"{server.base}/ledger?lang={lang}")
    page.set_input_files("input[name=shipments]", str(EXAMPLES / "shipments.csv"))
    page.set_input_files("input[name=licences]", str(EXAMPLES / "licences.csv"))
    page.click("#ledger-form button[type=submit]")
    page.wait_for_selector("#by-country")
    assert page.locator("#caps tr").count() > 1 and page.locator("#revenue tr").count() > 1
    assert "UAE-2026-001" in page.inner_text("#caps")
    _shot(page, f"ledger-report-{lang}")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_admin_creates_a_key_in_the_browser(browser, server, lang):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.goto(f"{server.base}/login?next=/admin&lang={lang}")
    pg.fill("input[name=api_key]", server.admin_key)
    pg.click("button[type=submit]")
    pg.wait_for_url(f"{server.base}/admin")
    assert pg.inner_text("h1") == ("系统管理" if lang == "zh" else "Administration")
    pg.fill("#key-form input[name=name]", f"Li Wei ({lang})")
    pg.select_option("#key-form select[name=role]", "viewer")
    pg.click("#key-form button[type=submit]")
    secret = pg.inner_text("#new-secret pre").strip()
    r = httpx.get(f"{server.base}/v1/me", headers={"X-API-Key": secret})
    assert r.status_code == 200 and r.json()["role"] == "viewer"
    _shot(pg, f"admin-{lang}")
    context.close()
