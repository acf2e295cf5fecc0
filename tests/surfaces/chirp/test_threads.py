"""Threads through real HTTP on SQLite and PostgreSQL: creating one from a message, its
members, messages in it, listing, archiving after inactivity, and PATCH/DELETE as a thread.

Spec 004's default @everyone (104324673) holds neither CREATE_PUBLIC_THREADS nor
SEND_MESSAGES_IN_THREADS, so the members here get them from roles where a test needs them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from gossip.kit.permissions import Permission
from gossip.kit.timefmt import iso, utcnow
from gossip.threads import service as threads_service
from tests.live import Live, User, error_code
from tests.surfaces.chirp.chat import Room, channel, deny_everyone, grant_role, room, send

Shift = Callable[[float], datetime]


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Shift:
    """Moves the threads' clock to `minutes` from now (the test server runs in this
    process); answers that moment."""

    def shift(minutes: float) -> datetime:
        moment = utcnow() + timedelta(minutes=minutes)
        monkeypatch.setattr(threads_service, "utcnow", lambda: moment)
        return moment

    return shift


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def start(
    live: Live,
    user: User,
    channel_id: str,
    message_id: str | None = None,
    *,
    by: User | None = None,
    **body: Any,
) -> dict[str, Any]:
    """A thread `user` starts from a message (a new one of `by`'s, or the owner's)."""
    if message_id is None:
        message_id = send(live, by or user, channel_id, "start here")["id"]
    body.setdefault("name", "a thread")
    path = f"/api/channels/{channel_id}/messages/{message_id}/threads"
    data: dict[str, Any] = live.data(live.post(path, user, json=body), 201)
    return data


def get_thread(live: Live, user: User, thread_id: str) -> dict[str, Any]:
    data: dict[str, Any] = live.data(live.get(f"/api/channels/{thread_id}", user))
    return data


def patch(live: Live, user: User, thread_id: str, **body: Any) -> Any:
    return live.patch(f"/api/channels/{thread_id}", user, json=body)


def members(live: Live, user: User, thread_id: str, query: str = "") -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = live.data(
        live.get(f"/api/channels/{thread_id}/thread-members{query}", user)
    )
    return data


def active(live: Live, user: User, channel_id: str, query: str = "") -> dict[str, Any]:
    data: dict[str, Any] = live.data(
        live.get(f"/api/channels/{channel_id}/threads/active{query}", user)
    )
    return data


def archived(live: Live, user: User, channel_id: str, query: str = "") -> dict[str, Any]:
    data: dict[str, Any] = live.data(
        live.get(f"/api/channels/{channel_id}/threads/archived{query}", user)
    )
    return data


def hide_from(live: Live, r: Room, user: User, channel_id: str | None = None) -> None:
    """A member overwrite that takes VIEW_CHANNEL from one member in the channel."""
    path = f"/api/channels/{channel_id or r.channel_id}/permissions/{user.id}"
    body = {"type": 1, "allow": "0", "deny": str(int(Permission.VIEW_CHANNEL))}
    live.data(live.put(path, r.owner, json=body))


def status(response: Any, code: int, error: str | None = None) -> None:
    assert response.status_code == code, response.text
    if error is not None:
        assert error_code(response) == error


THREADERS = (Permission.CREATE_PUBLIC_THREADS, Permission.SEND_MESSAGES_IN_THREADS)


class TestCreateThread:
    def test_creates_a_public_thread_from_a_message(self, live: Live) -> None:
        r = room(live)
        grant_role(live, r, r.member, Permission.CREATE_PUBLIC_THREADS)
        message = send(live, r.owner, r.channel_id, "let's talk about it")
        before = utcnow()
        thread = start(live, r.member, r.channel_id, message["id"], name="  Plans  ")
        created = parse(thread["createdAt"])
        assert created >= before - timedelta(seconds=1)
        opened = parse(thread["threadMetadata"]["archiveTimestamp"])
        assert abs(opened - created) < timedelta(seconds=1)
        assert thread == {
            "id": thread["id"],
            "type": 11,
            "name": "Plans",
            "serverId": r.server_id,
            "parentId": r.channel_id,
            "ownerId": r.member.id,
            "lastMessageId": None,
            "messageCount": 0,
            "memberCount": 1,
            "startMessageId": message["id"],
            "createdAt": thread["createdAt"],
            "threadMetadata": {
                "archived": False,
                "autoArchiveDuration": 1440,
                "archiveTimestamp": thread["threadMetadata"]["archiveTimestamp"],
                "locked": False,
                "createTimestamp": thread["createdAt"],
            },
        }
        assert get_thread(live, r.owner, thread["id"]) == thread
        # The creator is its first member.
        assert [m["userId"] for m in members(live, r.owner, thread["id"])] == [r.member.id]

    def test_each_duration(self, live: Live) -> None:
        r = room(live)
        for minutes in (60, 1440, 4320, 10080):
            made = start(live, r.owner, r.channel_id, autoArchiveDuration=minutes)
            assert made["threadMetadata"]["autoArchiveDuration"] == minutes

    def test_threads_are_not_in_the_channel_list(self, live: Live) -> None:
        r = room(live)
        server = live.data(live.get(f"/api/servers/{r.server_id}", r.owner))
        start(live, r.owner, r.channel_id)
        listed = live.data(live.get(f"/api/servers/{r.server_id}/channels", r.owner))
        assert [c["id"] for c in listed] == [r.channel_id]
        after = live.data(live.get(f"/api/servers/{r.server_id}", r.owner))
        assert after["channelCount"] == server["channelCount"]

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"name": ""},
            {"name": "   "},
            {"name": "x" * 101},
            {"name": "bell\x07"},
            {"name": 5},
            {"name": "ok", "autoArchiveDuration": 30},
            {"name": "ok", "autoArchiveDuration": "1440x"},
            {"name": "ok", "autoArchiveDuration": None},
        ],
    )
    def test_bad_input_is_400_and_creates_nothing(self, live: Live, body: dict[str, Any]) -> None:
        r = room(live)
        message = send(live, r.owner, r.channel_id)
        path = f"/api/channels/{r.channel_id}/messages/{message['id']}/threads"
        status(live.post(path, r.owner, json=body), 400, "VALIDATION_ERROR")
        assert active(live, r.owner, r.channel_id)["threads"] == []
        start(live, r.owner, r.channel_id, message["id"])  # the message is still free

    def test_one_thread_per_message(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.owner, r.channel_id)
        start(live, r.owner, r.channel_id, message["id"])
        path = f"/api/channels/{r.channel_id}/messages/{message['id']}/threads"
        status(live.post(path, r.owner, json={"name": "again"}), 409, "ALREADY_EXISTS")
        assert len(active(live, r.owner, r.channel_id)["threads"]) == 1

    def test_needs_create_public_threads(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.member, r.channel_id)
        path = f"/api/channels/{r.channel_id}/messages/{message['id']}/threads"
        status(live.post(path, r.member, json={"name": "mine"}), 403, "FORBIDDEN")
        grant_role(live, r, r.member, Permission.CREATE_PUBLIC_THREADS)
        status(live.post(path, r.member, json={"name": "mine"}), 201)

    def test_not_found_and_unauthenticated(self, live: Live) -> None:
        r = room(live)
        outsider = live.register()
        message = send(live, r.owner, r.channel_id)
        path = f"/api/channels/{r.channel_id}/messages/{message['id']}/threads"
        status(live.post(path, json={"name": "x"}), 401, "UNAUTHORIZED")
        status(live.post(path, outsider, json={"name": "x"}), 404, "NOT_FOUND")
        grant_role(live, r, r.member, Permission.CREATE_PUBLIC_THREADS)
        hide_from(live, r, r.member)
        status(live.post(path, r.member, json={"name": "x"}), 404, "NOT_FOUND")
        other = channel(live, r.owner, r.server_id)
        elsewhere = f"/api/channels/{other['id']}/messages/{message['id']}/threads"
        status(live.post(elsewhere, r.owner, json={"name": "x"}), 404)  # not its message
        for bad in ("abc", "0", "99999999999999999999", "1" * 19):
            status(live.post(path.replace(message["id"], bad), r.owner, json={"name": "x"}), 404)
            bad_channel = f"/api/channels/{bad}/messages/{message['id']}/threads"
            status(live.post(bad_channel, r.owner, json={"name": "x"}), 404)

    def test_only_from_messages_of_text_channels(self, live: Live) -> None:
        r = room(live)
        thread = start(live, r.owner, r.channel_id)
        inner = send(live, r.owner, thread["id"], "in the thread")
        nested = f"/api/channels/{thread['id']}/messages/{inner['id']}/threads"
        status(live.post(nested, r.owner, json={"name": "nested"}), 400, "VALIDATION_ERROR")
        dm = live.data(
            live.post("/api/users/me/channels", r.owner, json={"recipients": [r.member.id]}), 201
        )
        said = send(live, r.owner, dm["id"], "hi")
        in_dm = f"/api/channels/{dm['id']}/messages/{said['id']}/threads"
        status(live.post(in_dm, r.owner, json={"name": "dm"}), 400, "VALIDATION_ERROR")


class TestMessagesInThreads:
    def test_post_read_and_join_by_posting(self, live: Live) -> None:
        r = room(live)
        grant_role(live, r, r.member, Permission.SEND_MESSAGES_IN_THREADS)
        thread = start(live, r.owner, r.channel_id)
        said = send(live, r.member, thread["id"], "in the thread")
        assert said["channelId"] == thread["id"]
        listed = live.data(live.get(f"/api/channels/{thread['id']}/messages", r.member))
        assert [m["id"] for m in listed] == [said["id"]]
        parent = live.data(live.get(f"/api/channels/{r.channel_id}/messages", r.member))
        assert said["id"] not in [m["id"] for m in parent]
        now = get_thread(live, r.owner, thread["id"])
        assert now["messageCount"] == 1 and now["lastMessageId"] == said["id"]
        assert now["memberCount"] == 2
        assert {m["userId"] for m in members(live, r.owner, thread["id"])} == {
            r.owner.id,
            r.member.id,
        }
        live.data(live.delete(f"/api/channels/{thread['id']}/messages/{said['id']}", r.member))
        assert get_thread(live, r.owner, thread["id"])["messageCount"] == 0

    def test_needs_send_messages_in_threads_not_send_messages(self, live: Live) -> None:
        r = room(live)
        thread = start(live, r.owner, r.channel_id)
        path = f"/api/channels/{thread['id']}/messages"
        # SEND_MESSAGES (which @everyone holds) is not enough in a thread.
        status(live.post(path, r.member, json={"content": "hi"}), 403, "FORBIDDEN")
        status(live.post(f"/api/channels/{thread['id']}/typing", r.member), 403)
        # A read-only channel whose threads are open.
        deny_everyone(live, r, Permission.SEND_MESSAGES)
        grant_role(live, r, r.member, Permission.SEND_MESSAGES_IN_THREADS)
        status(live.post(path, r.member, json={"content": "hi"}), 201)
        status(live.post(f"/api/channels/{thread['id']}/typing", r.member), 200)
        parent = f"/api/channels/{r.channel_id}/messages"
        status(live.post(parent, r.member, json={"content": "hi"}), 403)

    def test_visibility_and_permissions_are_the_parents(self, live: Live) -> None:
        r = room(live)
        grant_role(live, r, r.member, *THREADERS)
        thread = start(live, r.owner, r.channel_id)
        said = send(live, r.owner, thread["id"], "secret plans")
        deny_everyone(live, r, Permission.READ_MESSAGE_HISTORY)
        status(live.get(f"/api/channels/{thread['id']}/messages", r.member), 403)
        hide_from(live, r, r.member)
        for path in (
            f"/api/channels/{thread['id']}",
            f"/api/channels/{thread['id']}/messages",
            f"/api/channels/{thread['id']}/messages/{said['id']}",
            f"/api/channels/{thread['id']}/thread-members",
        ):
            status(live.get(path, r.member), 404, "NOT_FOUND")
        status(
            live.post(f"/api/channels/{thread['id']}/messages", r.member, json={"content": "x"}),
            404,
        )
        status(live.put(f"/api/channels/{thread['id']}/thread-members/@me", r.member), 404)
        # An overwrite on another channel changes nothing here; the parent's does.
        live.data(live.delete(f"/api/channels/{r.channel_id}/permissions/{r.member.id}", r.owner))
        assert get_thread(live, r.member, thread["id"])["id"] == thread["id"]

    def test_a_thread_has_no_overwrites_of_its_own(self, live: Live) -> None:
        r = room(live)
        thread = start(live, r.owner, r.channel_id)
        path = f"/api/channels/{thread['id']}/permissions/{r.member.id}"
        body = {"type": 1, "allow": "0", "deny": str(int(Permission.VIEW_CHANNEL))}
        status(live.put(path, r.owner, json=body), 400, "VALIDATION_ERROR")
        assert get_thread(live, r.member, thread["id"])["id"] == thread["id"]

    def test_locked_thread_refuses_all_but_moderators(self, live: Live) -> None:
        r = room(live)
        grant_role(live, r, r.member, Permission.SEND_MESSAGES_IN_THREADS)
        moderator = live.register()
        live.join(moderator, r.server_id, r.owner)
        grant_role(
            live, r, moderator, Permission.SEND_MESSAGES_IN_THREADS, Permission.MANAGE_THREADS
        )
        thread = start(live, r.owner, r.channel_id)
        live.data(patch(live, r.owner, thread["id"], locked=True))
        path = f"/api/channels/{thread['id']}/messages"
        status(live.post(path, r.member, json={"content": "let me in"}), 403, "FORBIDDEN")
        status(live.post(path, moderator, json={"content": "noted"}), 201)
        assert [m["userId"] for m in members(live, r.owner, thread["id"])] == sorted(
            [r.owner.id, moderator.id], key=int
        )

    def test_deleting_the_parent_deletes_its_threads(self, live: Live) -> None:
        r = room(live)
        other = channel(live, r.owner, r.server_id)
        thread = start(live, r.owner, other["id"])
        send(live, r.owner, thread["id"], "soon gone")
        live.data(live.delete(f"/api/channels/{other['id']}", r.owner))
        status(live.get(f"/api/channels/{thread['id']}", r.owner), 404)
        status(live.get(f"/api/channels/{thread['id']}/messages", r.owner), 404)


class TestArchiving:
    def test_archives_after_the_inactivity_period(self, live: Live, later: Shift) -> None:
        r = room(live)
        grant_role(live, r, r.member, *THREADERS)
        thread = start(live, r.owner, r.channel_id, autoArchiveDuration=60)
        deadline = parse(thread["createdAt"]) + timedelta(minutes=60)
        later(59)
        assert get_thread(live, r.member, thread["id"])["threadMetadata"]["archived"] is False
        later(61)
        seen = get_thread(live, r.member, thread["id"])["threadMetadata"]
        assert seen["archived"] is True
        assert abs(parse(seen["archiveTimestamp"]) - deadline) < timedelta(seconds=1)
        assert active(live, r.member, r.channel_id)["threads"] == []
        assert [t["id"] for t in archived(live, r.member, r.channel_id)["threads"]] == [
            thread["id"]
        ]
        join = live.put(f"/api/channels/{thread['id']}/thread-members/@me", r.member)
        status(join, 400, "VALIDATION_ERROR")

    def test_activity_restarts_the_period(self, live: Live, later: Shift) -> None:
        r = room(live)
        thread = start(live, r.owner, r.channel_id, autoArchiveDuration=60)
        later(50)
        send(live, r.owner, thread["id"], "still here")
        later(100)
        assert get_thread(live, r.owner, thread["id"])["threadMetadata"]["archived"] is False
        later(111)
        assert get_thread(live, r.owner, thread["id"])["threadMetadata"]["archived"] is True

    def test_a_message_from_a_permitted_member_reopens(self, live: Live, later: Shift) -> None:
        r = room(live)
        grant_role(live, r, r.member, Permission.SEND_MESSAGES_IN_THREADS)
        outsider_ish = live.register()
        live.join(outsider_ish, r.server_id, r.owner)  # no SEND_MESSAGES_IN_THREADS
        thread = start(live, r.owner, r.channel_id, autoArchiveDuration=60)
        later(61)
        path = f"/api/channels/{thread['id']}/messages"
        status(live.post(path, outsider_ish, json={"content": "x"}), 403)
        assert get_thread(live, r.owner, thread["id"])["threadMetadata"]["archived"] is True
        moment = later(62)
        said = live.data(live.post(path, r.member, json={"content": "wake up"}), 201)
        seen = get_thread(live, r.owner, thread["id"])
        assert seen["threadMetadata"]["archived"] is False
        assert seen["threadMetadata"]["archiveTimestamp"] == iso(moment)
        assert seen["lastMessageId"] == said["id"]
        assert [t["id"] for t in active(live, r.owner, r.channel_id)["threads"]] == [thread["id"]]
        # A full period from the reopening, not from the creation.
        later(62 + 59)
        assert get_thread(live, r.owner, thread["id"])["threadMetadata"]["archived"] is False

    def test_locked_and_archived_reopens_only_for_moderators(
        self, live: Live, later: Shift
    ) -> None:
        r = room(live)
        grant_role(live, r, r.member, Permission.SEND_MESSAGES_IN_THREADS)
        thread = start(live, r.owner, r.channel_id, autoArchiveDuration=60)
        live.data(patch(live, r.owner, thread["id"], locked=True))
        later(61)
        path = f"/api/channels/{thread['id']}/messages"
        status(live.post(path, r.member, json={"content": "x"}), 403)
        status(patch(live, r.member, thread["id"], archived=False), 403)
        assert get_thread(live, r.owner, thread["id"])["threadMetadata"]["archived"] is True
        status(live.post(path, r.owner, json={"content": "reopened by a moderator"}), 201)
        seen = get_thread(live, r.owner, thread["id"])["threadMetadata"]
        assert seen["archived"] is False and seen["locked"] is True

    def test_a_longer_duration_does_not_reopen_an_archived_thread(
        self, live: Live, later: Shift
    ) -> None:
        r = room(live)
        thread = start(live, r.owner, r.channel_id, autoArchiveDuration=60)
        later(61)
        status(patch(live, r.owner, thread["id"], autoArchiveDuration=10080), 400)
        status(patch(live, r.owner, thread["id"], name="renamed"), 400)
        assert get_thread(live, r.owner, thread["id"])["threadMetadata"]["archived"] is True
        # Reopening in the same request is how.
        reopened = live.data(
            patch(live, r.owner, thread["id"], archived=False, autoArchiveDuration=10080)
        )
        assert reopened["threadMetadata"]["archived"] is False
        assert reopened["threadMetadata"]["autoArchiveDuration"] == 10080
        later(61 + 10079)
        assert get_thread(live, r.owner, thread["id"])["threadMetadata"]["archived"] is False

    def test_changing_the_duration_keeps_the_last_activity(self, live: Live, later: Shift) -> None:
        r = room(live)
        thread = start(live, r.owner, r.channel_id, autoArchiveDuration=1440)
        later(90)
        live.data(patch(live, r.owner, thread["id"], autoArchiveDuration=4320))
        later(4319)
        assert get_thread(live, r.owner, thread["id"])["threadMetadata"]["archived"] is False
        later(4321)
        assert get_thread(live, r.owner, thread["id"])["threadMetadata"]["archived"] is True


class TestUpdateThread:
    def test_creator_renames_sets_duration_and_archives(self, live: Live) -> None:
        r = room(live)
        grant_role(live, r, r.member, *THREADERS)
        thread = start(live, r.member, r.channel_id, by=r.owner)
        renamed = live.data(
            patch(live, r.member, thread["id"], name=" Renamed ", autoArchiveDuration=60)
        )
        assert renamed["name"] == "Renamed"
        assert renamed["threadMetadata"]["autoArchiveDuration"] == 60
        assert get_thread(live, r.owner, thread["id"]) == renamed
        closed = live.data(patch(live, r.member, thread["id"], archived=True))
        assert closed["threadMetadata"]["archived"] is True
        assert (
            closed["threadMetadata"]["archiveTimestamp"]
            > thread["threadMetadata"]["archiveTimestamp"]
        )
        status(
            live.post(f"/api/channels/{thread['id']}/messages", r.member, json={"content": "back"}),
            201,
        )
        assert get_thread(live, r.owner, thread["id"])["threadMetadata"]["archived"] is False

    def test_others_need_manage_threads(self, live: Live) -> None:
        r = room(live)
        grant_role(live, r, r.member, Permission.SEND_MESSAGES_IN_THREADS)
        thread = start(live, r.owner, r.channel_id)
        for body in (
            {"name": "mine now"},
            {"autoArchiveDuration": 60},
            {"archived": True},
            {"locked": True},
            {},
        ):
            status(patch(live, r.member, thread["id"], **body), 403, "FORBIDDEN")
        moderator = live.register()
        live.join(moderator, r.server_id, r.owner)
        grant_role(live, r, moderator, Permission.MANAGE_THREADS)
        locked = live.data(patch(live, moderator, thread["id"], locked=True, name="moderated"))
        assert locked["threadMetadata"]["locked"] is True and locked["name"] == "moderated"
        # MANAGE_CHANNELS, which edits channels, does not edit threads.
        editor = live.register()
        live.join(editor, r.server_id, r.owner)
        grant_role(live, r, editor, Permission.MANAGE_CHANNELS)
        status(patch(live, editor, thread["id"], name="no"), 403)

    def test_reopening_needs_send_messages_in_threads(self, live: Live) -> None:
        r = room(live)
        thread = start(live, r.owner, r.channel_id)
        live.data(patch(live, r.owner, thread["id"], archived=True))
        status(patch(live, r.member, thread["id"], archived=False), 403)
        grant_role(live, r, r.member, Permission.SEND_MESSAGES_IN_THREADS)
        reopened = live.data(patch(live, r.member, thread["id"], archived=False))
        assert reopened["threadMetadata"]["archived"] is False

    def test_bad_input(self, live: Live) -> None:
        r = room(live)
        thread = start(live, r.owner, r.channel_id)
        for body in (
            {"name": ""},
            {"name": "  "},
            {"name": "x" * 101},
            {"autoArchiveDuration": 61},
            {"archived": "perhaps"},
            {"locked": [True]},
        ):
            status(patch(live, r.owner, thread["id"], **body), 400, "VALIDATION_ERROR")
        assert get_thread(live, r.owner, thread["id"]) == thread

    def test_not_found(self, live: Live) -> None:
        r = room(live)
        outsider = live.register()
        thread = start(live, r.owner, r.channel_id)
        status(patch(live, outsider, thread["id"], name="x"), 404, "NOT_FOUND")
        hide_from(live, r, r.member)
        hidden = patch(live, r.member, thread["id"], name="x")
        missing = patch(live, r.member, "1" * 18, name="x")
        status(hidden, 404)
        status(missing, 404)
        # Existence does not leak, not even through the message.
        assert hidden.json()["error"]["message"] == missing.json()["error"]["message"]
        status(live.patch(f"/api/channels/{thread['id']}", json={"name": "x"}), 401)


class TestDeleteThread:
    def test_needs_manage_threads(self, live: Live) -> None:
        r = room(live)
        grant_role(live, r, r.member, *THREADERS)
        message = send(live, r.owner, r.channel_id)
        thread = start(live, r.member, r.channel_id, message["id"])
        send(live, r.member, thread["id"], "inside")
        status(live.delete(f"/api/channels/{thread['id']}", r.member), 403, "FORBIDDEN")
        moderator = live.register()
        live.join(moderator, r.server_id, r.owner)
        grant_role(live, r, moderator, Permission.MANAGE_THREADS)
        live.data(live.delete(f"/api/channels/{thread['id']}", moderator))
        status(live.get(f"/api/channels/{thread['id']}", r.owner), 404)
        status(live.delete(f"/api/channels/{thread['id']}", moderator), 404)
        # The starting message stays, and may start a thread again.
        live.data(live.get(f"/api/channels/{r.channel_id}/messages/{message['id']}", r.owner))
        start(live, r.owner, r.channel_id, message["id"])

    def test_not_found(self, live: Live) -> None:
        r = room(live)
        thread = start(live, r.owner, r.channel_id)
        status(live.delete(f"/api/channels/{thread['id']}", live.register()), 404)
        status(live.delete(f"/api/channels/{thread['id']}"), 401)


class TestThreadMembers:
    def test_join_leave_list(self, live: Live) -> None:
        r = room(live)
        thread = start(live, r.owner, r.channel_id)
        path = f"/api/channels/{thread['id']}/thread-members/@me"
        assert live.data(live.put(path, r.member)) is None
        live.data(live.put(path, r.member))  # idempotent
        listed = members(live, r.member, thread["id"])
        assert [m["userId"] for m in listed] == sorted([r.owner.id, r.member.id], key=int)
        mine = next(m for m in listed if m["userId"] == r.member.id)
        assert mine == {"userId": r.member.id, "joinTimestamp": mine["joinTimestamp"], "flags": 0}
        assert abs(parse(mine["joinTimestamp"]) - utcnow()) < timedelta(minutes=1)
        assert get_thread(live, r.owner, thread["id"])["memberCount"] == 2
        assert live.data(live.delete(path, r.member)) is None
        live.data(live.delete(path, r.member))  # idempotent
        assert [m["userId"] for m in members(live, r.owner, thread["id"])] == [r.owner.id]
        # The creator may leave too.
        live.data(live.delete(path, r.owner))
        assert members(live, r.owner, thread["id"]) == []

    def test_pages_and_leaves_out_who_left_the_server(self, live: Live) -> None:
        r = room(live)
        thread = start(live, r.owner, r.channel_id)
        path = f"/api/channels/{thread['id']}/thread-members/@me"
        others = [live.register() for _ in range(3)]
        for user in others:
            live.join(user, r.server_id, r.owner)
            live.data(live.put(path, user))
        everyone = sorted([r.owner.id, *(u.id for u in others)], key=int)
        assert [m["userId"] for m in members(live, r.owner, thread["id"], "?limit=2")] == everyone[
            :2
        ]
        rest = members(live, r.owner, thread["id"], f"?after={everyone[1]}")
        assert [m["userId"] for m in rest] == everyone[2:]
        live.data(live.delete(f"/api/servers/{r.server_id}/members/{others[0].id}", r.owner))
        assert others[0].id not in [m["userId"] for m in members(live, r.owner, thread["id"])]

    def test_errors(self, live: Live) -> None:
        r = room(live)
        thread = start(live, r.owner, r.channel_id)
        base = f"/api/channels/{thread['id']}/thread-members"
        for query in ("?limit=0", "?limit=101", "?after=x", "?limit=abc"):
            status(live.get(base + query, r.owner), 400, "VALIDATION_ERROR")
        status(live.get(base), 401)
        status(live.put(base + "/@me"), 401)
        status(live.delete(base + "/@me"), 401)
        outsider = live.register()
        for method in ("GET", "PUT", "DELETE"):
            suffix = "" if method == "GET" else "/@me"
            status(live.request(method, base + suffix, outsider), 404, "NOT_FOUND")
            # A channel that is not a thread, and IDs naming nothing.
            for cid in (r.channel_id, "abc", "1" * 18):
                path = f"/api/channels/{cid}/thread-members{suffix}"
                status(live.request(method, path, r.owner), 404, "NOT_FOUND")

    def test_archived_threads_cannot_be_joined_or_left(self, live: Live) -> None:
        r = room(live)
        thread = start(live, r.owner, r.channel_id)
        live.data(patch(live, r.owner, thread["id"], archived=True))
        path = f"/api/channels/{thread['id']}/thread-members/@me"
        status(live.put(path, r.member), 400, "VALIDATION_ERROR")
        status(live.delete(path, r.owner), 400, "VALIDATION_ERROR")
        assert [m["userId"] for m in members(live, r.member, thread["id"])] == [r.owner.id]


class TestListThreads:
    def test_active_newest_first_with_own_memberships(self, live: Live) -> None:
        r = room(live)
        made = [start(live, r.owner, r.channel_id, name=f"t{i}") for i in range(3)]
        live.data(live.put(f"/api/channels/{made[1]['id']}/thread-members/@me", r.member))
        listing = active(live, r.member, r.channel_id)
        assert [t["id"] for t in listing["threads"]] == [t["id"] for t in reversed(made)]
        assert listing["threads"][1] == get_thread(live, r.member, made[1]["id"])
        assert [(m["id"], m["userId"]) for m in listing["members"]] == [
            (made[1]["id"], r.member.id)
        ]
        assert listing["hasMore"] is False
        page = active(live, r.member, r.channel_id, "?limit=2")
        assert [t["id"] for t in page["threads"]] == [made[2]["id"], made[1]["id"]]
        assert page["hasMore"] is True
        rest = active(live, r.member, r.channel_id, f"?before={made[1]['id']}")
        assert [t["id"] for t in rest["threads"]] == [made[0]["id"]] and rest["hasMore"] is False
        # Another channel's threads are its own.
        other = channel(live, r.owner, r.server_id)
        assert active(live, r.member, other["id"])["threads"] == []

    def test_archived_most_recent_first(self, live: Live, later: Shift) -> None:
        r = room(live)
        early = start(live, r.owner, r.channel_id, name="closed by hand")
        lapsed = start(live, r.owner, r.channel_id, name="lapsed", autoArchiveDuration=60)
        open_one = start(live, r.owner, r.channel_id, name="open")
        live.data(patch(live, r.owner, early["id"], archived=True))
        assert [t["id"] for t in archived(live, r.member, r.channel_id)["threads"]] == [early["id"]]
        later(61)
        listing = archived(live, r.member, r.channel_id)
        assert [t["id"] for t in listing["threads"]] == [lapsed["id"], early["id"]]
        assert listing["hasMore"] is False
        assert [t["id"] for t in active(live, r.member, r.channel_id)["threads"]] == [
            open_one["id"]
        ]
        first = archived(live, r.member, r.channel_id, "?limit=1")
        assert [t["id"] for t in first["threads"]] == [lapsed["id"]] and first["hasMore"] is True
        cursor = first["threads"][0]["threadMetadata"]["archiveTimestamp"]
        rest = archived(live, r.member, r.channel_id, f"?before={cursor}")
        assert [t["id"] for t in rest["threads"]] == [early["id"]]

    def test_archived_needs_read_message_history(self, live: Live) -> None:
        r = room(live)
        deny_everyone(live, r, Permission.READ_MESSAGE_HISTORY)
        path = f"/api/channels/{r.channel_id}/threads/archived"
        status(live.get(path, r.member), 403, "FORBIDDEN")
        active(live, r.member, r.channel_id)  # seeing the channel is enough for these

    def test_errors(self, live: Live) -> None:
        r = room(live)
        outsider = live.register()
        hide_from(live, r, r.member)
        for kind in ("active", "archived"):
            path = f"/api/channels/{r.channel_id}/threads/{kind}"
            status(live.get(path), 401)
            status(live.get(path, outsider), 404, "NOT_FOUND")
            status(live.get(path, r.member), 404, "NOT_FOUND")
            status(live.get(f"/api/channels/abc/threads/{kind}", r.owner), 404)
            for query in ("?limit=0", "?limit=101", "?before=yesterday"):
                status(live.get(path + query, r.owner), 400, "VALIDATION_ERROR")
        bad_time = f"/api/channels/{r.channel_id}/threads/archived?before=9999-12-31T23:59:59-14:00"
        status(live.get(bad_time, r.owner), 400)
        in_dm = live.data(
            live.post("/api/users/me/channels", r.owner, json={"recipients": [r.member.id]}), 201
        )
        assert active(live, r.owner, in_dm["id"])["threads"] == []
