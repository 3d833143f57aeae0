"""Placeholder until the dialect lands: an empty sub-application."""

from __future__ import annotations

from fastapi import FastAPI

from giftwell.services.runtime import Runtime

MOUNT = "/api/giftcards"


def create_app(rt: Runtime) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.runtime = rt
    return app
