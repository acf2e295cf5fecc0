"""`/api` routes for dms."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["dms"])
