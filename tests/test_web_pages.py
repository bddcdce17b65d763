"""The web desk's pages in process (FastAPI's test client over the real app and Desk): sign-in,
every page in both languages with no untranslated key, roles, bad input, downloads."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chipwatch.api import create_app
from chipwatch.web import i18n

PAGES = ["/", "/classify", "/classify?item=H20&date=2026-11-25", "/classify?item=H100+SXM&date=2023-01-01",
         "/classify?item=H100+SXM&date=2026-11-25&regime=tpp-line-2400", "/determine",
         "/screen", "/screen?name=%E5%95%86%E6%B9%AF%E9%9B%86%E5%9C%98%E6%9C%89%E9%99%90%E5%85%AC%E5%8F%B8&country=HK",
         "/screen?name=Nobody+Such+Trading", "/batch", "/ledger", "/audit", "/scenarios"]


@pytest.fixture(scope="module")
def app_and_keys(tmp_path_factory: pytest.TempPathFactory):
    before = os.environ.get("CHIPWATCH_HOME")
    app = create_app(tmp_path_factory.mktemp("web-desk"))
    desk = app.state.desk
    keys = {role: desk.create_key(f"a {role}", role)[0] for role in ("viewer", "officer", "admin")}
    yield app, keys
    if before is not None:
        os.environ["CHIPWATCH_HOME"] = before


def _signed_in(app, key: str) -> TestClient:
    c = TestClient(app)
    r = c.post("/login", data={"api_key": key, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    return c


@pytest.fixture(scope="module")
def officer(app_and_keys) -> Iterator[TestClient]:
    app, keys = app_and_keys
    with _signed_in(app, keys["officer"]) as c:
        yield c


@pytest.fixture(scope="module")
def admin(app_and_keys) -> Iterator[TestClient]:
    app, keys = app_and_keys
    with _signed_in(app, keys["admin"]) as c:
        yield c


@pytest.fixture(scope="module")
def viewer(app_and_keys) -> Iterator[TestClient]:
    app, keys = app_and_keys
    with _signed_in(app, keys["viewer"]) as c:
        yield c


def test_pages_need_a_signed_in_key(app_and_keys):
    app, _ = app_and_keys
    with TestClient(app) as c:
        r = c.get("/determine?lang=zh", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/determine")
        assert r.headers["location"].endswith("&lang=zh")
        # Every page, report and form post: the sign-in page, coming back afterwards (never a 500 or a problem).
        for method, path in (("get", "/ledger"), ("get", "/admin"), ("get", "/reports/determination/1.pdf"),
                             ("post", "/admin/keys"), ("post", "/ledger"), ("get", "/jobs/abc")):
            r = getattr(c, method)(path, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"].startswith(f"/login?next={path}"), (path, r.status_code)
        c.cookies.set("chipwatch_key", "cw_revoked_or_wrong")
        r = c.get("/classify", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/classify")
        c.cookies.clear()
        r = c.post("/login?lang=en", data={"api_key": "cw_not_a_key"})
        assert r.status_code == 401 and "That API key is not valid" in r.text
        r = c.post("/login?lang=zh", data={"api_key": "cw_not_a_key"})
        assert "该 API 密钥无效" in r.text


def test_login_only_follows_local_paths(app_and_keys):
    app, keys = app_and_keys
    with TestClient(app) as c:
        r = c.post("/login", data={"api_key": keys["viewer"], "next": "//evil.example/x"}, follow_redirects=False)
        assert r.headers["location"] == "/"
        assert "httponly" in r.headers["set-cookie"].lower()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page_renders_in_both_languages_without_a_missing_string(officer, lang):
    i18n.MISSING.clear()
    for path in PAGES:
        sep = "&" if "?" in path else "?"
        r = officer.get(f"{path}{sep}lang={lang}")
        assert r.status_code == 200, (path, r.text[:500])
        assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}"' in r.text
    assert not i18n.MISSING, sorted(i18n.MISSING)


def test_language_choice_is_remembered(officer):
    officer.get("/?lang=zh")
    assert "物项分类" in officer.get("/classify").text
    officer.get("/?lang=en")
    assert "Classify a chip" in officer.get("/classify").text


def test_classify_shows_the_metrics_against_the_thresholds(officer):
    r = officer.get("/classify?item=H100+SXM&date=2026-11-25&lang=en")
    assert "3A090.a" in r.text and "<svg" in r.text and "15,832" in r.text
    assert "15 CFR 774 Supp. 1, ECCN 3A090.a.1" in r.text
    r = officer.get("/classify?item=H900&date=2026-11-25")
    assert r.status_code == 400 and "H900" in r.text


def test_determine_answers_first_then_the_trace(officer):
    form = {"item": "H100 SXM", "quantity": "8", "destination": "MY", "end_user_hq": "CN", "listed": "no",
            "date": "2026-06-01", "regime": "historical"}
    r = officer.post("/determine?lang=en", data=form)
    assert r.status_code == 200
    text = r.text
    assert text.index("Licence required") < text.index("Trace") < text.index("Audit record")
    assert "15 CFR" in text and re.search(r"/reports/determination/\d+\.pdf", text)
    r = officer.post("/determine?lang=zh", data={**form, "destination": "XX"})
    assert r.status_code == 400 and "输入未被接受" in r.text and "XX" in r.text


def test_viewer_is_shown_and_told_what_its_role_cannot_do(viewer):
    home = viewer.get("/?lang=en").text
    assert 'href="/batch"' not in home and 'href="/determine"' in home
    r = viewer.get("/batch?lang=zh")
    assert r.status_code == 403 and "您的角色（查询员）无权执行此操作" in r.text
    r = viewer.post("/batch", files={"file": ("o.csv", b"item,quantity,destination,date\nH20,1,CN,2025-01-01\n")})
    assert r.status_code == 403


def test_viewer_sees_only_its_own_audit_records(viewer, officer):
    officer.get("/classify?item=H20&date=2026-11-25")
    ids = [int(i) for i in re.findall(r'href="/audit/(\d+)"', officer.get("/audit").text)]
    viewer.get("/classify?item=A100+SXM4+80GB&date=2026-11-25")
    own = [int(i) for i in re.findall(r'href="/audit/(\d+)"', viewer.get("/audit").text)]
    assert own and set(own) != set(ids)
    foreign = next(i for i in ids if i not in own)
    assert viewer.get(f"/audit/{foreign}").status_code == 403
    assert viewer.get(f"/audit/{own[0]}").status_code == 200


def test_batch_upload_runs_to_completion_with_csv_and_report(officer):
    csv = b"item,quantity,destination,date\nH100 SXM,10,CN,2025-01-01\nH20,5,SG,2025-06-01\n"
    r = officer.post("/batch", data={"kind": "determine"}, files={"file": ("orders.csv", csv, "text/csv")}, follow_redirects=False)
    assert r.status_code == 303
    job_url = r.headers["location"]
    deadline = time.monotonic() + 60
    while (status := officer.get(f"{job_url}/status").json())["status"] != "done" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status["status"] == "done" and status["rows_done"] == 2
    page = officer.get(job_url).text
    assert "result.csv" in page and "CCL-AC" in page
    body = officer.get(f"{job_url}/result.csv").text
    assert body.splitlines()[0].startswith("row,") and len(body.splitlines()) == 3
    job_id = job_url.rsplit("/", 1)[1]
    assert "orders.csv" in officer.get(f"/reports/batch/{job_id}.html").text


def test_bad_uploads_and_unknown_things_get_a_clear_page(officer):
    r = officer.post("/batch", data={"kind": "determine"}, files={"file": ("o.csv", b"name\nx\n", "text/csv")})
    assert r.status_code == 400 and "quantity" in r.text
    assert officer.get("/jobs/nope").status_code == 404
    assert officer.get("/audit/999999").status_code == 404
    assert officer.get("/reports/determination/1.docx").status_code == 404


def test_static_files_are_served_and_nothing_else(officer):
    assert officer.get("/static/desk.css").headers["content-type"].startswith("text/css")
    assert officer.get("/static/desk.js").status_code == 200
    assert officer.get("/static/..%2Froutes.py").status_code == 404


def test_pdf_route_reports_a_missing_chromium_clearly(officer, monkeypatch):
    r = officer.post("/determine", data={"item": "H20", "destination": "CN", "date": "2025-06-01"})
    audit_id = re.search(r"/reports/determination/(\d+)\.pdf", r.text).group(1)
    monkeypatch.setenv("CHIPWATCH_CHROMIUM", "/nonexistent/chromium")
    r = officer.get(f"/reports/determination/{audit_id}.pdf?lang=en")
    assert r.status_code == 503 and "PDF needs Chromium: apt install chromium" in r.text
    assert officer.get(f"/reports/determination/{audit_id}.html").status_code == 200


def test_pages_are_not_in_the_openapi_schema(officer):
    paths = officer.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if not p.startswith("/v1")]


def test_all_jurisdictions_each_get_their_answer(officer):
    form = {"item": "H200", "quantity": "1000", "destination": "CN", "end_user_hq": "CN", "listed": "no",
            "commercially_available_us": "yes", "h200_certified": "yes", "date": "2026-03-01", "jurisdiction": "all"}
    r = officer.post("/determine?lang=zh", data=form)
    assert r.status_code == 200
    assert "管辖法域：美国《出口管理条例》（EAR）" in r.text and "管辖法域：中国《出口管制法》" in r.text
    assert r.text.count('class="answer ') == 2
    r = officer.post("/determine?lang=en", data={**form, "jurisdiction": "EU"})
    assert r.status_code == 400 and "jurisdiction" in r.text


EXAMPLES = Path(__file__).parent.parent / "examples"
FIXTURES = Path(__file__).parent / "fixtures" / "screening"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_ledger_page_shows_holdings_caps_and_revenue_due(officer, lang):
    files = {"shipments": ("shipments.csv", (EXAMPLES / "shipments.csv").read_bytes(), "text/csv"),
             "licences": ("licences.csv", (EXAMPLES / "licences.csv").read_bytes(), "text/csv")}
    i18n.MISSING.clear()
    r = officer.post(f"/ledger?lang={lang}", data={"regime": "historical"}, files=files)
    assert r.status_code == 200, r.text[:500]
    text = r.text
    assert ("算力台账" if lang == "zh" else "Compute ledger") in text
    # The example book's known outcomes: the UAE licence quantity and the 2026 China volume condition exceeded,
    # the 15 % revenue share and the 2026 duty due, and one row naming a chip that does not exist.
    assert "UAE-2026-001" in text and "742.6(b)(10)(iii)(A)(1)" in text
    assert "REVSHARE" in text and "H200-DUTY" in text and "H1000" in text
    assert 'id="by-country"' in text and "G42" in text
    record = re.search(r"<dd>#\d+</dd>", text)
    assert record and text.index('id="caps"') < text.index('id="by-country"') < record.start()  # the answer, then its record
    assert not i18n.MISSING, sorted(i18n.MISSING)


def test_the_ledger_page_refuses_a_missing_or_bad_file_clearly(officer):
    r = officer.post("/ledger?lang=en", data={"regime": "historical"}, files={"shipments": ("", b"", "text/csv")})
    assert r.status_code == 400 and "Choose a shipments file" in r.text
    r = officer.post("/ledger?lang=en", files={"shipments": ("s.xlsx", b"PK\x03\x04", "application/octet-stream")})
    assert r.status_code == 400 and "s.xlsx" in r.text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_admin_page_renders_for_an_admin_only(admin, officer, lang):
    i18n.MISSING.clear()
    r = admin.get(f"/admin?lang={lang}")
    assert r.status_code == 200 and 'id="keys"' in r.text and 'id="list-versions"' in r.text
    assert ("系统管理" if lang == "zh" else "Administration") in r.text
    assert 'href="/admin"' in admin.get("/").text and 'href="/admin"' not in officer.get("/").text
    assert not i18n.MISSING, sorted(i18n.MISSING)
    assert officer.get(f"/admin?lang={lang}").status_code == 403
    assert officer.post("/admin/keys", data={"name": "x", "role": "admin"}).status_code == 403
    assert officer.post("/admin/lists", files={"file": ("l.csv", b"x")}).status_code == 403


def test_an_admin_creates_a_key_sees_its_secret_once_and_revokes_it(admin, app_and_keys):
    app, _ = app_and_keys
    desk = app.state.desk
    r = admin.post("/admin/keys?lang=en", data={"name": "ERP connector", "role": "officer"})
    assert r.status_code == 200 and "Key created for ERP connector" in r.text
    secret = re.search(r'<div class="card" id="new-secret">.*?<pre class="mono">([^<]+)</pre>', r.text, re.S).group(1)
    who = desk.authenticate(secret)
    assert who.name == "ERP connector" and who.role == "officer"
    assert secret not in admin.get("/admin").text  # shown once only
    assert admin.post("/admin/keys?lang=en", data={"name": " ", "role": "officer"}).status_code == 400
    assert admin.post("/admin/keys?lang=en", data={"name": "x", "role": "root"}).status_code == 400
    r = admin.post(f"/admin/keys/{who.key_id}/revoke?lang=zh")
    assert r.status_code == 200 and "已吊销 ERP connector 的密钥" in r.text
    with pytest.raises(Exception, match="revoked"):
        desk.authenticate(secret)
    assert admin.post("/admin/keys/nope/revoke").status_code == 404
    actions = [rec["action"] for rec in (dict(row) for row in desk.store.audit_rows(limit=50))]
    assert "keys.create" in actions and "keys.revoke" in actions


def test_an_admin_imports_a_list_and_screening_uses_it(admin):
    data = (FIXTURES / "csl_sample.csv").read_bytes()
    r = admin.post("/admin/lists?lang=en", files={"file": ("csl_sample.csv", data, "text/csv")})
    assert r.status_code == 200 and "Imported as version" in r.text, r.text[:500]
    version = int(re.search(r"Imported as version (\d+)", r.text).group(1))
    assert f"v{version}" in r.text and "csl-csv" in r.text
    again = admin.post("/admin/lists?lang=en", files={"file": ("csl_sample.csv", data, "text/csv")})
    assert f"Imported as version {version}:" in again.text  # the same bytes: the same version
    bad = admin.post("/admin/lists?lang=en", files={"file": ("broken.csv", b"no,columns\n1,2\n", "text/csv")})
    assert bad.status_code == 400 and "broken.csv" in bad.text
    hit = admin.get("/screen?name=Moore+Threads+Intelligent+Technology&country=CN&lang=en")
    assert hit.status_code == 200 and "Moore Thread Intelligent Technology (Beijing)" in hit.text
    assert re.search(rf"<dd>[^<]*EL v{version}\b", hit.text), "the screening record names the imported version"


def test_an_admin_who_revokes_its_own_key_is_signed_out(app_and_keys):
    app, _ = app_and_keys
    secret, second = app.state.desk.create_key("second admin", "admin")
    with _signed_in(app, secret) as c:
        r = c.post(f"/admin/keys/{second.key_id}/revoke", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert c.get("/admin", follow_redirects=False).status_code == 303  # back to the sign-in page
