"""The send hot path (surfaces/chirp/send_path.py) and its group commit
(messages/group_commit.py), SQLite only, through real HTTP.

The contract is the route's: the same answers for the same requests. So most of this
runs two servers on one SQLite database, one with the hot path and one without
(`GOSSIP_SEND_GROUP_COMMIT=false`), sends each the same requests and compares the
answers, rate-limit headers included.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gossip.app import create_app
from gossip.config import Settings
from gossip.db.migrate import upgrade
from gossip.kit.permissions import Permission
from gossip.messages.group_commit import GroupCommit
from gossip.surfaces.chirp.send_path import SendPath
from tests.gateway.client import GatewayClient
from tests.live import FAST_HASHING, Live, ServerThread, User, error_code
from tests.process import ServerProcess
from tests.surfaces.chirp.chat import Room, channel, deny_everyone, room, send, set_overwrite
from tests.surfaces.chirp.test_dms import open_dm


def _start(stack: contextlib.ExitStack, settings: Settings) -> Live:
    app = create_app(settings)
    server = stack.enter_context(ServerThread(app))
    url = f"http://127.0.0.1:{server.port}"
    http = stack.enter_context(httpx.Client(base_url=url, timeout=30))
    live = Live("sqlite", url, settings, http)
    live.app = app  # type: ignore[attr-defined]
    return live


@contextlib.contextmanager
def twins(tmp: Path, **overrides: Any) -> Iterator[tuple[Live, Live]]:
    """(hot path, route only), serving one database with one secret."""
    common: dict[str, Any] = {
        "data_dir": tmp,
        "database_url": f"sqlite+aiosqlite:///{tmp / 'gossip.db'}",
        "secret_key": "twins-" + uuid.uuid4().hex,
        "webhook_worker": False,
        **FAST_HASHING,
        **overrides,
    }
    upgrade(common["database_url"])
    with contextlib.ExitStack() as stack:
        fast = _start(stack, Settings(**common))
        plain = _start(stack, Settings(**common, send_group_commit=False))
        yield fast, plain


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Live, Live]]:
    with twins(tmp_path_factory.mktemp("send-path")) as servers:
        yield servers


def group_commit(live: Live) -> GroupCommit:
    layer: Any = live.app.middleware_stack  # type: ignore[attr-defined]
    while layer is not None:
        if isinstance(layer, SendPath):
            return layer.sends
        layer = getattr(layer, "app", None)
    raise AssertionError("no send path in this app")


_ID = re.compile(r'"[0-9]{15,19}"')
_TIME = re.compile(r'"\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d)"')


def _shape(response: httpx.Response, *, count: bool = False) -> tuple[int, str, dict[str, str]]:
    """Status, body with new IDs and times blanked, and the headers that must match. The
    rate limit's remaining count only with `count`: the shared fixtures set things up
    through the hot path's server only, which its limiter counted."""
    text = _TIME.sub('"<time>"', _ID.sub('"<id>"', response.text))
    text = re.sub(r'"retryAfter":[0-9]+', '"retryAfter":"<ms>"', text)
    skip = {"date", "server", "content-length", "x-ratelimit-reset"}
    if not count:
        skip.add("x-ratelimit-remaining")
    headers = {k: v for k, v in response.headers.items() if k not in skip}
    return response.status_code, text, headers


def both(
    pair: tuple[Live, Live], user: User, path: str, body: bytes | None, **headers: str
) -> tuple[int, str, dict[str, str]]:
    fast, plain = pair
    # The token cached (auth/cache.py), so the hot path serves what it can.
    fast.data(fast.get("/api/users/me", user))
    answers = []
    for live in (fast, plain):
        sent = {"Authorization": f"Bearer {user.token}", "Content-Type": "application/json"}
        sent.update(headers)
        sent = {k: v for k, v in sent.items() if v}
        answers.append(_shape(live.http.post(path, content=body, headers=sent)))
    assert answers[0] == answers[1]
    return answers[0]


