"""The web desk's pages: thin handlers that read a form, ask the Desk, and render a template.

The Desk checks roles and writes the audit records; a page only hides what the caller's role cannot
use and turns the Desk's refusals into a clear message. The API key lives in an HttpOnly cookie.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.datastructures import FormData, UploadFile

from chipwatch import report
from chipwatch.catalog import default_catalog
from chipwatch.desk import (
    ROLES,
    Caller,
    ClassifyRequest,
    Desk,
    DetermineRequest,
    Forbidden,
    NotFound,
    Role,
    ScreenRequest,
    SimulateRequest,
    Unauthorized,
)
from chipwatch.errors import ChipwatchError, InvalidInput
from chipwatch.law import BUILTIN_REGIMES
from chipwatch.screen.lists import FORMATS as LIST_FORMATS
from chipwatch.web.charts import metrics_chart
from chipwatch.web.i18n import LANGUAGES, Translator, pick_language
from chipwatch.web.render import STATIC_DIR, render

KEY_COOKIE = "chipwatch_key"
LANG_COOKIE = "chipwatch_lang"
COOKIE_DAYS = 28  # the sign-in and language cookies last four weeks
AUDIT_PAGE = 60  # audit records per page
PREVIEW_ROWS = 20
END_USES = ("supercomputer", "advanced_node_ic", "sme_production", "military", "frontier_training", "datacenter_iaas")
JURISDICTIONS = ("US-EAR", "CN-ECL", "all")
TRI = (("", "common.yes_no_unknown"), ("yes", "common.answer_yes"), ("no", "common.answer_no"))
DEFAULT_POLICIES = ("historical", "blockade", "targeted")
DEFAULT_SCENARIO_PATHS = 500
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
# Navigation: (page key, path, least role that can use it).
NAV = (("classify", "/classify", "viewer"), ("determine", "/determine", "viewer"), ("screen", "/screen", "viewer"),
       ("batch", "/batch", "officer"), ("ledger", "/ledger", "viewer"), ("audit", "/audit", "viewer"),
       ("scenarios", "/scenarios", "viewer"), ("admin", "/admin", "admin"))


class Page:
    """One request's view state: language, caller and the helpers every template needs."""

    def __init__(self, request: Request, desk: Desk, prefix: str) -> None:
        self.request = request
        self.desk = desk
        self.prefix = prefix
        self.lang = pick_language(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE),
                                  request.headers.get("accept-language"))
        self.t = Translator(self.lang)
        self.caller: Caller | None = None
        key = request.cookies.get(KEY_COOKIE)
        if key:
            try:
                self.caller = desk.authenticate(key)
            except Unauthorized:
                self.caller = None

    def nav(self) -> list[tuple[str, str]]:
        if self.caller is None:
            return []
        rank = ROLES.index(self.caller.role)
        return [(k, p) for k, p, least in NAV if rank >= ROLES.index(least)]

    def lang_url(self, lang: str) -> str:
        return f"{self.request.url.path}?{self.request.url.include_query_params(lang=lang).query}"

    def html(self, template: str, page: str, *, status: int = 200, **context: Any) -> Response:
        body = render(template, self.t, prefix=self.prefix, page=page, caller=self.caller, nav=self.nav(),
                      lang_url=self.lang_url, today=date.today().isoformat(), **context)
        return self.finish(HTMLResponse(body, status_code=status))

    def finish(self, response: Response) -> Response:
        """Remember an explicit language choice in a cookie."""
        asked = self.request.query_params.get("lang")
        if asked in LANGUAGES:
            response.set_cookie(LANG_COOKIE, asked, max_age=COOKIE_DAYS * 86400, samesite="lax")
        return response

    def login_redirect(self) -> Response:
        target = self.request.url.path + (f"?{self.request.url.query}" if self.request.url.query else "")
        return self.finish(RedirectResponse(f"{self.prefix}/login?next={_quote(target)}&lang={self.lang}", status_code=303))

    def refusal(self, exc: ChipwatchError, page: str, template: str = "error.html", **context: Any) -> Response:
        """A Desk refusal as a page: 403 for a role, 404 for a missing record, 400 for bad input."""
        if isinstance(exc, Forbidden):
            role = self.t(f"role.{self.caller.role}") if self.caller else "?"
            return self.html(template, page, status=403, flash=f"{self.t('common.forbidden', role=role)} ({exc})", **context)
        if isinstance(exc, NotFound):
            return self.html(template, page, status=404, flash=f"{self.t('common.not_found')} {exc}", **context)
        if isinstance(exc, report.PdfUnavailable):
            return self.html(template, page, status=503, flash=self.t("common.pdf_unavailable"), **context)
        return self.html(template, page, status=400, flash=f"{self.t('common.bad_input')} {exc}", **context)


