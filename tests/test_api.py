"""The HTTP API over a real server on loopback: answers, audit records, problem details, roles, keys, batches."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import polars as pl
import pytest

from desk_server import Server, start

EXAMPLES = Path(__file__).parent.parent / "examples"
H100_TO_CN = {"transaction": {"item": "H100 SXM", "destination": "CN", "date": "2024-06-01"}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start(tmp_path_factory.mktemp("desk"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def admin(server: Server) -> Iterator[httpx.Client]:
    with server.client(server.admin_key) as c:
        yield c


def _key(admin: httpx.Client, role: str) -> str:
    r = admin.post("/v1/keys", json={"name": f"a {role}", "role": role})
    assert r.status_code == 201, r.text
    assert r.json()["key"]["role"] == role
    return str(r.json()["secret"])


@pytest.fixture(scope="module")
def viewer_key(admin: httpx.Client) -> str:
    return _key(admin, "viewer")


@pytest.fixture(scope="module")
def officer_key(admin: httpx.Client) -> str:
    return _key(admin, "officer")


def _problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    return body


def _wait_job(client: httpx.Client, job_id: str, timeout: float = 60) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not finished in {timeout} s")


def test_the_startup_warm_up_records_nothing(admin: httpx.Client) -> None:
    """Each worker answers a sample question before it takes requests (Desk.prepare); nobody asked
    it, so the audit log of a fresh server holds no determination."""
    r = admin.get("/v1/audit", params={"limit": 1000})
    assert r.status_code == 200, r.text
    assert [rec for rec in r.json() if rec["action"] == "determine"] == []


def test_the_determine_fast_path_answers_as_the_app_would(admin: httpx.Client, server: Server) -> None:
    """POST /v1/determine is served ahead of FastAPI's stack (api.QuestionFastPath): its edges
    must behave as the declared route's would."""
    _problem(admin.post("/v1/determine", content=b"{" + b" " * (1 << 20) + b"}",
                        headers={"content-type": "application/json"}), 413)
    # A body that is not declared JSON fails validation, as FastAPI words it (the field is the body).
    body = _problem(admin.post("/v1/determine", content=b'{"transaction": {}}', headers={"content-type": "text/plain"}), 422)
    assert body["errors"]
    ok = admin.post("/v1/determine", content=httpx.Request("POST", "/", json=H100_TO_CN).content,
                    headers={"content-type": "application/merge-patch+json"})
    assert ok.status_code == 200, ok.text
    # Other methods on the path are the app's (405 as a problem).
    _problem(admin.get("/v1/determine"), 405)
    # An answer names the audit record written before it left, whichever header carried the key.
    a = httpx.post(f"{server.base}/v1/determine", json=H100_TO_CN, headers={"Authorization": f"Bearer {server.admin_key}"})
    b = admin.post("/v1/determine", json=H100_TO_CN)
    assert a.json()["answer"] == b.json()["answer"] and b.json()["audit_id"] > a.json()["audit_id"]
    assert admin.get(f"/v1/audit/{a.json()['audit_id']}").json()["answer"]["determinations"][0]["reason_code"] == \
        a.json()["answer"][0]["reason_code"]


def test_health_and_openapi(server: Server) -> None:
    assert httpx.get(f"{server.base}/v1/health").json() == {"status": "ok"}
    spec = httpx.get(f"{server.base}/openapi.json").json()
    for path in ("/v1/classify", "/v1/determine", "/v1/determine/batch", "/v1/screen", "/v1/screen/batch", "/v1/ledger",
                 "/v1/simulate", "/v1/lists/versions", "/v1/rules/versions", "/v1/audit", "/v1/audit/export", "/v1/keys"):
        assert path in spec["paths"], path


def test_determination_is_audited_before_it_returns(admin: httpx.Client) -> None:
    r = admin.post("/v1/determine", json=H100_TO_CN)
    assert r.status_code == 200, r.text
    body = r.json()
    (d,) = body["answer"]
    assert d["licence_required"] is True and d["eccn"] == "3A090.a"
    rec = admin.get(f"/v1/audit/{body['audit_id']}").json()
    me = admin.get("/v1/me").json()
    assert rec["action"] == "determine" and rec["key_id"] == me["key_id"]
    assert rec["inputs"]["transaction"]["destination"] == "CN"
    assert rec["answer"]["determinations"][0]["licence_required"] is True
    assert rec["trace"] and rec["rule_version"] == d["rule_version"]["id"]
    assert rec["list_version"]


def test_bearer_header_is_accepted(server: Server) -> None:
    r = httpx.post(f"{server.base}/v1/determine", json=H100_TO_CN, headers={"Authorization": f"Bearer {server.admin_key}"})
    assert r.status_code == 200