@pytest.fixture(scope="module")
def world(pair: tuple[Live, Live]) -> dict[str, Any]:
    fast, _ = pair
    r = room(fast)
    outsider = fast.register()
    voice = channel(fast, r.owner, r.server_id, name="voice", type=2)
    category = channel(fast, r.owner, r.server_id, name="cat", type=4)
    closed = channel(fast, r.owner, r.server_id, name="closed")
    deny_everyone(fast, r, Permission.SEND_MESSAGES, channel_id=closed["id"])
    first = send(fast, r.owner, r.channel_id, "the thread's start")
    thread = fast.data(
        fast.post(
            f"/api/channels/{r.channel_id}/messages/{first['id']}/threads",
            r.owner,
            json={"name": "a thread"},
        ),
        201,
    )
    dm = open_dm(fast, r.member, [r.owner.id])
    return {
        "room": r,
        "outsider": outsider,
        "voice": voice["id"],
        "category": category["id"],
        "closed": closed["id"],
        "thread": thread["id"],
        "dm": dm["id"],
    }


def _messages(channel_id: str) -> str:
    return f"/api/channels/{channel_id}/messages"


class TestSameAnswersAsTheRoute:
    """Each request goes to both servers, the hot path's first; the answers (status, body
    up to new IDs and times, headers with the rate limit's count) must be equal."""

    @pytest.mark.parametrize(
        "body",
        [
            b'{"content": "hello"}',
            b'{"content": "hello", "tts": false, "embeds": []}',
            b'{"content": "speak", "tts": true}',
            ('{"content": "' + "x" * 2000 + '"}').encode(),
            ('{"content": "' + "x" * 2001 + '"}').encode(),
            b'{"content": ""}',
            b'{"content": "   "}',
            b'{"content": null}',
            b"{}",
            b"[]",
            b'"hello"',
            b'{"content": 5}',
            b'{"content": "x", "tts": "yes"}',
            b'{"content": "x", "tts": 1}',
            b'{"content": "x", "nonce": "12"}',
            b'{"content": "a\\u0000b"}',
            b'{"content": "\\ud800"}',
            b'{"content": "caf\\u00e9 \\ud83d\\ude00"}',
            b'{"content": "x", "embeds": [{"title": "t"}]}',
            b'{"content": "x", "embeds": {}}',
            b'{"content": "x", "embeds": null}',
            b'{"content": "hi @everyone"}',
            b'{"content": "<@1> and <@&2>"}',
            b'{"content":',
            b"",
            b"\xff\xfe",
            b'{"content": NaN}',
        ],
    )
    def test_bodies(self, pair: tuple[Live, Live], world: dict[str, Any], body: bytes) -> None:
        r: Room = world["room"]
        both(pair, r.member, _messages(r.channel_id), body)

    @pytest.mark.parametrize(
        "where",
        [
            "voice",
            "category",
            "closed",
            "thread",
            "dm",
            "abc",
            "0",
            "-1",
            "99999999999999999999",
            "123456789012345678",
        ],
    )
    def test_channels(self, pair: tuple[Live, Live], world: dict[str, Any], where: str) -> None:
        r: Room = world["room"]
        both(pair, r.member, _messages(world.get(where, where)), b'{"content": "hi"}')

    def test_outsider_sees_no_channel(self, pair: tuple[Live, Live], world: dict[str, Any]) -> None:
        r: Room = world["room"]
        status, text, _ = both(
            pair, world["outsider"], _messages(r.channel_id), b'{"content": "x"}'
        )
        assert status == 404 and '"NOT_FOUND"' in text

    @pytest.mark.parametrize(
        "headers",
        [
            {"Authorization": ""},
            {"Authorization": "Bearer"},
            {"Authorization": "Bearer not-a-token"},
            {"Authorization": "Basic abc"},
            {"Content-Type": "text/plain"},
            {"Content-Type": ""},
            {"Content-Type": "application/json; charset=utf-8"},
            {"X-Audit-Log-Reason": "because"},
        ],
    )
    def test_headers(
        self, pair: tuple[Live, Live], world: dict[str, Any], headers: dict[str, str]
    ) -> None:
        r: Room = world["room"]
        both(pair, r.member, _messages(r.channel_id), b'{"content": "hi"}', **headers)

    def test_the_documented_envelopes(self, pair: tuple[Live, Live], world: dict[str, Any]) -> None:
        r: Room = world["room"]
        path = _messages(r.channel_id)
        status, text, _ = both(pair, r.member, path, b'{"content":')
        assert status == 400 and '"field":"body","message":"Malformed JSON"' in text
        status, text, _ = both(pair, r.member, path, ('{"content":"' + "y" * 2001 + '"}').encode())
        assert status == 400 and '"VALIDATION_ERROR"' in text and '"field":"content"' in text
        status, text, _ = both(pair, r.member, _messages("abc"), b'{"content":"x"}')
        assert status == 404 and '"Channel not found"' in text
        status, text, _ = both(pair, r.member, _messages(world["closed"]), b'{"content":"x"}')
        assert status == 403 and '"FORBIDDEN"' in text

    def test_plain_sends_take_the_hot_path(
        self, pair: tuple[Live, Live], world: dict[str, Any]
    ) -> None:
        r: Room = world["room"]
        commit = group_commit(pair[0])
        for body, batched in (
            (b'{"content": "hello"}', 1),
            (b'{"content": "hello", "tts": true}', 1),
            (b'{"content": ""}', 1),  # refused there, as by the service
            (b'{"content": "hi @everyone"}', 0),
            (b'{"content": "x", "embeds": [{"title": "t"}]}', 0),
            (b'{"content":', 0),
        ):
            before = commit.batches
            both(pair, r.member, _messages(r.channel_id), body)
            assert commit.batches - before == batched, body

    def test_the_answer_is_the_stored_message(self, pair: tuple[Live, Live]) -> None:
        fast, _ = pair
        r = room(fast)
        sent = send(fast, r.member, r.channel_id, "kept as sent")
        assert fast.data(fast.get(f"{_messages(r.channel_id)}/{sent['id']}", r.member)) == sent

    def test_rows_are_the_same_as_the_routes(self, pair: tuple[Live, Live]) -> None:
        fast, plain = pair
        r = room(fast)
        ids = [send(live, r.member, r.channel_id, "row")["id"] for live in (fast, plain)]
        db = sqlite3.connect(fast.settings.data_dir / "gossip.db")
        try:
            rows = [
                db.execute(
                    "SELECT channel_id, author_id, content, type, tts, pinned, mention_everyone,"
                    " quote(mentions), quote(mention_roles), quote(embeds), quote(edited_at),"
                    " quote(attachments), webhook_id FROM messages WHERE id = ?",
                    (int(i),),
                ).fetchone()
                for i in ids
            ]
            last = db.execute(
                "SELECT last_message_id FROM channels WHERE id = ?", (int(r.channel_id),)
            ).fetchone()[0]
        finally:
            db.close()
        assert rows[0] == rows[1] and rows[0] is not None
        assert last == int(ids[1])