class SignedInPage(Page):
    """A Page whose caller is known (see `signed_in` in make_router)."""

    caller: Caller


class SignInRequired(Exception):
    """A page needs a signed-in key and the request has none (or a revoked one)."""

    def __init__(self, page: Page) -> None:
        super().__init__("sign in first")
        self.page = page


def sign_in_redirect(_: Request, exc: Exception) -> Response:
    """The app's answer to SignInRequired: the sign-in page, coming back here afterwards."""
    assert isinstance(exc, SignInRequired)
    return exc.page.login_redirect()


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="/")


def _safe_next(target: str | None, prefix: str) -> str:
    """Only a local path may follow the login (no open redirect to another site)."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return f"{prefix}/"


def _tri(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get((value or "").strip().lower())


def _text(form: Any, name: str) -> str | None:
    value = form.get(name)
    if value is None or isinstance(value, UploadFile):
        return None
    value = str(value).strip()
    return value or None


def _date(text: str | None, field: str) -> date:
    if not text:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field}: {text!r} is not a date (YYYY-MM-DD)") from None


def _regime(text: str | None) -> str:
    return text if text else "historical"


def transaction_from_form(form: FormData) -> DetermineRequest:
    """The determine form as a DetermineRequest; a field the user left empty stays unknown (None)."""
    from chipwatch.determine import transaction

    quantity_text = _text(form, "quantity") or "1"
    try:
        quantity = int(quantity_text)
    except ValueError:
        raise InvalidInput(f"quantity: {quantity_text!r} is not a whole number") from None
    listed = _tri(_text(form, "listed"))
    end_user = {k: v for k, v in (("name", _text(form, "end_user_name")), ("country", _text(form, "end_user_country")),
                                  ("hq", _text(form, "end_user_hq")), ("listed", listed)) if v is not None}
    fields: dict[str, Any] = {
        "item": _text(form, "item"), "eccn": _text(form, "eccn"), "quantity": quantity,
        "destination": _text(form, "destination") or "", "ships_from": _text(form, "ships_from") or "US",
        "date": _date(_text(form, "date"), "date"), "end_user": end_user, "exporter_hq": _text(form, "exporter_hq"),
        "end_uses": [str(u) for u in form.getlist("end_uses") if str(u) in END_USES],
        "datacenter": _tri(_text(form, "datacenter")), "commercially_available_us": _tri(_text(form, "commercially_available_us")),
        "h200_certified": _tri(_text(form, "h200_certified")),
    }
    txn = transaction(**{k: v for k, v in fields.items() if v is not None})
    jurisdiction = _text(form, "jurisdiction")
    if jurisdiction is not None and jurisdiction not in JURISDICTIONS:
        raise InvalidInput(f"jurisdiction: {jurisdiction!r} is not one of {', '.join(JURISDICTIONS)}")
    return DetermineRequest(transaction=txn, regime=_regime(_text(form, "regime")), as_written=bool(_text(form, "as_written")),
                            jurisdiction=jurisdiction)  # type: ignore[arg-type]


def make_router(desk: Desk, prefix: str = "") -> APIRouter:
    """The web desk's routes (HTML pages, static files, report downloads), kept out of the OpenAPI
    schema: the JSON API is the published interface; these pages are for people."""
    router = APIRouter(include_in_schema=False)
    regimes = sorted(BUILTIN_REGIMES, key=lambda r: (r != "historical", r))
    chips = [c.name for c in default_catalog()]

    def page_of(request: Request) -> Page:
        return Page(request, desk, prefix)

    def signed_in(request: Request) -> SignedInPage:
        """The page of a signed-in caller; otherwise the app answers with the sign-in redirect."""
        p = SignedInPage(request, desk, prefix)
        if p.caller is None:
            raise SignInRequired(p)
        return p

    @router.get("/static/{name}")
    def static(name: str) -> Response:
        path = STATIC_DIR / name
        if path.suffix not in STATIC_TYPES or path.parent != STATIC_DIR or not path.is_file():
            return Response("not found", status_code=404)
        return Response(path.read_bytes(), media_type=STATIC_TYPES[path.suffix],
                        headers={"Cache-Control": "max-age=300"})

    @router.get("/login")
    def login_form(request: Request) -> Response:
        p = page_of(request)
        return p.html("login.html", "login", next_url=_safe_next(request.query_params.get("next"), prefix))

    @router.post("/login")
    async def login(request: Request) -> Response:
        p = page_of(request)
        form = await request.form()
        key = _text(form, "api_key")
        next_url = _safe_next(_text(form, "next"), prefix)
        if not key:
            return p.html("login.html", "login", status=400, flash=p.t("login.missing_key"), next_url=next_url)
        try:
            desk.authenticate(key)
        except Unauthorized:
            return p.html("login.html", "login", status=401, flash=p.t("login.bad_key"), next_url=next_url)
        response = RedirectResponse(next_url, status_code=303)
        response.set_cookie(KEY_COOKIE, key, httponly=True, samesite="strict", max_age=COOKIE_DAYS * 86400)
        return p.finish(response)

    @router.get("/logout")
    def logout(request: Request) -> Response:
        response = RedirectResponse(f"{prefix}/login", status_code=303)
        response.delete_cookie(KEY_COOKIE)
        return response

    @router.get("/")
    def home(request: Request) -> Response:
        p = signed_in(request)
        return p.html("home.html", "home")

    # --- classify ---------------------------------------------------------------------------------

    @router.get("/classify")
    def classify_page(request: Request) -> Response:
        p = signed_in(request)
        q = request.query_params
        ctx: dict[str, Any] = {"form": q, "regimes": regimes, "chips": chips}
        if not q.get("item"):
            return p.html("classify.html", "classify", **ctx)
        try:
            req = ClassifyRequest(item=q["item"], date=_date(q.get("date"), "date"), regime=_regime(q.get("regime")))
            done = desk.classify(req, p.caller)
            record = desk.audit_record(done.audit_id, p.caller)
        except (ChipwatchError, ValueError) as exc:
            return p.refusal(_as_chipwatch(exc), "classify", "classify.html", **ctx)
        chart = Markup(metrics_chart(done.answer, p.t))
        return p.html("classify.html", "classify", result=done.answer, chart=chart, record=record, **ctx)

    # --- determine --------------------------------------------------------------------------------

    def determine_ctx(form: Any) -> dict[str, Any]:
        return {"form": form, "regimes": regimes, "chips": chips, "end_uses": END_USES, "tri": TRI, "jurisdictions": JURISDICTIONS}

    @router.get("/determine")
    def determine_page(request: Request) -> Response:
        p = signed_in(request)
        return p.html("determine.html", "determine", **determine_ctx(request.query_params))

    @router.post("/determine")
    async def determine_submit(request: Request) -> Response:
        p = signed_in(request)
        form = await request.form()
        ctx = determine_ctx(form)
        try:
            req = transaction_from_form(form)
            done = desk.determine(req, p.caller)
            record = desk.audit_record(done.audit_id, p.caller)
        except (ChipwatchError, ValueError) as exc:
            return p.refusal(_as_chipwatch(exc), "determine", "determine.html", **ctx)
        return p.html("determine.html", "determine", results=done.answer, record=record, audit_id=done.audit_id, **ctx)

    # --- screen -----------------------------------------------------------------------------------

    @router.get("/screen")
    def screen_page(request: Request) -> Response:
        p = signed_in(request)
        q = request.query_params
        if not q.get("name"):
            return p.html("screen.html", "screen", form=q)
        try:
            req = ScreenRequest(name=q["name"], country=q.get("country") or None, address=q.get("address") or None,
                                date=_date(q.get("date"), "date"))
            done = desk.screen(req, p.caller)
            record = desk.audit_record(done.audit_id, p.caller)
        except (ChipwatchError, ValueError) as exc:
            return p.refusal(_as_chipwatch(exc), "screen", "screen.html", form=q)
        return p.html("screen.html", "screen", form=q, result=done.answer, record=record)

    # --- batches ----------------------------------------------------------------------------------

    @router.get("/batch")
    def batch_page(request: Request) -> Response:
        p = signed_in(request)
        try:
            jobs = desk.jobs(p.caller)
        except ChipwatchError as exc:
            return p.refusal(exc, "batch", "batch.html", jobs=[], regimes=regimes, form={})
        return p.html("batch.html", "batch", jobs=jobs, regimes=regimes, form={})

    @router.post("/batch")
    async def batch_submit(request: Request) -> Response:
        p = signed_in(request)
        form = await request.form()
        upload = form.get("file")
        ctx = {"jobs": [], "regimes": regimes, "form": form}
        try:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise InvalidInput(p.t("batch.empty_file"))
            data = await upload.read()
            job = desk.submit_batch(_text(form, "kind") or "determine", upload.filename, data, p.caller,
                                    regime=_regime(_text(form, "regime")), as_written=bool(_text(form, "as_written")))
        except ChipwatchError as exc:
            return p.refusal(exc, "batch", "batch.html", **ctx)
        return p.finish(RedirectResponse(f"{prefix}/jobs/{job.id}", status_code=303))

    # --- ledger -----------------------------------------------------------------------------------

    @router.get("/ledger")
    def ledger_page(request: Request) -> Response:
        p = signed_in(request)
        return p.html("ledger.html", "ledger", regimes=regimes, form={})

    @router.post("/ledger")
    async def ledger_submit(request: Request) -> Response:
        p = signed_in(request)
        form = await request.form()
        ctx: dict[str, Any] = {"regimes": regimes, "form": form}
        shipments, licences = form.get("shipments"), form.get("licences")
        try:
            if not isinstance(shipments, UploadFile) or not shipments.filename:
                raise InvalidInput(p.t("ledger.empty_file"))
            lic = await licences.read() if isinstance(licences, UploadFile) and licences.filename else None
            done = desk.ledger(await shipments.read(), shipments.filename, p.caller, lic,
                               regime=_regime(_text(form, "regime")), as_written=bool(_text(form, "as_written")))
            record = desk.audit_record(done.audit_id, p.caller)
        except ChipwatchError as exc:
            return p.refusal(exc, "ledger", "ledger.html", **ctx)
        return p.html("ledger.html", "ledger", report=done.answer, record=record, filename=shipments.filename, **ctx)

    # --- administration: keys and lists ------------------------------------------------------------

    def admin_view(p: SignedInPage, *, status: int = 200, flash: str | None = None, flash_kind: str = "info",
                   **extra: Any) -> Response:
        """The admin page with the keys and list versions as they are now (after any change)."""
        try:
            keys = desk.list_keys(p.caller)
        except ChipwatchError as exc:
            return p.refusal(exc, "admin")
        return p.html("admin.html", "admin", status=status, keys=keys, versions=desk.list_versions(), roles=ROLES,
                      formats=LIST_FORMATS,
                      flash=flash, flash_kind=flash_kind if status < 400 else "error", **extra)

    def admin_refusal(p: SignedInPage, exc: ChipwatchError) -> Response:
        """A refused change: a role or a missing key as its own page; bad input on the admin page."""
        if isinstance(exc, Forbidden | NotFound):
            return p.refusal(exc, "admin")
        return admin_view(p, status=400, flash=f"{p.t('common.bad_input')} {exc}")

    @router.get("/admin")
    def admin_page(request: Request) -> Response:
        p = signed_in(request)
        return admin_view(p)

    @router.post("/admin/keys")
    async def admin_create_key(request: Request) -> Response:
        p = signed_in(request)
        form = await request.form()
        try:  # the desk checks the role named (and the caller's own)
            secret, made = desk.create_key(_text(form, "name") or "", cast(Role, _text(form, "role") or "viewer"), p.caller)
        except ChipwatchError as exc:
            return admin_refusal(p, exc)
        return admin_view(p, flash=p.t("admin.key_created", name=made.name), new_secret=secret, new_key=made)

    @router.post("/admin/keys/{key_id}/revoke")
    async def admin_revoke_key(request: Request, key_id: str) -> Response:
        p = signed_in(request)
        try:
            revoked = desk.revoke_key(key_id, p.caller)
        except ChipwatchError as exc:
            return admin_refusal(p, exc)
        if revoked.key_id == p.caller.key_id:  # revoked one's own key: signed out
            response = RedirectResponse(f"{prefix}/login", status_code=303)
            response.delete_cookie(KEY_COOKIE)
            return response
        return admin_view(p, flash=p.t("admin.key_revoked", name=revoked.name))

    @router.post("/admin/lists")
    async def admin_import_list(request: Request) -> Response:
        p = signed_in(request)
        form = await request.form()
        upload = form.get("file")
        try:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise InvalidInput(p.t("admin.empty_file"))
            version = desk.import_list(await upload.read(), upload.filename, p.caller, _text(form, "format"))
        except ChipwatchError as exc:
            return admin_refusal(p, exc)
        return admin_view(p, flash=p.t("admin.list_imported", version=version.version_id, entries=version.entries,
                                       lists=", ".join(version.list_ids)))

    @router.get("/jobs/{job_id}")
    def job_page(request: Request, job_id: str) -> Response:
        p = signed_in(request)
        try:
            job = desk.job(job_id, p.caller)
            preview = desk.job_result(job_id, p.caller).head(PREVIEW_ROWS) if job.rows_done else None
        except ChipwatchError as exc:
            return p.refusal(exc, "batch")
        rows = preview.to_dicts() if preview is not None and preview.height else []
        columns = [c for c in (preview.columns if preview is not None else []) if c != "hits"]
        return p.html("job.html", "batch", job=job, rows=rows, columns=columns)

    @router.get("/jobs/{job_id}/status")
    def job_status(request: Request, job_id: str) -> Response:
        """The job's progress as JSON for the page's poll (same cookie; the JSON API has its own)."""
        p = page_of(request)
        if p.caller is None:
            return JSONResponse({"detail": "sign in"}, status_code=401)
        try:
            job = desk.job(job_id, p.caller)
        except Forbidden as exc:
            return JSONResponse({"detail": str(exc)}, status_code=403)
        except NotFound as exc:
            return JSONResponse({"detail": str(exc)}, status_code=404)
        body = job.model_dump(mode="json")
        body["status_text"] = p.t(f"batch.status_{job.status}")
        return JSONResponse(body)

    @router.get("/jobs/{job_id}/result.csv")
    def job_csv(request: Request, job_id: str) -> Response:
        p = signed_in(request)
        try:
            frame = desk.job_result(job_id, p.caller)
        except ChipwatchError as exc:
            return p.refusal(exc, "batch")
        buf = io.BytesIO()
        frame.write_csv(buf)
        return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="chipwatch-{job_id}.csv"'})

    # --- audit ------------------------------------------------------------------------------------

    @router.get("/audit")
    def audit_page(request: Request) -> Response:
        p = signed_in(request)
        q = request.query_params
        try:
            offset = max(int(q.get("offset") or 0), 0)
        except ValueError:
            offset = 0
        action = q.get("action") or None
        try:
            records = desk.audit(p.caller, limit=AUDIT_PAGE, offset=offset, action=action, key_id=q.get("key_id") or None)
        except ChipwatchError as exc:
            return p.refusal(exc, "audit")
        return p.html("audit.html", "audit", records=records, offset=offset, page_size=AUDIT_PAGE, action=action or "",
                      actions=("classify", "determine", "screen", "ledger", "simulate", "determine.batch", "screen.batch"))

    @router.get("/audit/{audit_id}")
    def audit_record_page(request: Request, audit_id: int) -> Response:
        p = signed_in(request)
        try:
            record = desk.audit_record(audit_id, p.caller)
        except ChipwatchError as exc:
            return p.refusal(exc, "audit")
        return p.html("audit_record.html", "audit", record=record, pretty=_pretty)

    # --- scenarios --------------------------------------------------------------------------------

    @router.get("/scenarios")
    def scenarios_page(request: Request) -> Response:
        p = signed_in(request)
        q = request.query_params
        chosen = q.getlist("policy")
        ctx: dict[str, Any] = {"regimes": regimes, "chosen": chosen or list(DEFAULT_POLICIES),
                               "paths": q.get("paths") or str(DEFAULT_SCENARIO_PATHS), "seed": q.get("seed") or "0"}
        if not chosen:
            return p.html("scenarios.html", "scenarios", **ctx)
        try:
            req = SimulateRequest(policies=chosen, paths=int(ctx["paths"]), seed=int(ctx["seed"]))
            done = desk.simulate(req, p.caller)
        except (ChipwatchError, ValueError) as exc:
            return p.refusal(_as_chipwatch(exc), "scenarios", "scenarios.html", **ctx)
        years, rows = report.band_table(done.answer)
        return p.html("scenarios.html", "scenarios", answer=done.answer, audit_id=done.audit_id,
                      charts=report.scenario_charts(done.answer, p.t), years=years, band_rows=rows, **ctx)

    # --- reports ----------------------------------------------------------------------------------

    def deliver(p: Page, html: str, fmt: str, name: str) -> Response:
        if fmt == "html":
            return p.finish(HTMLResponse(html, headers={"Content-Disposition": f'inline; filename="{name}.html"'}))
        pdf = report.html_to_pdf(html)
        return p.finish(Response(pdf, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'}))

    def report_route(p: Page, fmt: str, build: Callable[[], tuple[str, str]]) -> Response:
        if fmt not in ("html", "pdf"):
            return p.refusal(NotFound(f"no report format {fmt!r} (html or pdf)"), "audit")
        try:
            html, name = build()
            return deliver(p, html, fmt, name)
        except ChipwatchError as exc:
            return p.refusal(exc, "audit")

    @router.get("/reports/determination/{audit_id}.{fmt}")
    def determination_report(request: Request, audit_id: int, fmt: str) -> Response:
        p = signed_in(request)

        def build() -> tuple[str, str]:
            record = desk.audit_record(audit_id, p.caller)
            return report.determination_report(record, p.lang), f"chipwatch-determination-{audit_id}"

        return report_route(p, fmt, build)

    @router.get("/reports/batch/{job_id}.{fmt}")
    def batch_report(request: Request, job_id: str, fmt: str) -> Response:
        p = signed_in(request)

        def build() -> tuple[str, str]:
            job = desk.job(job_id, p.caller)
            frame = desk.job_result(job_id, p.caller)
            records = desk.audit(p.caller, limit=1, action=f"{job.kind}.batch")
            rules = sorted({r for r in frame["rule_version"].to_list() if r}) if "rule_version" in frame.columns else []
            lists = [records[0].list_version] if records and records[0].list_version else []
            return report.batch_report(job, frame, p.lang, rule_versions=rules, list_versions=lists), f"chipwatch-batch-{job_id}"

        return report_route(p, fmt, build)

    @router.get("/reports/scenario/{audit_id}.{fmt}")
    def scenario_report(request: Request, audit_id: int, fmt: str) -> Response:
        p = signed_in(request)

        def build() -> tuple[str, str]:
            record = desk.audit_record(audit_id, p.caller)
            if record.action != "simulate":
                raise NotFound(f"audit record {audit_id} is not a simulation")
            # The record keeps the bands, not the quarterly series the charts need: the run is
            # repeated from its recorded inputs (same seed, same draws), itself recorded.
            done = desk.simulate(SimulateRequest.model_validate(record.inputs), p.caller)
            return report.scenario_report(done.answer, record, p.lang), f"chipwatch-scenario-{audit_id}"

        return report_route(p, fmt, build)

    return router


def _as_chipwatch(exc: Exception) -> ChipwatchError:
    """A pydantic ValidationError (also a ValueError) as one line naming the field."""
    if isinstance(exc, ChipwatchError):
        return exc
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        return InvalidInput(f"{where}: {first.get('msg', '')}" if where else str(first.get("msg", "")))
    return InvalidInput(str(exc))


def _pretty(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, indent=2, default=str)
