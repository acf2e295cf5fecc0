"""`/api` routes for channels."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["channels"])