class TestRateLimit:
    def test_counted_and_refused_as_by_the_route(self, tmp_path: Path) -> None:
        with twins(tmp_path, rate_limit_general="6/60") as pair:
            fast, plain = pair
            r = room(fast)  # its requests count against the owner's and member's budgets
            answers = []
            for live in (fast, plain):
                user = live.register()
                live.join(user, r.server_id, r.owner)
                got = []
                for _ in range(7):  # the join counted one of the six
                    response = live.post(_messages(r.channel_id), user, json={"content": "n"})
                    status, text, headers = _shape(response, count=True)
                    got.append((status, text.replace(user.username, "<name>"), headers))
                answers.append(got)
            assert answers[0] == answers[1]
            statuses = [status for status, _, _ in answers[0]]
            assert statuses[-1] == 429 and 201 in statuses
            assert "retry-after" in answers[0][-1][2]


class TestInFrontOfTheApp:
    def test_its_own_failures_get_the_error_envelope(self, tmp_path: Path) -> None:
        """The send path sits outside FastAPI's server-error layer: a failure of its own
        (here the token cache's epoch cannot be read, as when Redis is unreachable) must
        still be answered with spec 004's error body, not a dropped connection."""
        with twins(tmp_path) as (fast, _):
            r = room(fast)
            send(fast, r.member, r.channel_id, "cached token")
            cache: Any = fast.app.state.runtime.auth_cache  # type: ignore[attr-defined]

            async def unreadable() -> Any:
                raise OSError("the epoch is unreadable")

            cache.stamp = unreadable
            try:
                response = fast.post(_messages(r.channel_id), r.member, json={"content": "x"})
            finally:
                del cache.stamp
            assert response.status_code == 500, response.text
            assert response.json()["success"] is False
            assert error_code(response) == "UNKNOWN_ERROR"
            send(fast, r.member, r.channel_id, "and on again")


