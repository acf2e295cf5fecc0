"""Request bodies (validated) and response shapes (for the OpenAPI document) of `/api`.

Responses are built by render.py and serialised directly; these models describe them so
that /openapi.json is accurate, which the schemathesis run in CI holds us to.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from gossip.kit.errors import ValidationFailed

# PostgreSQL text cannot hold NUL: a NUL that reached a query was a 500 there (and was
# stored as is on SQLite). Refused at the door instead, in bodies and query strings.
NO_NUL = r"^[^\x00]*$"


def nul_at(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string in `value` that holds a NUL, if any."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\x00" in key:
            return where
        found = nul_at(item, where)
        if found is not None:
            return found
    return None


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        where = nul_at(data)
        if where is not None:
            raise ValidationFailed.field(where or "body", "must not contain NUL characters")
        return data


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- auth ---------------------------------------------------------------------------


class RegisterIn(Body):
    username: str = Field(min_length=3, max_length=32)
    email: EmailStr = Field(max_length=254)
    password: str = Field(min_length=8, max_length=128)
    inviteCode: str | None = Field(default=None, max_length=32)


class LoginIn(Body):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=128)


class UserBriefOut(Out):
    id: str
    username: str
    avatar: str | None
    bot: bool = False


class AuthUserOut(Out):
    id: str
    username: str
    email: str | None
    avatar: str | None
    createdAt: str


class AuthOut(Out):
    user: AuthUserOut
    token: str
    refreshToken: str
    expiresIn: int


class RefreshOut(Out):
    token: str
    refreshToken: str
    expiresIn: int


# --- users --------------------------------------------------------------------------


class UserMeOut(Out):
    id: str
    username: str
    email: str | None
    avatar: str | None
    banner: str | None
    bio: str | None
    status: str
    flags: int
    createdAt: str


class UserOut(Out):
    id: str
    username: str
    avatar: str | None
    banner: str | None
    bio: str | None
    status: str
    flags: int
    mutualServers: list[str]
    createdAt: str


class UserUpdateIn(Body):
    username: str | None = Field(default=None, min_length=3, max_length=32)
    bio: str | None = Field(default=None, max_length=500)
    status: str | None = Field(default=None, max_length=16)
    avatar: str | None = Field(default=None, max_length=512)
    banner: str | None = Field(default=None, max_length=512)


class UserSearchHit(Out):
    id: str
    username: str
    avatar: str | None
    status: str


class UserSearchOut(Out):
    users: list[UserSearchHit]
    total: int
    hasMore: bool


AnyData = dict[str, Any]