def test_classify_screen_ledger(admin: httpx.Client) -> None:
    c = admin.post("/v1/classify", json={"item": "H20", "date": "2025-01-01"})
    assert c.status_code == 200 and c.json()["answer"]["item"], c.text
    custom = admin.post("/v1/classify", json={"tops": {"fp16": 1000}, "die_area_mm2": 800, "date": "2025-01-01"})
    assert custom.status_code == 200 and custom.json()["answer"]["eccn"] == "3A090.a", custom.text
    s = admin.post("/v1/screen", json={"name": "華為技術有限公司", "country": "CN"})
    assert s.status_code == 200 and s.json()["answer"]["hits"], s.text
    rec = admin.get(f"/v1/audit/{s.json()['audit_id']}").json()
    assert rec["action"] == "screen" and "v0" in rec["list_version"]
    led = admin.post("/v1/ledger", files={"shipments": ("shipments.csv", (EXAMPLES / "shipments.csv").read_bytes())})
    assert led.status_code == 200, led.text
    assert led.json()["answer"]["by_country"]


def test_simulate(admin: httpx.Client) -> None:
    sim = admin.post("/v1/simulate", json={"policies": ["historical", "blockade"], "paths": 50})
    assert sim.status_code == 200, sim.text
    answer = sim.json()["answer"]
    assert {b["policy"] for b in answer["bands"]} == {"historical", "blockade"}
    series = answer["series"][0]
    assert len(series["quarters"]) == len(series["median"]) == len(series["p10"]) > 10


def test_versions(admin: httpx.Client) -> None:
    lists = admin.get("/v1/lists/versions").json()
    assert lists and lists[0]["source_format"] == "sample"
    rules = admin.get("/v1/rules/versions").json()
    assert len(rules) > 5 and rules == sorted(rules, key=lambda r: (r["effective"], r["id"]))


def test_bad_input_is_a_problem_that_names_the_field(admin: httpx.Client, server: Server) -> None:
    bad_country = {"transaction": {**H100_TO_CN["transaction"], "destination": "ZZ"}}
    body = _problem(admin.post("/v1/determine", json=bad_country), 422)
    assert body["detail"].startswith("transaction.destination:") and "ZZ" in body["detail"]
    body = _problem(admin.post("/v1/determine", json={"transaction": {**H100_TO_CN["transaction"], "item": "Nope 9000"}}), 400)
    assert "Nope 9000" in body["detail"]
    body = _problem(admin.post("/v1/classify", json={"date": "2025-01-01"}), 422)
    assert "exactly one of" in body["detail"]
    body = _problem(admin.post("/v1/determine", content=b"{not json", headers={"content-type": "application/json"}), 422)
    body = _problem(admin.post("/v1/simulate", json={"paths": 10**9}), 422)
    assert body["detail"].startswith("paths:")
    body = _problem(admin.post("/v1/determine", json={**H100_TO_CN, "regime": "/etc/passwd"}), 400)
    assert "regime" in body["detail"]
    _problem(admin.post("/v1/determine/batch", files={"file": ("o.csv", b"a,b\n1,2\n")}), 400)
    _problem(admin.post("/v1/determine/batch", files={"file": ("o.xlsx", b"\x00\x01")}), 400)
    _problem(admin.get("/v1/jobs/does-not-exist"), 404)
    _problem(admin.get("/v1/audit/999999999"), 404)
    _problem(httpx.get(f"{server.base}/v1/nowhere"), 404)
    _problem(httpx.post(f"{server.base}/v1/determine", json=H100_TO_CN), 401)
    _problem(httpx.post(f"{server.base}/v1/determine", json=H100_TO_CN, headers={"X-API-Key": "cw_nope"}), 401)


def test_roles(server: Server, viewer_key: str, officer_key: str) -> None:
    orders = ("orders.csv", (EXAMPLES / "orders.csv").read_bytes())
    with server.client(viewer_key) as viewer, server.client(officer_key) as officer:
        own = viewer.post("/v1/determine", json=H100_TO_CN)
        assert own.status_code == 200
        assert viewer.get(f"/v1/audit/{own.json()['audit_id']}").status_code == 200
        assert all(r["key_id"] == viewer.get("/v1/me").json()["key_id"] for r in viewer.get("/v1/audit").json())
        _problem(viewer.post("/v1/determine/batch", files={"file": orders}), 403)
        _problem(viewer.post("/v1/screen/batch", files={"file": ("p.csv", b"name\nHuawei\n")}), 403)
        _problem(viewer.get("/v1/audit/export"), 403)
        _problem(viewer.get("/v1/keys"), 403)
        others = officer.post("/v1/determine", json=H100_TO_CN).json()["audit_id"]
        _problem(viewer.get(f"/v1/audit/{others}"), 403)

        assert officer.get("/v1/audit/export?format=csv").status_code == 200
        assert officer.get(f"/v1/audit/{own.json()['audit_id']}").status_code == 200
        _problem(officer.get("/v1/keys"), 403)
        _problem(officer.post("/v1/keys", json={"name": "x", "role": "admin"}), 403)
        _problem(officer.post("/v1/lists/import", files={"file": ("l.csv", b"x")}), 403)
        job = officer.post("/v1/determine/batch", files={"file": orders})
        assert job.status_code == 202, job.text
        assert _wait_job(officer, job.json()["id"])["status"] == "done"