class TestGroupCommit:
    def test_concurrent_sends_are_batched_durable_and_ordered(
        self, pair: tuple[Live, Live]
    ) -> None:
        fast, _ = pair
        r = room(fast)
        senders = [fast.register() for _ in range(12)]
        for user in senders:
            fast.join(user, r.server_id, r.owner)
        before = group_commit(fast).batches
        per_sender, results = 25, {}
        barrier = threading.Barrier(len(senders))

        def run(user: User) -> None:
            with httpx.Client(base_url=fast.url, timeout=30) as http:
                barrier.wait()
                got = []
                for i in range(per_sender):
                    response = http.post(
                        _messages(r.channel_id),
                        headers={"Authorization": f"Bearer {user.token}"},
                        json={"content": f"{user.username} {i}"},
                    )
                    got.append((response.status_code, response.json()))
                results[user.username] = got

        threads = [threading.Thread(target=run, args=(u,)) for u in senders]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        sent: list[int] = []
        for user in senders:
            answers = results[user.username]
            assert [status for status, _ in answers] == [201] * per_sender
            ids = [int(body["data"]["id"]) for _, body in answers]
            assert ids == sorted(ids)  # each sender's messages in the order sent
            assert [b["data"]["content"] for _, b in answers] == [
                f"{user.username} {i}" for i in range(per_sender)
            ]
            sent += ids
        total = len(senders) * per_sender
        assert len(set(sent)) == total
        commit = group_commit(fast)
        assert commit.largest_batch > 1
        assert commit.batches - before < total
        # Committed: another connection sees every acknowledged row, once.
        db = sqlite3.connect(fast.settings.data_dir / "gossip.db")
        try:
            stored = [
                row[0]
                for row in db.execute(
                    "SELECT id FROM messages WHERE channel_id = ? ORDER BY id", (int(r.channel_id),)
                )
            ]
            last, count = db.execute(
                "SELECT last_message_id, message_count FROM channels WHERE id = ?",
                (int(r.channel_id),),
            ).fetchone()
        finally:
            db.close()
        assert stored == sorted(sent)
        assert last == max(sent) and count == total

    def test_a_failing_send_fails_alone(self, tmp_path: Path) -> None:
        """A statement error in a batch rolls the batch back; it goes again one send at a
        time, and only the send that fails is refused."""
        with twins(tmp_path) as (fast, _):
            r = room(fast)
            db = sqlite3.connect(fast.settings.data_dir / "gossip.db")
            try:  # a fault the database raises for one content only
                db.execute(
                    "CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.content = 'poison' "
                    "BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
                )
                db.commit()
            finally:
                db.close()
            senders = [fast.register() for _ in range(8)]
            for user in senders:
                fast.join(user, r.server_id, r.owner)
            barrier = threading.Barrier(len(senders))
            results: dict[str, list[tuple[int, dict[str, Any]]]] = {}

            def run(user: User) -> None:
                with httpx.Client(base_url=fast.url, timeout=30) as http:
                    barrier.wait()
                    results[user.username] = [
                        (response.status_code, response.json())
                        for i in range(20)
                        for response in [
                            http.post(
                                _messages(r.channel_id),
                                headers={"Authorization": f"Bearer {user.token}"},
                                json={"content": "poison" if i % 5 == 4 else f"ok {i}"},
                            )
                        ]
                    ]

            threads = [threading.Thread(target=run, args=(u,)) for u in senders]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            stored_ids = []
            for user in senders:
                answers = results[user.username]
                for i, (status, body) in enumerate(answers):
                    if i % 5 == 4:
                        assert status == 500 and body["success"] is False, body
                    else:
                        assert status == 201 and body["data"]["content"] == f"ok {i}", body
                        stored_ids.append(int(body["data"]["id"]))
            assert group_commit(fast).retried >= 1  # some poison shared a batch
            db = sqlite3.connect(fast.settings.data_dir / "gossip.db")
            try:
                stored = [
                    row[0]
                    for row in db.execute(
                        "SELECT id FROM messages WHERE channel_id = ? AND content LIKE 'ok %'"
                        " ORDER BY id",
                        (int(r.channel_id),),
                    )
                ]
                poisoned = db.execute(
                    "SELECT count(*) FROM messages WHERE content = 'poison'"
                ).fetchone()[0]
            finally:
                db.close()
            assert stored == sorted(stored_ids) and poisoned == 0

    def test_the_event_carries_the_answer(self, pair: tuple[Live, Live]) -> None:
        fast, _ = pair
        r = room(fast)
        client = GatewayClient(fast)
        try:
            client.authenticate(r.owner)
            sent = send(fast, r.member, r.channel_id, "to the gateway")
            event = client.wait_for("MESSAGE_CREATE", id=sent["id"])
        finally:
            client.close()
        assert event["data"] == sent


