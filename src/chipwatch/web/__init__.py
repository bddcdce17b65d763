"""The web desk: server-rendered pages in English and Chinese over the compliance Desk.

    from chipwatch.web import make_router
    app.include_router(make_router(desk))

Pages, static files and report downloads; no JavaScript framework and nothing fetched at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import APIRouter

    from chipwatch.desk import Desk

__all__ = ["make_router"]


def make_router(desk: Desk, prefix: str = "") -> APIRouter:
    """The desk's pages as a FastAPI router (imported here on first use, so `chipwatch.report` can
    use the charts and templates of this package without importing FastAPI)."""
    from chipwatch.web.routes import make_router as build

    return build(desk, prefix)
