"""`GET /api/search/messages` through real HTTP, on both engines: what it finds, and that it
never finds (or counts) a message the caller may not read."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from gossip.kit.permissions import Permission
from tests.live import Live, User, error_code
from tests.surfaces.chirp.chat import Room, channel, deny_everyone, room, send, set_overwrite

PATH = "/api/search/messages"


def word() -> str:
    """A word no other test writes: the live server is shared by the whole session."""
    return "w" + uuid.uuid4().hex[:12]


def search(live: Live, user: User, query: str, **params: Any) -> httpx.Response:
    return live.get(PATH, user, params={"query": query, **params})


def found(live: Live, user: User, query: str, **params: Any) -> dict[str, Any]:
    data: dict[str, Any] = live.data(search(live, user, query, **params))
    return data


def hit_ids(data: dict[str, Any]) -> list[str]:
    return [h["message"]["id"] for h in data["results"]]


def either(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()["data"]


class TestFinding:
    def test_finds_text_with_the_spec_shape(self, live: Live) -> None:
        r = room(live)
        w = word()
        sent = send(live, r.member, r.channel_id, f"Hello {w}, how are you?")
        send(live, r.member, r.channel_id, "nothing to see here")
        data = found(live, r.owner, w.upper())  # case-insensitive
        assert hit_ids(data) == [sent["id"]]
        hit = data["results"][0]
        assert hit["message"] == sent  # the same message object as everywhere in /api
        assert hit["channel"] == {"id": r.channel_id, "name": "general", "type": 0}
        assert 0 < hit["score"] < 1
        assert hit["context"] == {"before": [], "after": []}
        assert data["totalResults"] == 1
        assert data["analytics"]["matchingMessages"] == 1
        # Counted by the triggers: every message of the channels searched (both rooms'
        # channels the owner may read, here the one #general with two messages).
        assert data["analytics"]["totalMessages"] == 2

    def test_every_word_must_match_and_punctuation_is_a_space(self, live: Live) -> None:
        r = room(live)
        a, b = word(), word()
        both = send(live, r.member, r.channel_id, f"{a} and {b}")
        send(live, r.member, r.channel_id, f"only {a}")
        dotted = send(live, r.member, r.channel_id, f"see {a}.example.com/{b}_x")
        data = found(live, r.member, f"{b} {a}")
        assert sorted(hit_ids(data)) == sorted([both["id"], dotted["id"]])
        assert data["totalResults"] == 2
        assert hit_ids(found(live, r.member, f"{a}.example")) == [dotted["id"]]

    def test_ranks_by_relevance(self, live: Live) -> None:
        r = room(live)
        w = word()
        long = send(live, r.member, r.channel_id, f"{w} " + "filler " * 60)
        short = send(live, r.member, r.channel_id, f"{w} {w}")
        older_dense = send(live, r.member, r.channel_id, f"{w} {w} {w} and a few more words")
        data = found(live, r.member, w)
        scores = [h["score"] for h in data["results"]]
        assert scores == sorted(scores, reverse=True)
        assert hit_ids(data)[-1] == long["id"]
        assert set(hit_ids(data)) == {long["id"], short["id"], older_dense["id"]}

    def test_finds_edited_text_and_no_longer_the_old(self, live: Live) -> None:
        r = room(live)
        old, new = word(), word()
        sent = send(live, r.member, r.channel_id, f"first {old}")
        path = f"/api/channels/{r.channel_id}/messages/{sent['id']}"
        live.data(live.patch(path, r.member, json={"content": f"then {new}"}))
        assert hit_ids(found(live, r.member, old)) == []
        data = found(live, r.member, new)
        assert hit_ids(data) == [sent["id"]]
        assert data["results"][0]["message"]["content"] == f"then {new}"
        assert data["results"][0]["message"]["editedTimestamp"] is not None
        # Pinning changes the row, not the text: still found once.
        live.put(f"/api/channels/{r.channel_id}/pins/{sent['id']}", r.owner)
        assert hit_ids(found(live, r.member, new)) == [sent["id"]]

    def test_deleted_messages_vanish(self, live: Live) -> None:
        r = room(live)
        w = word()
        gone = send(live, r.member, r.channel_id, f"delete me {w}")
        kept = send(live, r.member, r.channel_id, f"keep me {w}")
        path = f"/api/channels/{r.channel_id}/messages/{gone['id']}"
        assert live.delete(path, r.member).status_code in (200, 204)
        data = found(live, r.member, w)
        assert hit_ids(data) == [kept["id"]]
        assert data["totalResults"] == 1

    def test_a_deleted_channel_takes_its_messages_out(self, live: Live) -> None:
        r = room(live)
        w = word()
        room_ = channel(live, r.owner, r.server_id, name="doomed")
        send(live, r.owner, room_["id"], f"in the doomed room {w}")
        before = found(live, r.owner, w, serverId=r.server_id)
        assert before["totalResults"] == 1
        assert live.delete(f"/api/channels/{room_['id']}", r.owner).status_code in (200, 204)
        after = found(live, r.owner, w, serverId=r.server_id)
        assert after["totalResults"] == 0
        assert after["analytics"]["totalMessages"] == before["analytics"]["totalMessages"] - 1

    def test_query_syntax_is_only_words(self, live: Live) -> None:
        r = room(live)
        w = word()
        sent = send(live, r.member, r.channel_id, f"{w} NEAR OR AND content")
        for query in (f'"{w}', f"{w} OR", f"content:{w}", f"{w} NEAR(", f"{w}*", f"-{w}"):
            assert hit_ids(found(live, r.member, query)) == [sent["id"]], query


class TestNeverLeaks:
    def test_a_channel_hidden_by_an_overwrite(self, live: Live) -> None:
        r = room(live)
        w = word()
        secret = channel(live, r.owner, r.server_id, name="secret")
        set_overwrite(live, r.owner, secret["id"], r.server_id, deny=int(Permission.VIEW_CHANNEL))
        hidden = send(live, r.owner, secret["id"], f"secret {w}")
        public = send(live, r.owner, r.channel_id, f"public {w}")
        data = found(live, r.member, w)
        assert hit_ids(data) == [public["id"]]
        assert data["totalResults"] == 1
        assert data["analytics"]["totalMessages"] == 1  # the hidden one is not counted
        assert hit_ids(found(live, r.member, w, serverId=r.server_id)) == [public["id"]]
        response = search(live, r.member, w, channelId=secret["id"])
        assert response.status_code == 404
        assert error_code(response) == "NOT_FOUND"
        # The owner reads both.
        assert sorted(hit_ids(found(live, r.owner, w))) == sorted([hidden["id"], public["id"]])
        # A member overwrite that lets this member in makes it searchable for them.
        set_overwrite(
            live,
            r.owner,
            secret["id"],
            r.member.id,
            allow=int(Permission.VIEW_CHANNEL),
            kind=1,
        )
        assert hidden["id"] in hit_ids(found(live, r.member, w))

    def test_overwrites_in_discords_order(self, live: Live) -> None:
        """@everyone denied, a role allowed back, one member denied again: search agrees
        with reading the channel, for each of them."""
        r = room(live)
        third = live.register()
        live.join(third, r.server_id, r.owner)
        w = word()
        secret = channel(live, r.owner, r.server_id, name="staff")
        view = int(Permission.VIEW_CHANNEL)
        set_overwrite(live, r.owner, secret["id"], r.server_id, deny=view)
        role = live.create_role(r.owner, r.server_id, name="staff", permissions="0")
        for user in (r.member, third):
            live.give_role(r.owner, r.server_id, user.id, role["id"])
        set_overwrite(live, r.owner, secret["id"], role["id"], allow=view)
        set_overwrite(live, r.owner, secret["id"], third.id, deny=view, kind=1)
        sent = send(live, r.owner, secret["id"], f"staff only {w}")
        assert hit_ids(found(live, r.member, w)) == [sent["id"]]
        assert hit_ids(found(live, third, w)) == []
        for user, status in ((r.member, 200), (third, 404)):
            listing = live.get(f"/api/channels/{secret['id']}/messages", user)
            assert listing.status_code == status
            assert search(live, user, w, channelId=secret["id"]).status_code == status

    def test_history_denied_is_not_searchable(self, live: Live) -> None:
        r = room(live)
        w = word()
        send(live, r.owner, r.channel_id, f"before you came {w}")
        deny_everyone(live, r, Permission.READ_MESSAGE_HISTORY)
        data = found(live, r.member, w)
        assert data["results"] == [] and data["totalResults"] == 0
        # Visible but unreadable: the channel filter says so as reading it would (403).
        assert search(live, r.member, w, channelId=r.channel_id).status_code == 403

    def test_a_server_they_are_not_in(self, live: Live) -> None:
        r = room(live)
        stranger = live.register()
        w = word()
        send(live, r.owner, r.channel_id, f"members only {w}")
        data = found(live, stranger, w)
        assert data["results"] == [] and data["totalResults"] == 0
        assert data["analytics"]["totalMessages"] == 0
        for params in ({"serverId": r.server_id}, {"channelId": r.channel_id}):
            response = search(live, stranger, w, **params)
            assert response.status_code == 404, params
            assert error_code(response) == "NOT_FOUND"
        # The same answer as for a server that does not exist.
        assert search(live, stranger, w, serverId="123456789012345").status_code == 404

    def test_another_users_dm(self, live: Live) -> None:
        a, b, c = live.register(), live.register(), live.register()
        w = word()
        dm = either(live.post("/api/users/me/channels", a, json={"recipients": [b.id]}))
        sent = send(live, a, dm["id"], f"just between us {w}")
        assert hit_ids(found(live, b, w)) == [sent["id"]]
        assert hit_ids(found(live, a, w, channelId=dm["id"])) == [sent["id"]]
        assert found(live, b, w)["results"][0]["channel"]["type"] == 1
        data = found(live, c, w)
        assert data["results"] == [] and data["totalResults"] == 0
        assert search(live, c, w, channelId=dm["id"]).status_code == 404

    def test_threads_follow_their_parent(self, live: Live) -> None:
        r = room(live)
        w = word()
        parent = channel(live, r.owner, r.server_id, name="parent")
        start = send(live, r.owner, parent["id"], "thread starter")
        thread = either(
            live.post(
                f"/api/channels/{parent['id']}/messages/{start['id']}/threads",
                r.owner,
                json={"name": "talk"},
            )
        )
        inside = send(live, r.owner, thread["id"], f"in the thread {w}")
        assert hit_ids(found(live, r.member, w)) == [inside["id"]]
        set_overwrite(live, r.owner, parent["id"], r.server_id, deny=int(Permission.VIEW_CHANNEL))
        assert hit_ids(found(live, r.member, w)) == []
        assert search(live, r.member, w, channelId=thread["id"]).status_code == 404
        assert hit_ids(found(live, r.owner, w)) == [inside["id"]]

    def test_access_lost_by_an_overwrite_hides_hits_at_once(self, live: Live) -> None:
        """Search decides access per request (one statement, no cache): the request after
        an overwrite takes a member's view of a channel away finds nothing there, in every
        scope, and the counts drop with it; given back, it is found again."""
        r = room(live)
        w = word()
        shared = channel(live, r.owner, r.server_id, name="shared")
        there = send(live, r.owner, shared["id"], f"over there {w}")
        here = send(live, r.owner, r.channel_id, f"over here {w}")
        before = found(live, r.member, w)
        assert sorted(hit_ids(before)) == sorted([there["id"], here["id"]])
        assert before["totalResults"] == 2
        set_overwrite(
            live, r.owner, shared["id"], r.member.id, deny=int(Permission.VIEW_CHANNEL), kind=1
        )
        for params in ({}, {"serverId": r.server_id}):
            data = found(live, r.member, w, **params)
            assert hit_ids(data) == [here["id"]], params
            assert data["totalResults"] == 1
            assert data["analytics"]["totalMessages"] == before["analytics"]["totalMessages"] - 1
        response = search(live, r.member, w, channelId=shared["id"])
        assert response.status_code == 404
        assert error_code(response) == "NOT_FOUND"
        # The owner still reads it; the member again once the overwrite goes.
        assert sorted(hit_ids(found(live, r.owner, w))) == sorted([there["id"], here["id"]])
        path = f"/api/channels/{shared['id']}/permissions/{r.member.id}"
        assert live.delete(path, r.owner).status_code in (200, 204)
        assert sorted(hit_ids(found(live, r.member, w))) == sorted([there["id"], here["id"]])

    def test_leaving_the_server_hides_its_hits_at_once(self, live: Live) -> None:
        r = room(live)
        w = word()
        send(live, r.owner, r.channel_id, f"members only {w}")
        assert found(live, r.member, w)["totalResults"] == 1
        assert live.delete(f"/api/users/me/servers/{r.server_id}", r.member).status_code < 300
        data = found(live, r.member, w)
        assert data["results"] == [] and data["totalResults"] == 0
        for params in ({"serverId": r.server_id}, {"channelId": r.channel_id}):
            assert search(live, r.member, w, **params).status_code == 404, params

    def test_context_stays_in_the_hits_channel(self, live: Live) -> None:
        r = room(live)
        w = word()
        other = channel(live, r.owner, r.server_id, name="other")
        first = send(live, r.member, r.channel_id, "one")
        send(live, r.owner, other["id"], "elsewhere")
        hit = send(live, r.member, r.channel_id, f"two {w}")
        send(live, r.owner, other["id"], "elsewhere again")
        third = send(live, r.member, r.channel_id, "three")
        data = found(live, r.member, w, contextSize=5)
        context = data["results"][0]["context"]
        assert [m["id"] for m in context["before"]] == [first["id"]]
        assert [m["id"] for m in context["after"]] == [third["id"]]
        assert hit_ids(data) == [hit["id"]]


class TestFilters:
    def test_channel_server_and_user(self, live: Live) -> None:
        r = room(live)
        w = word()
        other_room = channel(live, r.owner, r.server_id, name="other")
        by_member = send(live, r.member, r.channel_id, f"{w} from member")
        by_owner = send(live, r.owner, other_room["id"], f"{w} from owner")
        elsewhere = room(live)
        live.join(r.member, elsewhere.server_id, elsewhere.owner)
        far = send(live, r.member, elsewhere.channel_id, f"{w} far away")

        everything = found(live, r.member, w)
        assert set(hit_ids(everything)) == {by_member["id"], by_owner["id"], far["id"]}
        assert hit_ids(found(live, r.member, w, channelId=r.channel_id)) == [by_member["id"]]
        assert set(hit_ids(found(live, r.member, w, serverId=r.server_id))) == {
            by_member["id"],
            by_owner["id"],
        }
        assert set(hit_ids(found(live, r.member, w, userId=r.member.id))) == {
            by_member["id"],
            far["id"],
        }
        assert hit_ids(found(live, r.member, w, userId=r.member.id, serverId=r.server_id)) == [
            by_member["id"]
        ]
        assert found(live, r.member, w, userId="123456789012345")["results"] == []
        # A channel of another server than the one named does not exist there.
        response = search(live, r.member, w, channelId=r.channel_id, serverId=elsewhere.server_id)
        assert response.status_code == 404

    def test_limit_and_context_bounds(self, live: Live) -> None:
        r = room(live)
        w = word()
        sent = [send(live, r.member, r.channel_id, f"{w} number {i}") for i in range(30)]
        data = found(live, r.member, w)
        assert len(data["results"]) == 25  # the default is the most
        assert data["totalResults"] == 30
        assert len(found(live, r.member, w, limit=1)["results"]) == 1
        with_context = found(live, r.member, w, limit=3, contextSize=2)
        ids = [m["id"] for m in sent]
        assert len(with_context["results"]) == 3
        for hit in with_context["results"]:
            # Each hit's own neighbours, in time order, whichever hits the others are.
            at = ids.index(hit["message"]["id"])
            assert [m["id"] for m in hit["context"]["before"]] == ids[max(0, at - 2) : at]
            assert [m["id"] for m in hit["context"]["after"]] == ids[at + 1 : at + 3]
        newest = found(live, r.member, f"{w} 29", contextSize=5)["results"][0]
        assert newest["message"]["id"] == sent[29]["id"]
        assert [m["id"] for m in newest["context"]["before"]] == [m["id"] for m in sent[24:29]]
        assert newest["context"]["after"] == []
        for params in (
            {"limit": 0},
            {"limit": 26},
            {"limit": "x"},
            {"contextSize": -1},
            {"contextSize": 6},
        ):
            response = search(live, r.member, w, **params)
            assert response.status_code == 400, params
            assert error_code(response) == "VALIDATION_ERROR"


class TestBadInput:
    @pytest.mark.parametrize(
        "params",
        [
            {},
            {"query": ""},
            {"query": "!!! ???"},
            {"query": "x" * 201},
            {"query": "a\x00b"},
            {"query": " ".join(f"w{i}" for i in range(17))},
            {"query": "hi", "channelId": "abc"},
            {"query": "hi", "serverId": "-1"},
            {"query": "hi", "userId": "12345678901234567890"},
            {"query": "hi", "channelId": "99999999999999999999"},
            {"query": "hi", "channelId": "0"},
        ],
    )
    def test_answers_the_spec_error(self, live: Live, params: dict[str, str]) -> None:
        user = live.register()
        response = live.get(PATH, user, params=params)
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["success"] is False
        assert body["error"]["code"] == "VALIDATION_ERROR"
        assert isinstance(body["error"]["details"], list)
        assert "timestamp" in body

    def test_needs_a_token(self, live: Live) -> None:
        response = live.get(PATH, params={"query": "hello"})
        assert response.status_code == 401

    def test_a_visible_room_without_matches(self, live: Live) -> None:
        r: Room = room(live)
        data = found(live, r.member, word(), channelId=r.channel_id)
        assert data == {
            "results": [],
            "totalResults": 0,
            "analytics": {"totalMessages": 0, "matchingMessages": 0},
        }