class TestPermissionChangesAtOnce:
    def test_overwrite_and_role_on_one_process(self, pair: tuple[Live, Live]) -> None:
        fast, _ = pair
        r = room(fast)
        send(fast, r.member, r.channel_id, "allowed")
        deny_everyone(fast, r, Permission.SEND_MESSAGES)
        refused = fast.post(_messages(r.channel_id), r.member, json={"content": "x"})
        assert refused.status_code == 403, refused.text
        set_overwrite(fast, r.owner, r.channel_id, r.server_id)  # no deny left
        send(fast, r.member, r.channel_id, "allowed again")
        # @everyone's role loses SEND_MESSAGES.
        roles = fast.data(fast.get(f"/api/servers/{r.server_id}/roles", r.owner))
        everyone = next(role for role in roles if role["id"] == r.server_id)
        perms = int(everyone["permissions"]) & ~int(Permission.SEND_MESSAGES)
        fast.data(
            fast.patch(
                f"/api/servers/{r.server_id}/roles/{r.server_id}",
                r.owner,
                json={"permissions": str(perms)},
            )
        )
        refused = fast.post(_messages(r.channel_id), r.member, json={"content": "x"})
        assert refused.status_code == 403, refused.text
        # Leaving the server: the channel is gone for them.
        fast.data(fast.delete(f"/api/servers/{r.server_id}/members/{r.member.id}", r.owner))
        gone = fast.post(_messages(r.channel_id), r.member, json={"content": "x"})
        assert gone.status_code == 404 and error_code(gone) == "NOT_FOUND"

    def test_across_two_processes(self, tmp_path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOSSIP_")}
        env.update(
            GOSSIP_DATA_DIR=str(tmp_path),
            GOSSIP_SECRET_KEY="pair-" + uuid.uuid4().hex,
            GOSSIP_ARGON2_TIME_COST="1",
            GOSSIP_ARGON2_MEMORY_KIB="64",
            GOSSIP_RATE_LIMITS="false",
        )
        with contextlib.ExitStack() as stack:
            lives = []
            for name in ("one", "two"):
                server = ServerProcess(env=env, log_path=tmp_path / f"{name}.log")
                stack.callback(server.stop)
                server.start()
                http = stack.enter_context(httpx.Client(base_url=server.url, timeout=30))
                lives.append(Live("sqlite", server.url, Settings(data_dir=tmp_path), http))
            here, there = lives
            r = room(here)
            for _ in range(3):  # each way, several times
                send(there, r.member, r.channel_id, "allowed")
                deny_everyone(here, r, Permission.SEND_MESSAGES)
                refused = there.post(_messages(r.channel_id), r.member, json={"content": "x"})
                assert refused.status_code == 403, refused.text
                set_overwrite(here, r.owner, r.channel_id, r.server_id)
                send(there, r.member, r.channel_id, "allowed again")
                here, there = there, here
