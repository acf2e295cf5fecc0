"""`/api` routes for invites."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["invites"])
