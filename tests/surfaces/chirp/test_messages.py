"""`/api/channels/{id}/messages` and pins through real HTTP."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from gossip.app import create_app
from gossip.config import Settings
from gossip.db.migrate import upgrade
from gossip.kit.permissions import Permission
from tests.live import FAST_HASHING, Live, ServerThread, User, database_url, error_code
from tests.surfaces.chirp.chat import Room, channel, deny_everyone, grant_role, room, send


def messages(live: Live, r: Room, query: str = "", user: Any = None) -> list[dict[str, Any]]:
    path = f"/api/channels/{r.channel_id}/messages{query}"
    data: list[dict[str, Any]] = live.data(live.get(path, user or r.member))
    return data


class TestListMessages:
    def test_shape_and_newest_first(self, live: Live) -> None:
        r = room(live)
        first = send(live, r.owner, r.channel_id, "first")
        second = send(live, r.member, r.channel_id, "second")
        listed = messages(live, r)
        assert [m["id"] for m in listed] == [second["id"], first["id"]]
        assert listed[0] == {
            "id": second["id"],
            "channelId": r.channel_id,
            "author": {
                "id": r.member.id,
                "username": r.member.username,
                "avatar": None,
                "bot": False,
            },
            "content": "second",
            "timestamp": second["timestamp"],
            "editedTimestamp": None,
            "mentions": [],
            "mentionRoles": [],
            "mentionEveryone": False,
            "attachments": [],
            "embeds": [],
            "reactions": [],
            "pinned": False,
            "type": 0,
            "tts": False,
        }
        assert listed[1]["author"]["id"] == r.owner.id
        assert listed[0] == second  # the list and the send answer agree

    def test_limit_before_after(self, live: Live) -> None:
        r = room(live)
        ids = [send(live, r.owner, r.channel_id, str(i))["id"] for i in range(6)]
        assert [m["id"] for m in messages(live, r, "?limit=2")] == ids[:3:-1]
        assert [m["id"] for m in messages(live, r, f"?before={ids[3]}&limit=2")] == [ids[2], ids[1]]
        assert [m["id"] for m in messages(live, r, f"?after={ids[1]}&limit=2")] == [ids[3], ids[2]]
        assert [m["id"] for m in messages(live, r, f"?after={ids[4]}")] == [ids[5]]
        assert messages(live, r, f"?after={ids[5]}") == []
        assert messages(live, r, f"?before={ids[0]}") == []
        # Bounds need not name a message.
        assert len(messages(live, r, "?after=0")) == 6
        assert len(messages(live, r, "?before=9223372036854775807")) == 6

    def test_pages_through_more_than_100_messages(self, live: Live) -> None:
        r = room(live)
        sent = [send(live, r.member, r.channel_id, f"m{i}")["id"] for i in range(130)]
        assert len(messages(live, r)) == 50  # the default limit
        # Backwards from the newest, 100 then 30.
        page = messages(live, r, "?limit=100")
        older = messages(live, r, f"?limit=100&before={page[-1]['id']}")
        assert [m["id"] for m in page + older] == sent[::-1]
        assert messages(live, r, f"?before={older[-1]['id']}") == []
        # Forwards from the start, each page newest first: 45, 45, 40.
        seen: list[str] = []
        cursor = "0"
        while True:
            chunk = messages(live, r, f"?limit=45&after={cursor}")
            if not chunk:
                break
            seen.extend(m["id"] for m in reversed(chunk))
            cursor = chunk[0]["id"]
        assert seen == sent

    def test_authors_and_reactions_for_the_whole_page(self, live: Live) -> None:
        r = room(live)
        a = send(live, r.owner, r.channel_id, "a")
        b = send(live, r.member, r.channel_id, "b")
        base = f"/api/channels/{r.channel_id}/messages"
        live.data(live.put(f"{base}/{a['id']}/reactions/%F0%9F%91%8D", r.owner))
        live.data(live.put(f"{base}/{a['id']}/reactions/%F0%9F%91%8D", r.member))
        live.data(live.put(f"{base}/{b['id']}/reactions/%F0%9F%8E%89", r.owner))
        listed = {m["id"]: m for m in messages(live, r)}
        assert listed[a["id"]]["reactions"] == [
            {"emoji": {"id": None, "name": "👍"}, "count": 2, "me": True}
        ]
        assert listed[b["id"]]["reactions"] == [
            {"emoji": {"id": None, "name": "🎉"}, "count": 1, "me": False}
        ]
        assert listed[a["id"]]["author"]["username"] == r.owner.username

    def test_validation(self, live: Live) -> None:
        r = room(live)
        for query in (
            "?limit=0",
            "?limit=101",
            "?limit=x",
            "?before=abc",
            "?after=-1",
            "?before=99999999999999999999",
            "?before=9999999999999999999",
            "?before=5&after=3",
        ):
            response = live.get(f"/api/channels/{r.channel_id}/messages{query}", r.member)
            assert response.status_code == 400, query
            assert error_code(response) == "VALIDATION_ERROR"

    def test_needs_read_message_history(self, live: Live) -> None:
        r = room(live)
        send(live, r.owner, r.channel_id)
        deny_everyone(live, r, Permission.READ_MESSAGE_HISTORY)
        response = live.get(f"/api/channels/{r.channel_id}/messages", r.member)
        assert response.status_code == 403 and error_code(response) == "FORBIDDEN"
        assert len(messages(live, r, user=r.owner)) == 1

    def test_not_found_and_unauthenticated(self, live: Live) -> None:
        r = room(live)
        stranger = live.register()
        secret = channel(live, r.owner, r.server_id, name="secret")
        deny_everyone(live, r, Permission.VIEW_CHANNEL, channel_id=secret["id"])
        for who, cid in ((stranger, r.channel_id), (r.member, secret["id"]), (r.owner, "abc")):
            response = live.get(f"/api/channels/{cid}/messages", who)
            assert response.status_code == 404 and error_code(response) == "NOT_FOUND"
        assert live.get(f"/api/channels/{r.channel_id}/messages").status_code == 401


class TestSendMessage:
    def test_sends_and_moves_last_message_id(self, live: Live) -> None:
        r = room(live)
        response = live.post(
            f"/api/channels/{r.channel_id}/messages", r.member, json={"content": "hello"}
        )
        message = live.data(response, 201)
        assert message["content"] == "hello" and message["author"]["id"] == r.member.id
        assert message["channelId"] == r.channel_id and message["timestamp"].endswith("Z")
        got = live.data(live.get(f"/api/channels/{r.channel_id}", r.owner))
        assert got["lastMessageId"] == message["id"]

    def test_concurrent_sends_leave_the_channel_on_the_newest(self, live: Live) -> None:
        """Sends to one channel race for its row (the pointer and the count move in the
        INSERT's transaction; on PostgreSQL in one statement): every acknowledged message
        is counted once and the pointer ends on the newest, whatever the commit order."""
        r = room(live)
        senders = [r.owner, r.member]
        for _ in range(4):
            user = live.register()
            live.join(user, r.server_id, r.owner)
            senders.append(user)

        def run(user: User) -> list[int]:
            with httpx.Client(base_url=live.url, timeout=30) as http:
                return [
                    int(
                        live.data(
                            http.post(
                                f"/api/channels/{r.channel_id}/messages",
                                headers={"Authorization": f"Bearer {user.token}"},
                                json={"content": f"race {i}"},
                            ),
                            201,
                        )["id"]
                    )
                    for i in range(10)
                ]

        with ThreadPoolExecutor(len(senders)) as pool:
            sent = [i for ids in pool.map(run, senders) for i in ids]
        got = live.data(live.get(f"/api/channels/{r.channel_id}", r.owner))
        assert got["lastMessageId"] == str(max(sent))
        found = live.data(
            live.get(f"/api/search/messages?query=race&channelId={r.channel_id}", r.owner)
        )
        assert found["analytics"]["totalMessages"] == len(set(sent)) == 60

    def test_mentions(self, live: Live) -> None:
        r = room(live)
        role = live.create_role(r.owner, r.server_id, name="crew")
        content = (
            f"<@{r.member.id}> <@!{r.owner.id}> <@{r.member.id}> <@123> "
            f"<@&{role['id']}> <@&{r.server_id}> <@&456> @everyone"
        )
        message = send(live, r.owner, r.channel_id, content)
        assert [u["id"] for u in message["mentions"]] == [r.member.id, r.owner.id]
        assert message["mentions"][0]["username"] == r.member.username
        assert message["mentionRoles"] == [role["id"]]
        assert message["mentionEveryone"] is True
        assert messages(live, r)[0] == message

    def test_everyone_needs_mention_everyone(self, live: Live) -> None:
        r = room(live)
        deny_everyone(live, r, Permission.MENTION_EVERYONE)
        message = send(live, r.member, r.channel_id, "@everyone look")
        assert message["mentionEveryone"] is False and message["content"] == "@everyone look"

    def test_embeds(self, live: Live) -> None:
        r = room(live)
        embed = {
            "title": "T",
            "description": "D",
            "url": "https://example.com/x",
            "color": 0xFF00FF,
            "fields": [{"name": "n", "value": "v", "inline": True}, {"name": "m", "value": "w"}],
        }
        message = send(live, r.member, r.channel_id, "", embeds=[embed])
        assert message["embeds"] == [
            {**embed, "fields": [embed["fields"][0], {"name": "m", "value": "w", "inline": False}]}
        ]
        assert messages(live, r)[0]["embeds"] == message["embeds"]

    def test_validation(self, live: Live) -> None:
        r = room(live)
        path = f"/api/channels/{r.channel_id}/messages"
        ok_embed = {"title": "t"}
        bad_bodies: list[Any] = [
            {},
            {"content": ""},
            {"content": "   \n "},
            {"content": "x" * 2001},
            {"content": "a\x00b"},
            {"content": 5},
            {"content": "x", "tts": "loud"},
            {"embeds": [{}]},
            {"embeds": [{"title": "x" * 257}]},
            {"embeds": [{"description": "x" * 4097}]},
            {"embeds": [{"title": "t", "url": "ftp://example.com"}]},
            {"embeds": [{"title": "t", "url": "not a url"}]},
            {"embeds": [{"title": "t", "color": -1}]},
            {"embeds": [{"title": "t", "color": 0x1000000}]},
            {"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]},
            {"embeds": [{"fields": [{"name": "", "value": "v"}]}]},
            {"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}]},
            {"embeds": [{"fields": [{"name": "n", "value": "v", "inline": "sideways"}]}]},
            {"embeds": [ok_embed] * 11},
            {"embeds": [{"description": "x" * 4000}, {"description": "y" * 2001}]},
            {"embeds": "nope"},
            [],
        ]
        for body in bad_bodies:
            response = live.post(path, r.member, json=body)
            assert response.status_code == 400, (body, response.text)
            assert error_code(response) == "VALIDATION_ERROR"
        malformed = live.post(
            path, r.member, content=b'{"content": ', headers={"Content-Type": "application/json"}
        )
        assert malformed.status_code == 400
        assert messages(live, r) == []

    def test_multipart_sends_files(self, live: Live) -> None:
        # The multipart form in full: tests/surfaces/chirp/test_media.py.
        r = room(live)
        response = live.post(
            f"/api/channels/{r.channel_id}/messages",
            r.member,
            data={"content": "with a file"},
            files={"file1": ("a.txt", b"hello", "text/plain")},
        )
        sent = live.data(response, 201)
        assert [a["filename"] for a in sent["attachments"]] == ["a.txt"]
        assert messages(live, r) == [sent]

    def test_voice_and_category_hold_no_messages(self, live: Live) -> None:
        r = room(live)
        for kind in (2, 4):
            made = channel(live, r.owner, r.server_id, name=f"k{kind}", type=kind)
            response = live.post(
                f"/api/channels/{made['id']}/messages", r.owner, json={"content": "x"}
            )
            assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR"

    def test_permissions(self, live: Live) -> None:
        r = room(live)
        path = f"/api/channels/{r.channel_id}/messages"
        deny_everyone(live, r, Permission.SEND_TTS_MESSAGES, Permission.EMBED_LINKS)
        tts = live.post(path, r.member, json={"content": "hi", "tts": True})
        assert tts.status_code == 403 and error_code(tts) == "FORBIDDEN"
        embed = live.post(path, r.member, json={"embeds": [{"title": "t"}]})
        assert embed.status_code == 403
        assert send(live, r.owner, r.channel_id, "hi", tts=True)["tts"] is True
        deny_everyone(live, r, Permission.SEND_MESSAGES)
        refused = live.post(path, r.member, json={"content": "hi"})
        assert refused.status_code == 403
        assert [m["content"] for m in messages(live, r)] == ["hi"]

    def test_not_found_and_unauthenticated(self, live: Live) -> None:
        r = room(live)
        stranger = live.register()
        body = {"content": "hi"}
        assert (
            live.post(f"/api/channels/{r.channel_id}/messages", stranger, json=body).status_code
            == 404
        )
        assert live.post("/api/channels/nope/messages", r.owner, json=body).status_code == 404
        assert live.post("/api/channels/777/messages", r.owner, json=body).status_code == 404
        assert live.post(f"/api/channels/{r.channel_id}/messages", json=body).status_code == 401


class TestGetMessage:
    def test_gets_one(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.owner, r.channel_id, "one")
        got = live.data(
            live.get(f"/api/channels/{r.channel_id}/messages/{message['id']}", r.member)
        )
        assert got == message

    def test_errors(self, live: Live) -> None:
        r = room(live)
        other = channel(live, r.owner, r.server_id, name="other")
        elsewhere = send(live, r.owner, other["id"], "elsewhere")
        mine = send(live, r.owner, r.channel_id, "here")
        base = f"/api/channels/{r.channel_id}/messages"
        for mid in (elsewhere["id"], "abc", "1"):
            response = live.get(f"{base}/{mid}", r.member)
            assert response.status_code == 404 and error_code(response) == "NOT_FOUND"
        assert live.get(f"{base}/{mine['id']}", live.register()).status_code == 404
        assert live.get(f"{base}/{mine['id']}").status_code == 401
        deny_everyone(live, r, Permission.READ_MESSAGE_HISTORY)
        assert live.get(f"{base}/{mine['id']}", r.member).status_code == 403


class TestEditMessage:
    def test_author_edits(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.member, r.channel_id, "typo")
        path = f"/api/channels/{r.channel_id}/messages/{message['id']}"
        edited = live.data(live.patch(path, r.member, json={"content": f"fixed <@{r.owner.id}>"}))
        assert edited["content"] == f"fixed <@{r.owner.id}>" and edited["id"] == message["id"]
        assert edited["editedTimestamp"] is not None and edited["timestamp"] == message["timestamp"]
        assert [u["id"] for u in edited["mentions"]] == [r.owner.id]
        assert live.data(live.get(path, r.owner)) == edited
        with_embed = live.data(live.patch(path, r.member, json={"embeds": [{"title": "t"}]}))
        assert (
            with_embed["embeds"] == [{"title": "t"}] and with_embed["content"] == edited["content"]
        )

    def test_nobody_else_edits(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.member, r.channel_id, "mine")
        path = f"/api/channels/{r.channel_id}/messages/{message['id']}"
        # Not even the owner, who holds MANAGE_MESSAGES.
        refused = live.patch(path, r.owner, json={"content": "yours now"})
        assert refused.status_code == 403 and error_code(refused) == "FORBIDDEN"
        assert live.data(live.get(path, r.member))["content"] == "mine"

    def test_validation_and_not_found(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.member, r.channel_id, "mine")
        path = f"/api/channels/{r.channel_id}/messages/{message['id']}"
        for body in (
            {},
            {"content": ""},
            {"content": "x" * 2001},
            {"content": None},
            {"embeds": [{}]},
        ):
            assert live.patch(path, r.member, json=body).status_code == 400, body
        assert (
            live.patch(
                f"/api/channels/{r.channel_id}/messages/5", r.member, json={"content": "x"}
            ).status_code
            == 404
        )
        assert live.patch(path, live.register(), json={"content": "x"}).status_code == 404
        assert live.patch(path, json={"content": "x"}).status_code == 401
        assert live.data(live.get(path, r.member))["editedTimestamp"] is None


class TestDeleteMessage:
    def test_author_deletes_and_last_message_id_falls_back(self, live: Live) -> None:
        r = room(live)
        older = send(live, r.member, r.channel_id, "older")
        newer = send(live, r.member, r.channel_id, "newer")
        path = f"/api/channels/{r.channel_id}/messages/{newer['id']}"
        assert live.data(live.delete(path, r.member)) is None
        assert live.get(path, r.member).status_code == 404
        assert [m["id"] for m in messages(live, r)] == [older["id"]]
        got = live.data(live.get(f"/api/channels/{r.channel_id}", r.member))
        assert got["lastMessageId"] == older["id"]

    def test_moderators_delete_others(self, live: Live) -> None:
        r = room(live)
        by_owner = send(live, r.owner, r.channel_id, "owner's")
        path = f"/api/channels/{r.channel_id}/messages/{by_owner['id']}"
        refused = live.delete(path, r.member)
        assert refused.status_code == 403 and error_code(refused) == "FORBIDDEN"
        grant_role(live, r, r.member, Permission.MANAGE_MESSAGES)
        assert live.delete(path, r.member).status_code == 200
        assert messages(live, r) == []

    def test_not_found(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.member, r.channel_id)
        other = channel(live, r.owner, r.server_id, name="other")
        assert (
            live.delete(
                f"/api/channels/{other['id']}/messages/{message['id']}", r.owner
            ).status_code
            == 404
        )
        assert live.delete(f"/api/channels/{r.channel_id}/messages/x", r.owner).status_code == 404
        path = f"/api/channels/{r.channel_id}/messages/{message['id']}"
        assert live.delete(path, live.register()).status_code == 404
        assert live.delete(path).status_code == 401


class TestPins:
    def test_pin_list_unpin(self, live: Live) -> None:
        r = room(live)
        a = send(live, r.member, r.channel_id, "a")
        b = send(live, r.member, r.channel_id, "b")
        pins = f"/api/channels/{r.channel_id}/pins"
        for m in (a, b, a):  # pinning twice is a no-op
            assert live.data(live.put(f"{pins}/{m['id']}", r.owner)) is None
        listed = live.data(live.get(pins, r.member))
        assert [m["id"] for m in listed] == [b["id"], a["id"]] and listed[0]["pinned"] is True
        live.data(live.delete(f"{pins}/{b['id']}", r.owner))
        assert [m["id"] for m in live.data(live.get(pins, r.member))] == [a["id"]]
        assert messages(live, r)[0]["pinned"] is False

    def test_errors(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.member, r.channel_id)
        pins = f"/api/channels/{r.channel_id}/pins"
        assert live.put(f"{pins}/{message['id']}", r.member).status_code == 403
        assert live.delete(f"{pins}/{message['id']}", r.member).status_code == 403
        assert live.put(f"{pins}/123", r.owner).status_code == 404
        assert live.put(f"{pins}/{message['id']}", live.register()).status_code == 404
        assert live.get(pins).status_code == 401

    def test_at_most_50(self, live: Live) -> None:
        r = room(live)
        pins = f"/api/channels/{r.channel_id}/pins"
        for i in range(50):
            live.data(
                live.put(f"{pins}/{send(live, r.owner, r.channel_id, str(i))['id']}", r.owner)
            )
        extra = send(live, r.owner, r.channel_id, "extra")
        response = live.put(f"{pins}/{extra['id']}", r.owner)
        assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR"


# --- how many statements the hot paths run -------------------------------------------


@pytest.fixture(scope="module")
def counted(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Live, list[str]]]:
    """A server like `live`, with every SQL statement it runs recorded."""
    tmp: Path = tmp_path_factory.mktemp(f"counted-{backend}")
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        verb = statement.split(None, 1)[0].upper()
        if verb not in ("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT", "ROLLBACK"):
            statements.append(statement)

    with contextlib.ExitStack() as stack:
        settings = Settings(
            data_dir=tmp,
            database_url=database_url(backend, tmp, stack),
            secret_key="test-secret-" + uuid.uuid4().hex,
            rate_limits=False,
            **FAST_HASHING,
        )
        upgrade(settings.resolved_database_url)
        app = create_app(settings)
        db = app.state.runtime.db
        for engine in {db.reader, db.writer}:
            event.listen(engine.sync_engine, "before_cursor_execute", record)
        server = stack.enter_context(ServerThread(app))
        url = f"http://127.0.0.1:{server.port}"
        http = stack.enter_context(httpx.Client(base_url=url, timeout=30))
        yield Live(backend, url, settings, http), statements


class TestQueryBudget:
    """Fixed numbers of statements, whatever the page holds: no N+1 on the hot paths."""

    def test_send(self, counted: tuple[Live, list[str]]) -> None:
        live, statements = counted
        r = room(live)
        send(live, r.member, r.channel_id, "warm up")
        statements.clear()
        send(live, r.member, r.channel_id, f"hi <@{r.owner.id}>")
        # The channel with everything that decides the sender's permissions (one
        # statement), author and mentioned users, INSERT, UPDATE channel (one statement on
        # PostgreSQL, where the channel's row stays locked from it to COMMIT); the token is
        # cached since the warm-up. One more may refresh the outbox's subscription cache.
        assert len(statements) <= (4 if live.backend == "postgres" else 5), statements

    def test_list_does_not_grow_with_the_page(self, counted: tuple[Live, list[str]]) -> None:
        live, statements = counted
        r = room(live)
        third = live.register()
        live.join(third, r.server_id, r.owner)
        authors = [r.owner, r.member, third]
        for i in range(60):
            message = send(live, authors[i % 3], r.channel_id, f"<@{authors[(i + 1) % 3].id}> {i}")
            live.put(
                f"/api/channels/{r.channel_id}/messages/{message['id']}/reactions/%F0%9F%91%8D",
                authors[i % 2],
            )
        runs = []
        for limit in (1, 60):
            statements.clear()
            assert len(messages(live, r, f"?limit={limit}")) == limit
            # The token's login session is read only when the auth cache (auth/cache.py)
            # misses, which depends on the clock (its entries live 10 s), not on the page.
            runs.append([s for s in statements if "auth_sessions" not in s])
        # The channel with the caller's standing, roles and overwrites; the page with its
        # authors; users mentioned but not among the authors (limit=1: one, limit=60: none);
        # the reactions.
        assert len(runs[1]) <= len(runs[0]) <= 4, [[s[:60] for s in run] for run in runs]
