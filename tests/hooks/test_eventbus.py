"""Spec 000: GET /details, and publish/register round trips through the signed outbox."""

from __future__ import annotations

import json
import time
import uuid

import standardwebhooks

from tests.hooks.receiver import Receiver
from tests.live import Live
from tests.surfaces.chirp.chat import room, send
from tests.surfaces.v1.keys import error_type, new_key, v1


def path() -> str:
    return f"/bus-{uuid.uuid4().hex[:10]}"


def register(live: Live, key: str, url: str, event_type: str | None) -> dict:  # type: ignore[type-arg]
    where = "/core/messages/register" + (f"/{event_type}" if event_type else "")
    answer = v1(live, "POST", where, key, json={"url": url})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


class TestDetails:
    def test_details_lists_what_is_mounted(self, live: Live) -> None:
        answer = live.http.get("/details")
        assert answer.status_code == 200
        body = answer.json()
        assert body["version"] == "1"
        endpoints = body["capabilities"]["endpoints"]
        for expected in (
            "/v1/core/messages/new/{event_type}",
            "/v1/core/messages/register/{event_type}",
            "/v1/webhooks",
            "/details",
        ):
            assert expected in endpoints
        # The real list: exactly what the OpenAPI document of this server has.
        assert sorted(endpoints) == sorted(live.http.get("/openapi.json").json()["paths"])
        names = [n["name"] for n in body["capabilities"]["namespaces"]]
        assert "v1" in names and "api" in names
        host = body["meta"]["host"]
        assert host["language"].startswith("Python") and host["library"].startswith("Gossip")
        assert live.http.get("/v1/details").status_code == 404


class TestRoundTrip:
    def test_publish_reaches_listeners_of_the_type_and_wildcards(
        self, hooked: Live, receiver: Receiver
    ) -> None:
        user = hooked.register()
        key = new_key(hooked, user)["secret"]
        typed, everything, other = path(), path(), path()
        one = register(hooked, key, receiver.url(typed), "log")
        every = register(hooked, key, receiver.url(everything), None)
        register(hooked, key, receiver.url(other), "other")
        namespace = user.username.lower()
        assert one["event_type"] == f"{namespace}:log" and every["event_type"] == "*"
        assert one["secret"].startswith("whsec_") and one["id"].startswith("wh_")

        data = {"type": "member_join", "guild": 810932869862129664, "member": {"id": 1}}
        published = v1(hooked, "POST", "/core/messages/new/log", key, json={"data": data})
        assert published.status_code == 200, published.text
        assert published.json() == {"event": f"{namespace}:log", "listeners": 2}

        [got] = receiver.wait_for(typed, 1)
        assert json.loads(got.body) == {"event": f"{namespace}:log", "data": data}
        standardwebhooks.Webhook(one["secret"]).verify(got.body, got.headers)
        [all_got] = receiver.wait_for(everything, 1)
        standardwebhooks.Webhook(every["secret"]).verify(all_got.body, all_got.headers)
        assert all_got.headers["webhook-id"] != got.headers["webhook-id"]
        time.sleep(0.3)
        assert receiver.at(other) == []

    def test_a_wildcard_listener_also_gets_gossip_events_it_may_see(
        self, hooked: Live, receiver: Receiver
    ) -> None:
        r = room(hooked)
        key = new_key(hooked, r.member)["secret"]
        where = path()
        register(hooked, key, receiver.url(where), None)
        sent = send(hooked, r.owner, r.channel_id, "for everyone")
        got = receiver.wait_for(where, 1)
        events = [json.loads(g.body) for g in got]
        assert any(
            e["event"] == "message.created" and e["data"]["id"] == sent["id"] for e in events
        )

    def test_another_accounts_publishes_do_not_reach_me(
        self, hooked: Live, receiver: Receiver
    ) -> None:
        mine = new_key(hooked, hooked.register())["secret"]
        theirs = new_key(hooked, hooked.register())["secret"]
        where = path()
        register(hooked, mine, receiver.url(where), None)
        answer = v1(hooked, "POST", "/core/messages/new/log", theirs, json={"data": 1})
        assert answer.json()["listeners"] == 0
        time.sleep(0.3)
        assert receiver.at(where) == []

    def test_namespaces(self, hooked: Live, receiver: Receiver) -> None:
        user = hooked.register()
        key = new_key(hooked, user)["secret"]
        own = user.username.lower()
        for event_type in ("gossip:log", "someoneelse:log"):
            answer = v1(hooked, "POST", f"/core/messages/new/{event_type}", key, json={"data": 1})
            assert answer.status_code == 403, answer.text
            assert error_type(answer) == "permission_denied"
        qualified = v1(hooked, "POST", f"/core/messages/new/{own}:log", key, json={"data": {}})
        assert qualified.status_code == 200 and qualified.json()["event"] == f"{own}:log"
        refused = v1(
            hooked,
            "POST",
            "/core/messages/register/someoneelse:log",
            key,
            json={"url": receiver.url()},
        )
        assert refused.status_code == 403
        gossip_event = register(hooked, key, receiver.url(path()), "gossip:message.created")
        assert gossip_event["event_type"] == "message.created"
        assert v1(hooked, "POST", "/core/messages/new/log", key, json={}).status_code == 400
        assert (
            v1(hooked, "POST", "/core/messages/new/log", None, json={"data": 1}).status_code == 401
        )

    def test_listing_and_removing_listeners(self, hooked: Live, receiver: Receiver) -> None:
        key = new_key(hooked, hooked.register())["secret"]
        other = new_key(hooked, hooked.register())["secret"]
        where = path()
        made = register(hooked, key, receiver.url(where), "log")
        listed = v1(hooked, "GET", "/core/messages/listeners", key).json()["items"]
        assert [x["id"] for x in listed] == [made["id"]] and "secret" not in listed[0]
        assert v1(hooked, "GET", "/core/messages/listeners", other).json()["items"] == []
        path_ = f"/core/messages/listeners/{made['id']}"
        assert v1(hooked, "DELETE", path_, other).status_code == 404
        assert v1(hooked, "DELETE", path_, key).status_code == 200
        assert v1(hooked, "DELETE", path_, key).status_code == 404
        v1(hooked, "POST", "/core/messages/new/log", key, json={"data": 1})
        time.sleep(0.3)
        assert receiver.at(where) == []

    def test_a_private_listener_url_is_refused(self, live: Live) -> None:
        key = new_key(live, live.register())["secret"]
        answer = v1(
            live, "POST", "/core/messages/register/log", key, json={"url": "https://10.0.0.1/x"}
        )
        assert answer.status_code == 400 and error_type(answer) == "invalid_request"
