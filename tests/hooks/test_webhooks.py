"""Outgoing webhooks end to end: a real server, a real receiver on 127.0.0.1, /v1 keys."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks

from gossip.kit.permissions import Permission
from tests.hooks.receiver import Receiver
from tests.live import Live
from tests.surfaces.chirp.chat import deny_everyone, room, send
from tests.surfaces.v1.keys import error_type, new_key, v1

VERIFY_MJS = Path(__file__).with_name("verify.mjs")


def endpoint(
    live: Live, key: str, url: str, events: list[str], status: int = 201
) -> dict[str, Any]:
    answer = v1(live, "POST", "/webhooks", key, json={"url": url, "events": events})
    assert answer.status_code == status, answer.text
    return dict(answer.json())


def path() -> str:
    return f"/hook-{uuid.uuid4().hex[:10]}"


def deliveries(live: Live, key: str, endpoint_id: str) -> list[dict[str, Any]]:
    answer = v1(live, "GET", f"/webhooks/{endpoint_id}/deliveries", key)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def wait_until(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def node_verify(tmp_path: Path, body: bytes, header: str, secret: str) -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: spec 001's Node verifier cannot run")
    raw = tmp_path / f"body-{uuid.uuid4().hex}"
    raw.write_bytes(body)
    done = subprocess.run(
        [node, str(VERIFY_MJS), str(raw), header, secret],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def subscribed_room(
    live: Live, receiver: Receiver, events: list[str]
) -> tuple[Any, str, dict[str, Any], str]:
    r = room(live)
    key = new_key(live, r.owner)["secret"]
    where = path()
    made = endpoint(live, key, receiver.url(where), events)
    return r, key, made, where


class TestSignedDelivery:
    def test_a_message_is_posted_signed_and_both_verifiers_accept_it(
        self, hooked: Live, receiver: Receiver, tmp_path: Path
    ) -> None:
        r, _, made, where = subscribed_room(hooked, receiver, ["message.created"])
        secret = made["secret"]
        assert secret.startswith("whsec_") and made["id"].startswith("wh_")
        sent = send(hooked, r.member, r.channel_id, "hello hooks")
        [got] = receiver.wait_for(where, 1)
        payload = json.loads(got.body)
        assert payload["event"] == "message.created"
        assert payload["data"]["id"] == sent["id"]
        assert payload["data"]["content"] == "hello hooks"
        assert got.headers["content-type"] == "application/json"
        assert got.headers["webhook-id"].startswith("msg_")

        # Spec 001's own Node snippet, run by node.
        header = got.headers["x-gossip-signature"]
        assert header.startswith("sha256=")
        assert node_verify(tmp_path, got.body, header, secret) == "valid"
        flipped = bytearray(got.body)
        flipped[len(flipped) // 2] ^= 0x01
        assert node_verify(tmp_path, bytes(flipped), header, secret) == "invalid"
        assert node_verify(tmp_path, got.body, header, secret[:-2] + "AA") == "invalid"

        # The Standard Webhooks reference library.
        wh = standardwebhooks.Webhook(secret)
        headers = {
            k: got.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")
        }
        assert wh.verify(got.body, headers) == payload
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            wh.verify(bytes(flipped), headers)
        stale = {**headers, "webhook-timestamp": str(int(time.time()) - 3600)}
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            wh.verify(got.body, stale)

    def test_the_secret_is_shown_once(self, hooked: Live, receiver: Receiver) -> None:
        user = hooked.register()
        key = new_key(hooked, user)["secret"]
        made = endpoint(hooked, key, receiver.url(path()), ["message.created"])
        listed = v1(hooked, "GET", "/webhooks", key).json()["items"]
        one = v1(hooked, "GET", f"/webhooks/{made['id']}", key)
        assert [e["id"] for e in listed] == [made["id"]]
        assert made["secret"] not in v1(hooked, "GET", "/webhooks", key).text
        assert made["secret"] not in one.text and one.json().get("secret") is None

    def test_events_nobody_subscribed_to_are_not_sent(
        self, hooked: Live, receiver: Receiver
    ) -> None:
        r, _, _, where = subscribed_room(hooked, receiver, ["channel.created"])
        send(hooked, r.member, r.channel_id, "not wanted")
        created = hooked.post(
            f"/api/servers/{r.server_id}/channels", r.owner, json={"name": "wanted"}
        )
        assert created.status_code == 201
        [got] = receiver.wait_for(where, 1)
        assert json.loads(got.body)["event"] == "channel.created"
        time.sleep(0.3)
        assert len(receiver.at(where)) == 1

    def test_the_owner_gets_only_events_it_may_see(self, hooked: Live, receiver: Receiver) -> None:
        r = room(hooked)
        # The member's endpoint: the channel is hidden from them after this.
        key = new_key(hooked, r.member)["secret"]
        where = path()
        endpoint(hooked, key, receiver.url(where), ["message.created"])
        deny_everyone(hooked, r, Permission.VIEW_CHANNEL)
        send(hooked, r.owner, r.channel_id, "secret plans")
        outsider = hooked.register()
        other_key = new_key(hooked, outsider)["secret"]
        elsewhere = path()
        endpoint(hooked, other_key, receiver.url(elsewhere), ["*"])
        send(hooked, r.owner, r.channel_id, "more secret plans")
        # A later visible event proves the worker ran past the hidden ones.
        visible = hooked.create_server(r.member, "mine")
        assert visible
        own = hooked.data(hooked.get(f"/api/servers/{visible}/channels", r.member))[0]["id"]
        send(hooked, r.member, own, "mine")
        [got] = receiver.wait_for(where, 1)
        assert json.loads(got.body)["data"]["content"] == "mine"
        time.sleep(0.3)
        assert len(receiver.at(where)) == 1
        assert receiver.at(elsewhere) == []

    def test_a_dm_from_someone_else_is_message_received(
        self, hooked: Live, receiver: Receiver
    ) -> None:
        alice, bob = hooked.register(), hooked.register()
        key = new_key(hooked, alice)["secret"]
        where = path()
        endpoint(hooked, key, receiver.url(where), ["message.received"])
        dm = hooked.data(
            hooked.post("/api/users/me/channels", bob, json={"recipients": [alice.id]}), 201
        )
        send(hooked, alice, dm["id"], "from me: not received")
        send(hooked, bob, dm["id"], "from bob")
        [got] = receiver.wait_for(where, 1)
        payload = json.loads(got.body)
        assert payload["event"] == "message.received"
        assert payload["data"]["content"] == "from bob"


class TestRetries:
    def test_500_then_200_retries_with_the_same_webhook_id(
        self, hooked: Live, receiver: Receiver
    ) -> None:
        r, key, made, where = subscribed_room(hooked, receiver, ["message.created"])
        receiver.script(where, 500, 503, 200)
        send(hooked, r.member, r.channel_id, "try again")
        got = receiver.wait_for(where, 3)
        assert len({g.headers["webhook-id"] for g in got}) == 1
        # Each attempt is signed afresh with its own timestamp.
        wh = standardwebhooks.Webhook(made["secret"])
        for attempt in got:
            wh.verify(attempt.body, attempt.headers)

        def logged() -> list[dict[str, Any]]:
            found = deliveries(hooked, key, made["id"])
            return found if found and found[0]["status"] == "delivered" else []

        [delivery] = wait_until(logged)
        assert delivery["id"] == got[0].headers["webhook-id"]
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
        assert all(isinstance(a["latency_ms"], int) for a in delivery["attempts"])
        time.sleep(0.5)
        assert len(receiver.at(where)) == 3

    def test_a_delivery_is_given_up_after_the_schedule(
        self, hooked: Live, receiver: Receiver
    ) -> None:
        r, key, made, where = subscribed_room(hooked, receiver, ["message.created"])
        receiver.script(where, 500, 500, 500, 500, 500, 500)
        send(hooked, r.member, r.channel_id, "never")
        # The first attempt and one per entry of the three-entry test schedule.
        receiver.wait_for(where, 4)

        def failed() -> list[dict[str, Any]]:
            found = deliveries(hooked, key, made["id"])
            return found if found and found[0]["status"] == "failed" else []

        [delivery] = wait_until(failed)
        assert len(delivery["attempts"]) == 4
        time.sleep(0.6)
        assert len(receiver.at(where)) == 4

        # Manual redelivery: the same webhook-id, once more.
        again = v1(
            hooked, "POST", f"/webhooks/{made['id']}/deliveries/{delivery['id']}/redeliver", key
        )
        assert again.status_code == 202, again.text
        receiver.script(where, 200)
        got = receiver.wait_for(where, 5)
        assert got[-1].headers["webhook-id"] == delivery["id"]

    def test_410_disables_the_endpoint(self, hooked: Live, receiver: Receiver) -> None:
        r, key, made, where = subscribed_room(hooked, receiver, ["message.created"])
        receiver.script(where, 410)
        send(hooked, r.member, r.channel_id, "gone?")
        receiver.wait_for(where, 1)

        def disabled() -> dict[str, Any] | None:
            found = v1(hooked, "GET", f"/webhooks/{made['id']}", key).json()
            return found if not found["enabled"] else None

        shown = wait_until(disabled)
        assert "410" in shown["disabled_reason"]
        send(hooked, r.member, r.channel_id, "not sent")
        time.sleep(0.5)
        assert len(receiver.at(where)) == 1
        # Enabled again by its owner, it receives new events (none were queued meanwhile).
        again = v1(hooked, "PATCH", f"/webhooks/{made['id']}", key, json={"enabled": True})
        assert again.status_code == 200 and again.json()["enabled"] is True
        assert again.json()["disabled_reason"] is None
        send(hooked, r.member, r.channel_id, "back")
        got = receiver.wait_for(where, 2)
        assert json.loads(got[1].body)["data"]["content"] == "back"

    def test_an_endpoint_failing_too_long_is_disabled(
        self, backend: str, tmp_path: Path, receiver: Receiver
    ) -> None:
        from tests.hooks.conftest import FAST_HOOKS
        from tests.live import live_server

        settings = {**FAST_HOOKS, "webhook_disable_after": 0.3}
        with live_server(backend, tmp_path, **settings) as live:
            r, key, made, where = subscribed_room(live, receiver, ["message.created"])
            receiver.script(where, *([500] * 20))
            send(live, r.member, r.channel_id, "down")
            receiver.wait_for(where, 2)

            def disabled() -> dict[str, Any] | None:
                found = v1(live, "GET", f"/webhooks/{made['id']}", key).json()
                return found if not found["enabled"] else None

            assert "no successful delivery" in wait_until(disabled)["disabled_reason"]


class TestRotation:
    def test_rotating_stops_the_old_secret_at_once(
        self, hooked: Live, receiver: Receiver, tmp_path: Path
    ) -> None:
        r, key, made, where = subscribed_room(hooked, receiver, ["message.created"])
        old = made["secret"]
        rotated = v1(hooked, "POST", f"/webhooks/{made['id']}/rotate-secret", key)
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["secret"]
        assert new != old and new.startswith("whsec_")
        send(hooked, r.member, r.channel_id, "after rotation")
        [got] = receiver.wait_for(where, 1)
        header = got.headers["x-gossip-signature"]
        assert node_verify(tmp_path, got.body, header, new) == "valid"
        assert node_verify(tmp_path, got.body, header, old) == "invalid"
        standardwebhooks.Webhook(new).verify(got.body, got.headers)
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            standardwebhooks.Webhook(old).verify(got.body, got.headers)


class TestOwnership:
    def test_another_accounts_endpoint_is_404(self, hooked: Live, receiver: Receiver) -> None:
        mine = new_key(hooked, hooked.register())["secret"]
        theirs = new_key(hooked, hooked.register())["secret"]
        made = endpoint(hooked, mine, receiver.url(path()), ["message.created"])
        for method, suffix in [
            ("GET", ""),
            ("PATCH", ""),
            ("DELETE", ""),
            ("POST", "/rotate-secret"),
            ("GET", "/deliveries"),
        ]:
            body = {"json": {"enabled": False}} if method == "PATCH" else {}
            answer = v1(hooked, method, f"/webhooks/{made['id']}{suffix}", theirs, **body)
            assert answer.status_code == 404, (method, suffix, answer.text)
            assert error_type(answer) == "not_found"
        assert v1(hooked, "GET", "/webhooks", theirs).json()["items"] == []
        assert v1(hooked, "GET", f"/webhooks/{made['id']}", mine).status_code == 200

    def test_no_key_is_401_and_bad_input_is_400(self, hooked: Live, receiver: Receiver) -> None:
        assert v1(hooked, "GET", "/webhooks", None).status_code == 401
        key = new_key(hooked, hooked.register())["secret"]
        for body in [
            {"url": receiver.url(), "events": []},
            {"url": receiver.url(), "events": ["no.such.event"]},
            {"url": "not a url", "events": ["message.created"]},
            {"url": "ftp://example.com/x", "events": ["message.created"]},
            {"events": ["message.created"]},
            {"url": receiver.url(), "events": ["message.created"], "description": "a\u0000b"},
        ]:
            answer = v1(hooked, "POST", "/webhooks", key, json=body)
            assert answer.status_code == 400, (body, answer.text)
            assert error_type(answer) == "invalid_request"
        assert v1(hooked, "GET", "/webhooks/wh_nope", key).status_code == 404
        assert v1(hooked, "GET", "/webhooks", key).json()["items"] == []

    def test_deleted_endpoints_receive_nothing(self, hooked: Live, receiver: Receiver) -> None:
        r, key, made, where = subscribed_room(hooked, receiver, ["message.created"])
        gone = v1(hooked, "DELETE", f"/webhooks/{made['id']}", key)
        assert gone.status_code == 200 and gone.json() == {"ok": True, "id": made["id"]}
        send(hooked, r.member, r.channel_id, "nobody listens")
        time.sleep(0.4)
        assert receiver.at(where) == []


class TestSSRF:
    """Against the session's server, which keeps the default: private addresses refused."""

    @pytest.mark.parametrize(
        "url",
        [
            "https://127.0.0.1/hook",
            "https://localhost/hook",
            "https://10.1.2.3/hook",
            "https://192.168.0.10/hook",
            "https://172.16.5.4/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://[fe80::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://0.0.0.0/hook",
            "https://224.0.0.1/hook",
            "http://93.184.215.14/hook",
        ],
    )
    def test_private_urls_are_refused_at_registration(self, live: Live, url: str) -> None:
        user = live.register()
        key = new_key(live, user)["secret"]
        answer = v1(live, "POST", "/webhooks", key, json={"url": url, "events": ["*"]})
        assert answer.status_code == 400, answer.text
        assert error_type(answer) == "invalid_request"
        assert v1(live, "GET", "/webhooks", key).json()["items"] == []
