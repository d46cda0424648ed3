"""The API's documentation pages, /docs (Swagger UI) and /redoc, with their scripts served by ShopFest
from the pinned `fastapi-offline` package: they work offline and load nothing from another origin."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/static/api-docs"
ASSETS = Path(fastapi_offline.__file__).parent / "static"

router = APIRouter(include_in_schema=False)


def assets() -> StaticFiles:
    """swagger-ui-bundle.js, swagger-ui.css and redoc.standalone.js, to mount at ASSETS_URL."""
    return StaticFiles(directory=ASSETS)


# No inline script: the page names its settings in data- attributes and /static/swagger-init.js
# starts Swagger UI with them, so the Content-Security-Policy can forbid inline script here too.
SWAGGER_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ShopFest API</title>
<link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body>
<div id="swagger-ui" data-openapi-url="/openapi.json"></div>
<script src="{ASSETS_URL}/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script>
</body>
</html>
"""

REDOC_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ShopFest API</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body>
<redoc spec-url="/openapi.json"></redoc>
<script src="{ASSETS_URL}/redoc.standalone.js"></script>
</body>
</html>
"""


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui() -> HTMLResponse:
    return HTMLResponse(SWAGGER_PAGE)


@router.get("/redoc", response_class=HTMLResponse)
async def redoc() -> HTMLResponse:
    return HTMLResponse(REDOC_PAGE)
