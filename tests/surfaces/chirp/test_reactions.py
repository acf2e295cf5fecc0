"""`/api/channels/{id}/messages/{id}/reactions/...` through real HTTP."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from gossip.kit.permissions import Permission
from tests.live import Live, User, error_code
from tests.surfaces.chirp.chat import Room, channel, deny_everyone, grant_role, room, send

THUMBS = "%F0%9F%91%8D"  # 👍


def base(r: Room, message: dict[str, Any]) -> str:
    return f"/api/channels/{r.channel_id}/messages/{message['id']}/reactions"


def reactions_of(live: Live, r: Room, message: dict[str, Any], user: User) -> Any:
    path = f"/api/channels/{r.channel_id}/messages/{message['id']}"
    return live.data(live.get(path, user))["reactions"]


class TestAddReaction:
    def test_adds_idempotently_and_counts(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.owner, r.channel_id)
        assert live.data(live.put(f"{base(r, message)}/{THUMBS}", r.member)) is None
        assert live.data(live.put(f"{base(r, message)}/{THUMBS}", r.member)) is None
        thumbs = {"id": None, "name": "👍"}
        assert reactions_of(live, r, message, r.member) == [
            {"emoji": thumbs, "count": 1, "me": True}
        ]
        assert reactions_of(live, r, message, r.owner) == [
            {"emoji": thumbs, "count": 1, "me": False}
        ]
        live.data(live.put(f"{base(r, message)}/{THUMBS}", r.owner))
        live.data(live.put(f"{base(r, message)}/{quote('🎉')}", r.owner))
        assert reactions_of(live, r, message, r.owner) == [
            {"emoji": thumbs, "count": 2, "me": True},
            {"emoji": {"id": None, "name": "🎉"}, "count": 1, "me": True},
        ]

    @pytest.mark.parametrize(
        "emoji",
        ["❤️", "👍🏽", "🇫🇷", "#️⃣", "1️⃣", "👨‍👩‍👧‍👦", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "™", "ℹ️", "‼️"],
    )
    def test_accepts_unicode_emoji(self, live: Live, emoji: str) -> None:
        r = room(live)
        message = send(live, r.owner, r.channel_id)
        live.data(live.put(f"{base(r, message)}/{quote(emoji)}", r.owner))
        assert reactions_of(live, r, message, r.owner)[0]["emoji"] == {"id": None, "name": emoji}

    def test_custom_emoji(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.owner, r.channel_id)
        live.data(live.put(f"{base(r, message)}/party_parrot:123456789", r.owner))
        [reaction] = reactions_of(live, r, message, r.owner)
        assert reaction["emoji"] == {"id": "123456789", "name": "party_parrot"}

    @pytest.mark.parametrize(
        "raw",
        [
            "%20",
            "a",
            "abc",
            "%F0%9F%91%8D%F0%9F%91%8D",  # two emoji
            "%F0%9F%91%8D%20",
            "%00",
            "%F0%9F%91%8D%0A",
            "%E2%80%8B",  # zero-width space
            "%FF",  # not UTF-8
            "%F0%9F%87%AB",  # half a flag
            "x:123",
            "name:abc",
            "name:0",
            "name:99999999999999999999",
            "a" * 101,
            "%C3%A9",  # é
            "%E4%B8%AD",  # a letter, not an emoji
        ],
    )
    def test_rejects_what_is_not_an_emoji(self, live: Live, raw: str) -> None:
        r = room(live)
        message = send(live, r.owner, r.channel_id)
        response = live.put(f"{base(r, message)}/{raw}", r.owner)
        assert response.status_code == 400, response.text
        assert error_code(response) == "VALIDATION_ERROR"
        assert reactions_of(live, r, message, r.owner) == []

    def test_new_emoji_needs_add_reactions(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.owner, r.channel_id)
        deny_everyone(live, r, Permission.ADD_REACTIONS)
        refused = live.put(f"{base(r, message)}/{THUMBS}", r.member)
        assert refused.status_code == 403 and error_code(refused) == "FORBIDDEN"
        # Joining a reaction someone else started needs only READ_MESSAGE_HISTORY.
        live.data(live.put(f"{base(r, message)}/{THUMBS}", r.owner))
        live.data(live.put(f"{base(r, message)}/{THUMBS}", r.member))
        assert reactions_of(live, r, message, r.member)[0]["count"] == 2

    def test_needs_read_message_history(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.owner, r.channel_id)
        deny_everyone(live, r, Permission.READ_MESSAGE_HISTORY)
        assert live.put(f"{base(r, message)}/{THUMBS}", r.member).status_code == 403

    def test_at_most_20_distinct_emoji(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.owner, r.channel_id)
        for i in range(20):
            live.data(live.put(f"{base(r, message)}/{quote(chr(0x1F600 + i))}", r.owner))
        over = live.put(f"{base(r, message)}/{quote(chr(0x1F600 + 20))}", r.owner)
        assert over.status_code == 400 and error_code(over) == "VALIDATION_ERROR"
        # An emoji already there can still gain users.
        live.data(live.put(f"{base(r, message)}/{quote(chr(0x1F600))}", r.member))
        assert len(reactions_of(live, r, message, r.owner)) == 20

    def test_not_found_and_unauthenticated(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.owner, r.channel_id)
        other = channel(live, r.owner, r.server_id, name="other")
        wrong_channel = f"/api/channels/{other['id']}/messages/{message['id']}/reactions/{THUMBS}"
        assert live.put(wrong_channel, r.owner).status_code == 404
        missing = f"/api/channels/{r.channel_id}/messages/12345/reactions/{THUMBS}"
        assert live.put(missing, r.owner).status_code == 404
        assert live.put(f"{base(r, message)}/{THUMBS}", live.register()).status_code == 404
        assert live.put(f"{base(r, message)}/{THUMBS}").status_code == 401


class TestRemoveOwnReaction:
    def test_removes_idempotently(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.owner, r.channel_id)
        live.data(live.put(f"{base(r, message)}/{THUMBS}", r.member))
        live.data(live.put(f"{base(r, message)}/{THUMBS}", r.owner))
        for _ in range(2):
            assert live.data(live.delete(f"{base(r, message)}/{THUMBS}", r.member)) is None
        assert reactions_of(live, r, message, r.member) == [
            {"emoji": {"id": None, "name": "👍"}, "count": 1, "me": False}
        ]

    def test_errors(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.owner, r.channel_id)
        assert live.delete(f"{base(r, message)}/abc", r.member).status_code == 400
        assert live.delete(f"{base(r, message)}/{THUMBS}", live.register()).status_code == 404
        missing = f"/api/channels/{r.channel_id}/messages/9/reactions/{THUMBS}"
        assert live.delete(missing, r.member).status_code == 404
        assert live.delete(f"{base(r, message)}/{THUMBS}").status_code == 401


class TestRemoveUserReaction:
    def test_moderator_removes_anyones(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.owner, r.channel_id)
        live.data(live.put(f"{base(r, message)}/{THUMBS}", r.member))
        live.data(live.put(f"{base(r, message)}/{THUMBS}", r.owner))
        refused = live.delete(f"{base(r, message)}/{THUMBS}/{r.owner.id}", r.member)
        assert refused.status_code == 403 and error_code(refused) == "FORBIDDEN"
        # Your own, by ID or as @me, needs nothing.
        live.data(live.delete(f"{base(r, message)}/{THUMBS}/@me", r.member))
        live.data(live.put(f"{base(r, message)}/{THUMBS}", r.member))
        live.data(live.delete(f"{base(r, message)}/{THUMBS}/{r.member.id}", r.member))
        live.data(live.put(f"{base(r, message)}/{THUMBS}", r.member))
        live.data(live.delete(f"{base(r, message)}/{THUMBS}/{r.member.id}", r.owner))
        assert reactions_of(live, r, message, r.owner)[0]["count"] == 1
        grant_role(live, r, r.member, Permission.MANAGE_MESSAGES)
        live.data(live.delete(f"{base(r, message)}/{THUMBS}/{r.owner.id}", r.member))
        assert reactions_of(live, r, message, r.owner) == []

    def test_errors(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.owner, r.channel_id)
        assert live.delete(f"{base(r, message)}/{THUMBS}/abc", r.owner).status_code == 404
        assert live.delete(f"{base(r, message)}/%20/{r.member.id}", r.owner).status_code == 400
        assert (
            live.delete(f"{base(r, message)}/{THUMBS}/{r.owner.id}", live.register()).status_code
            == 404
        )
        assert live.delete(f"{base(r, message)}/{THUMBS}/{r.owner.id}").status_code == 401


class TestListReactors:
    def test_lists_users_by_id_with_paging(self, live: Live) -> None:
        r = room(live)
        third = live.register()
        live.join(third, r.server_id, r.owner)
        message = send(live, r.owner, r.channel_id)
        for user in (third, r.owner, r.member):
            live.data(live.put(f"{base(r, message)}/{THUMBS}", user))
        live.data(live.put(f"{base(r, message)}/{quote('🎉')}", r.member))
        users = live.data(live.get(f"{base(r, message)}/{THUMBS}", r.member))
        ordered = sorted((r.owner, r.member, third), key=lambda u: int(u.id))
        assert [u["id"] for u in users] == [u.id for u in ordered]
        assert users[0] == {
            "id": ordered[0].id,
            "username": ordered[0].username,
            "avatar": None,
            "bot": False,
        }
        page = live.data(
            live.get(f"{base(r, message)}/{THUMBS}?limit=1&after={ordered[0].id}", r.owner)
        )
        assert [u["id"] for u in page] == [ordered[1].id]
        assert live.data(live.get(f"{base(r, message)}/{quote('😀')}", r.owner)) == []

    def test_errors(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.owner, r.channel_id)
        path = f"{base(r, message)}/{THUMBS}"
        assert live.get(f"{base(r, message)}/nope", r.member).status_code == 400
        assert live.get(f"{path}?limit=0", r.member).status_code == 400
        assert live.get(f"{path}?after=x", r.member).status_code == 400
        assert live.get(path, live.register()).status_code == 404
        assert live.get(path).status_code == 401
        deny_everyone(live, r, Permission.READ_MESSAGE_HISTORY)
        assert live.get(path, r.member).status_code == 403