def test_keys_are_stored_hashed_and_revocable(server: Server, admin: httpx.Client) -> None:
    secret = _key(admin, "viewer")
    key_id = secret.split("_")[1]
    with server.client(secret) as c:
        assert c.get("/v1/me").json()["key_id"] == key_id
    stored = b"".join(p.read_bytes() for p in server.home.glob("desk.sqlite3*"))
    assert key_id.encode() in stored  # the public id is there...
    assert secret.encode() not in stored and secret.split("_", 2)[2].encode() not in stored  # ...the secret is not
    listed = {k["key_id"]: k for k in admin.get("/v1/keys").json()}
    assert listed[key_id]["role"] == "viewer" and "secret" not in listed[key_id]
    assert admin.delete(f"/v1/keys/{key_id}").json()["revoked_at"]
    with server.client(secret) as c:
        _problem(c.get("/v1/me"), 401)


def test_last_admin_cannot_be_revoked(admin: httpx.Client) -> None:
    me = admin.get("/v1/me").json()["key_id"]
    body = _problem(admin.delete(f"/v1/keys/{me}"), 400)
    assert "last admin" in body["detail"]


def test_determine_batch_with_progress_and_results(admin: httpx.Client) -> None:
    rows = ["item,quantity,destination,date"] + [f"H100 SXM,{i % 7 + 1},{('CN', 'DE', 'AE')[i % 3]},2024-0{i % 9 + 1}-15"
                                                 for i in range(600)] + ["H100 SXM,-1,CN,2024-01-01"]
    r = admin.post("/v1/determine/batch", files={"file": ("book.csv", "\n".join(rows).encode())})
    assert r.status_code == 202, r.text
    job = _wait_job(admin, r.json()["id"])
    assert job["status"] == "done" and job["rows_total"] == job["rows_done"] == 601
    frame = pl.read_csv(io.BytesIO(admin.get(f"/v1/jobs/{job['id']}/result?format=csv").content))
    assert frame["row"].to_list() == list(range(1, 602))
    assert frame.filter(pl.col("destination") == "CN")["licence_required"].all()
    assert frame["error"][600] and "quantity" in frame["error"][600]
    audit = admin.get("/v1/audit", params={"action": "determine.batch", "limit": 1000}).json()
    assert len([a for a in audit if a["job_id"] == job["id"]]) == 601


def test_screen_batch(admin: httpx.Client) -> None:
    data = b"name,country\nHuawei Technologies,CN\nAcme Widgets,US\n,\n"
    job = _wait_job(admin, admin.post("/v1/screen/batch", files={"file": ("p.csv", data)}).json()["id"])
    assert job["status"] == "done"
    res = admin.get(f"/v1/jobs/{job['id']}/result").json()
    assert [r["row"] for r in res] == [1, 2, 3]
    assert res[0]["hit_count"] >= 1 and res[1]["hit_count"] == 0 and res[2]["error"] == "name: empty"


def test_audit_export_and_verify(admin: httpx.Client) -> None:
    admin.post("/v1/determine", json=H100_TO_CN)
    frame = pl.read_parquet(io.BytesIO(admin.get("/v1/audit/export?format=parquet").content))
    assert frame.height > 0 and frame["id"].to_list() == list(range(1, frame.height + 1))
    # the export is itself recorded, after the rows it exported
    assert admin.get("/v1/audit/verify").json() == {"records": frame.height + 1, "ok": True, "problems": []}


def test_a_list_import_changes_the_list_version_recorded_with_answers(admin: httpx.Client) -> None:
    """Last in this file: it replaces the sample lists of the shared server. The list version an
    answer's audit record names is worked out once per screening index; an import brings a new one."""
    before = admin.get(f"/v1/audit/{admin.post('/v1/determine', json=H100_TO_CN).json()['audit_id']}").json()
    csl = (Path(__file__).parent / "fixtures" / "screening" / "csl_sample.csv").read_bytes()
    imported = admin.post("/v1/lists/import", files={"file": ("csl_sample.csv", csl)})
    assert imported.status_code == 201, imported.text
    version = imported.json()["version_id"]
    after = admin.get(f"/v1/audit/{admin.post('/v1/determine', json=H100_TO_CN).json()['audit_id']}").json()
    assert f"v{version}" in after["list_version"] and after["list_version"] != before["list_version"]
