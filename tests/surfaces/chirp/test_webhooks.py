"""Incoming webhooks through real HTTP: managing them, and executing one with its token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gossip.kit.permissions import Permission
from tests.gateway.client import connect_as
from tests.live import Live, User, error_code, live_server
from tests.surfaces.chirp.chat import Room, channel, grant_role, room, send


def make_webhook(live: Live, user: User, channel_id: str, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Deploys")
    data: dict[str, Any] = live.data(
        live.post(f"/api/channels/{channel_id}/webhooks", user, json=body), 201
    )
    return data


def execute(live: Live, hook: dict[str, Any], **body: Any) -> Any:
    """POSTs without any Authorization header, as an outside service would."""
    return live.post(f"/api/webhooks/{hook['id']}/{hook['token']}", json=body)


def history(live: Live, user: User, channel_id: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = live.data(live.get(f"/api/channels/{channel_id}/messages", user))
    return data


class TestCreateWebhook:
    def test_shape(self, live: Live) -> None:
        r = room(live)
        hook = make_webhook(live, r.owner, r.channel_id, avatar="https://cdn.example.com/a.png")
        assert hook["name"] == "Deploys"
        assert hook["avatar"] == "https://cdn.example.com/a.png"
        assert hook["channelId"] == r.channel_id
        assert hook["serverId"] == r.server_id
        assert hook["id"].isdigit() and hook["createdAt"].endswith("Z")
        assert len(hook["token"]) >= 60  # 384 random bits

    def test_needs_manage_webhooks(self, live: Live) -> None:
        r = room(live)
        path = f"/api/channels/{r.channel_id}/webhooks"
        refused = live.post(path, r.member, json={"name": "nope"})
        assert refused.status_code == 403 and "MANAGE_WEBHOOKS" in refused.text
        grant_role(live, r, r.member, Permission.MANAGE_WEBHOOKS)
        assert make_webhook(live, r.member, r.channel_id)["name"] == "Deploys"

    def test_outsiders_get_404(self, live: Live) -> None:
        r = room(live)
        outsider = live.register()
        path = f"/api/channels/{r.channel_id}/webhooks"
        assert live.post(path, outsider, json={"name": "nope"}).status_code == 404
        assert (
            live.post("/api/channels/abc/webhooks", r.owner, json={"name": "xy"}).status_code == 404
        )
        assert live.post(path, json={"name": "anon"}).status_code == 401

    def test_bad_input(self, live: Live) -> None:
        r = room(live)
        path = f"/api/channels/{r.channel_id}/webhooks"
        for body in (
            {},
            {"name": "x"},  # 2-32
            {"name": "x" * 33},
            {"name": "   "},
            {"name": "ok name", "avatar": "javascript:alert(1)"},
            {"name": 5},
        ):
            response = live.post(path, r.owner, json=body)
            assert response.status_code == 400, body
            assert error_code(response) == "VALIDATION_ERROR"
        assert live.data(live.get(path, r.owner)) == []  # nothing written

    def test_only_in_text_channels(self, live: Live) -> None:
        r = room(live)
        voice = channel(live, r.owner, r.server_id, name="lounge", type=2)
        response = live.post(f"/api/channels/{voice['id']}/webhooks", r.owner, json={"name": "v"})
        assert response.status_code == 400
        dm = live.data(
            live.post("/api/users/me/channels", r.owner, json={"recipients": [r.member.id]}), 201
        )
        assert (
            live.post(
                f"/api/channels/{dm['id']}/webhooks", r.owner, json={"name": "dm hook"}
            ).status_code
            == 403
        )

    def test_at_most_15_per_channel(self, live: Live) -> None:
        r = room(live)
        for i in range(15):
            make_webhook(live, r.owner, r.channel_id, name=f"hook {i}")
        response = live.post(
            f"/api/channels/{r.channel_id}/webhooks", r.owner, json={"name": "16th"}
        )
        assert response.status_code == 400


class TestListWebhooks:
    def test_lists_the_channels_webhooks_with_tokens(self, live: Live) -> None:
        r = room(live)
        other = channel(live, r.owner, r.server_id, name="other")
        first = make_webhook(live, r.owner, r.channel_id, name="first")
        second = make_webhook(live, r.owner, r.channel_id, name="second")
        make_webhook(live, r.owner, other["id"], name="elsewhere")
        listed = live.data(live.get(f"/api/channels/{r.channel_id}/webhooks", r.owner))
        assert listed == [first, second]  # the spec's list shows the token

    def test_needs_manage_webhooks(self, live: Live) -> None:
        r = room(live)
        make_webhook(live, r.owner, r.channel_id)
        path = f"/api/channels/{r.channel_id}/webhooks"
        assert live.get(path, r.member).status_code == 403
        assert live.get(path, live.register()).status_code == 404
        assert live.get(path).status_code == 401


class TestGetWebhook:
    def test_manager_reads_it(self, live: Live) -> None:
        r = room(live)
        hook = make_webhook(live, r.owner, r.channel_id)
        assert live.data(live.get(f"/api/webhooks/{hook['id']}", r.owner)) == hook

    def test_others(self, live: Live) -> None:
        r = room(live)
        hook = make_webhook(live, r.owner, r.channel_id)
        path = f"/api/webhooks/{hook['id']}"
        assert live.get(path, r.member).status_code == 403
        assert live.get(path, live.register()).status_code == 404  # existence does not leak
        assert live.get(path).status_code == 401
        assert live.get("/api/webhooks/123", r.owner).status_code == 404
        assert live.get("/api/webhooks/nope", r.owner).status_code == 404


class TestUpdateWebhook:
    def test_rename_avatar_and_clear(self, live: Live) -> None:
        r = room(live)
        hook = make_webhook(live, r.owner, r.channel_id)
        path = f"/api/webhooks/{hook['id']}"
        renamed = live.data(
            live.patch(path, r.owner, json={"name": "Builds", "avatar": "https://x.test/b.png"})
        )
        assert (renamed["name"], renamed["avatar"]) == ("Builds", "https://x.test/b.png")
        assert renamed["token"] == hook["token"]
        assert live.data(live.patch(path, r.owner, json={"avatar": None}))["avatar"] is None
        assert live.data(live.get(path, r.owner))["name"] == "Builds"

    def test_move_to_another_channel(self, live: Live) -> None:
        r = room(live)
        other = channel(live, r.owner, r.server_id, name="builds")
        hook = make_webhook(live, r.owner, r.channel_id)
        moved = live.data(
            live.patch(f"/api/webhooks/{hook['id']}", r.owner, json={"channelId": other["id"]})
        )
        assert moved["channelId"] == other["id"]
        execute(live, hook, content="where am I")
        assert history(live, r.owner, other["id"])[0]["content"] == "where am I"

    def test_bad_input_changes_nothing(self, live: Live) -> None:
        r = room(live)
        hook = make_webhook(live, r.owner, r.channel_id)
        elsewhere = room(live)
        path = f"/api/webhooks/{hook['id']}"
        for body in (
            {"name": None},
            {"name": "x"},
            {"channelId": None},
            {"channelId": "12"},  # no such channel
            {"channelId": elsewhere.channel_id},  # another server's
            {"avatar": "ftp://x"},
        ):
            assert live.patch(path, r.owner, json=body).status_code == 400, body
        assert live.data(live.get(path, r.owner)) == hook

    def test_needs_manage_webhooks(self, live: Live) -> None:
        r = room(live)
        hook = make_webhook(live, r.owner, r.channel_id)
        path = f"/api/webhooks/{hook['id']}"
        assert live.patch(path, r.member, json={"name": "mine"}).status_code == 403
        assert live.patch(path, live.register(), json={"name": "mine"}).status_code == 404


class TestDeleteWebhook:
    def test_deleted_webhook_is_gone_and_its_messages_stay(self, live: Live) -> None:
        r = room(live)
        hook = make_webhook(live, r.owner, r.channel_id)
        sent = live.data(execute(live, hook, content="before"), 201)
        assert live.delete(f"/api/webhooks/{hook['id']}", r.member).status_code == 403
        assert live.data(live.delete(f"/api/webhooks/{hook['id']}", r.owner)) is None
        assert live.get(f"/api/webhooks/{hook['id']}", r.owner).status_code == 404
        assert execute(live, hook, content="after").status_code == 404
        kept = history(live, r.owner, r.channel_id)[0]
        assert kept["id"] == sent["id"] and kept["author"]["username"] == "Deploys"

    def test_deleting_the_channel_takes_its_webhooks(self, live: Live) -> None:
        r = room(live)
        doomed = channel(live, r.owner, r.server_id, name="doomed")
        hook = make_webhook(live, r.owner, doomed["id"])
        live.data(live.delete(f"/api/channels/{doomed['id']}", r.owner))
        assert execute(live, hook, content="anyone?").status_code == 404


class TestExecuteWebhook:
    def test_posts_as_the_webhook(self, live: Live) -> None:
        r = room(live)
        hook = make_webhook(live, r.owner, r.channel_id, avatar="https://x.test/a.png")
        sent = live.data(execute(live, hook, content="build #1 passed"), 201)
        assert sent["author"] == {
            "id": hook["id"],
            "username": "Deploys",
            "avatar": "https://x.test/a.png",
            "bot": True,
        }
        assert sent["webhookId"] == hook["id"]
        assert sent["channelId"] == r.channel_id
        listed = history(live, r.member, r.channel_id)[0]
        assert listed == sent
        # Sent like any message: it moves the channel's lastMessageId.
        got = live.data(live.get(f"/api/channels/{r.channel_id}", r.member))
        assert got["lastMessageId"] == sent["id"]
        # Members' messages carry no webhookId.
        assert "webhookId" not in send(live, r.member, r.channel_id)

    def test_username_avatar_embeds_tts(self, live: Live) -> None:
        r = room(live)
        hook = make_webhook(live, r.owner, r.channel_id)
        sent = live.data(
            execute(
                live,
                hook,
                username="CI bot",
                avatarUrl="https://x.test/ci.png",
                embeds=[{"title": "Build", "fields": [{"name": "status", "value": "green"}]}],
                tts=True,
            ),
            201,
        )
        assert sent["author"]["username"] == "CI bot"
        assert sent["author"]["avatar"] == "https://x.test/ci.png"
        assert sent["embeds"][0]["title"] == "Build" and sent["tts"] is True
        # The override is this message's only.
        assert live.data(execute(live, hook, content="x"), 201)["author"]["username"] == "Deploys"

    def test_mentions_resolve_but_everyone_never_pings(self, live: Live) -> None:
        r = room(live)
        hook = make_webhook(live, r.owner, r.channel_id)
        sent = live.data(execute(live, hook, content=f"@everyone look, <@{r.member.id}>"), 201)
        assert sent["mentionEveryone"] is False
        assert [m["id"] for m in sent["mentions"]] == [r.member.id]

    def test_wrong_id_or_token_is_404(self, live: Live) -> None:
        r = room(live)
        hook = make_webhook(live, r.owner, r.channel_id)
        other = make_webhook(live, r.owner, r.channel_id, name="other")
        token = hook["token"]
        # The last character changed (one token in 64 already ends in "x").
        altered = token[:-1] + ("y" if token.endswith("x") else "x")
        for path in (
            f"/api/webhooks/{hook['id']}/{altered}",
            f"/api/webhooks/{hook['id']}/{other['token']}",
            f"/api/webhooks/{hook['id']}/short",
            f"/api/webhooks/{hook['id']}/{'a' * 500}",
            f"/api/webhooks/{int(hook['id']) + 1}/{hook['token']}",
            f"/api/webhooks/nope/{hook['token']}",
        ):
            response = live.post(path, json={"content": "let me in"})
            assert response.status_code == 404, path
            assert error_code(response) == "NOT_FOUND"
        assert history(live, r.owner, r.channel_id) == []

    def test_bad_bodies(self, live: Live) -> None:
        r = room(live)
        hook = make_webhook(live, r.owner, r.channel_id)
        for body in (
            {},
            {"content": "   "},
            {"content": "x" * 2001},
            {"content": "hi", "username": ""},
            {"content": "hi", "username": "x" * 81},
            {"content": "hi", "avatarUrl": "javascript:alert(1)"},
            {"content": "hi", "embeds": [{}]},
            {"content": "hi", "tts": "loud"},
        ):
            response = execute(live, hook, **body)
            assert response.status_code == 400, body
        assert history(live, r.owner, r.channel_id) == []

    def test_reaches_the_gateway(self, live: Live) -> None:
        r = room(live)
        hook = make_webhook(live, r.owner, r.channel_id)
        client = connect_as(live, r.member)
        try:
            sent = live.data(execute(live, hook, content="over the wire"), 201)
            frame = client.wait_for("MESSAGE_CREATE", id=sent["id"])
            assert frame["data"]["author"]["bot"] is True
            assert frame["data"]["webhookId"] == hook["id"]
        finally:
            client.close()

    def test_moderators_delete_webhook_messages(self, live: Live) -> None:
        r = room(live)
        hook = make_webhook(live, r.owner, r.channel_id)
        sent = live.data(execute(live, hook, content="oops"), 201)
        path = f"/api/channels/{r.channel_id}/messages/{sent['id']}"
        assert live.delete(path, r.member).status_code == 403
        assert live.patch(path, r.owner, json={"content": "edited"}).status_code == 403
        live.data(live.delete(path, r.owner))
        assert history(live, r.owner, r.channel_id) == []


class TestWebhookEvents:
    def test_webhooks_update_on_create_update_delete(self, live: Live) -> None:
        r: Room = room(live)
        client = connect_as(live, r.member)
        try:
            hook = make_webhook(live, r.owner, r.channel_id)
            want = {"serverId": r.server_id, "channelId": r.channel_id}
            assert client.wait_for("WEBHOOKS_UPDATE")["data"] == want
            live.data(live.patch(f"/api/webhooks/{hook['id']}", r.owner, json={"name": "New"}))
            assert client.wait_for("WEBHOOKS_UPDATE")["data"] == want
            live.data(live.delete(f"/api/webhooks/{hook['id']}", r.owner))
            frame = client.wait_for("WEBHOOKS_UPDATE")
            assert frame["data"] == want and "token" not in str(frame)
        finally:
            client.close()


class TestWebhookRateLimit:
    def test_each_webhook_has_its_own_allowance(self, backend: str, tmp_path: Path) -> None:
        with live_server(backend, tmp_path, rate_limit_webhook="3/60") as server:
            r = room(server)
            hook = make_webhook(server, r.owner, r.channel_id)
            other = make_webhook(server, r.owner, r.channel_id, name="other")
            # Wrong tokens do not use up the webhook's allowance.
            for _ in range(5):
                bad = server.post(f"/api/webhooks/{hook['id']}/wrong", json={"content": "x"})
                assert bad.status_code == 404
            for i in range(3):
                assert execute(server, hook, content=str(i)).status_code == 201
            limited = execute(server, hook, content="one too many")
            assert limited.status_code == 429
            body = limited.json()
            assert body["error"]["code"] == "RATE_LIMITED"
            assert 0 < body["error"]["retryAfter"] <= 60_000
            assert limited.headers["X-RateLimit-Bucket"] == "webhook"
            assert int(limited.headers["Retry-After"]) >= 1
            assert execute(server, other, content="still fine").status_code == 201
            assert len(history(server, r.owner, r.channel_id)) == 4
