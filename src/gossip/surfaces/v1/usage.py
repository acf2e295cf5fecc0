"""`GET /v1/usage`: the account's daily requests, bytes and cost by category.

The report covers the account's keys of the calling key's mode (a test key reports the
sandbox's usage, always $0), newest day first, a page of `limit` days at a time
(cursor-paginated). `format=csv` exports every day at once as CSV: Pro and Scale only
(402 on Free). The request itself is recorded after its report is built, so it shows in
the next report, not in its own.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from gossip.developer import service as developer
from gossip.kit.errors import PaymentRequired, ValidationFailed
from gossip.surfaces.v1.deps import ApiKey, Reader
from gossip.surfaces.v1.pagination import Page, paginate
from gossip.surfaces.v1.render import JSON, error_responses
from gossip.surfaces.v1.schemas import UsageOut

router = APIRouter(tags=["v1 usage"])

EXPORT_DAYS = 1000


def _before(after: int | str | None) -> date | None:
    if after is None:
        return None
    try:
        return date.fromisoformat(str(after))
    except ValueError:
        raise ValidationFailed.field("cursor", "is not a cursor this API gave out") from None


@router.get(
    "/usage",
    response_model=UsageOut,
    responses={
        **error_responses(400, 401, 402, 403, 429),
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
    },
)
async def get_usage(
    key: ApiKey,
    session: Reader,
    page: Page,
    format: Annotated[Literal["json", "csv"], Query(description="csv: Pro only")] = "json",
) -> Response:
    if format == "csv":
        if not key.has("export"):
            raise PaymentRequired("CSV export needs the Pro plan")
        days = await developer.usage_report(session, key, _before(page.after), EXPORT_DAYS)
        return Response(
            developer.usage_csv(days),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="gossip-usage.csv"'},
        )
    days = await developer.usage_report(session, key, _before(page.after), page.limit + 1)
    listing = paginate(days, page, position=lambda d: str(d["date"]), render=lambda d: d)
    return JSON({"mode": key.mode, "plan": key.plan, "daily_limit": key.daily_limit, **listing})
