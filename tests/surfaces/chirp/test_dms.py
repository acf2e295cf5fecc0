"""`/api/users/me/channels`: direct messages through real HTTP."""

from __future__ import annotations

from typing import Any

from tests.live import Live, User, error_code
from tests.surfaces.chirp.chat import send


def open_dm(live: Live, user: User, recipients: list[str], status: int = 201, **body: Any) -> Any:
    response = live.post("/api/users/me/channels", user, json={"recipients": recipients, **body})
    return live.data(response, status)


class TestListDms:
    def test_empty_then_newest_activity_first(self, live: Live) -> None:
        alice, bob, carol = live.register(), live.register(), live.register()
        assert live.data(live.get("/api/users/me/channels", alice)) == []
        with_bob = open_dm(live, alice, [bob.id])
        with_carol = open_dm(live, alice, [carol.id])
        listed = live.data(live.get("/api/users/me/channels", alice))
        assert [c["id"] for c in listed] == [with_carol["id"], with_bob["id"]]
        message = send(live, bob, with_bob["id"], "hi alice")
        listed = live.data(live.get("/api/users/me/channels", alice))
        assert [c["id"] for c in listed] == [with_bob["id"], with_carol["id"]]
        first = listed[0]
        assert first["type"] == 1
        assert first["recipients"] == [{"id": bob.id, "username": bob.username, "avatar": None}]
        assert first["lastMessageId"] == message["id"]
        assert first["lastMessageTimestamp"] == message["timestamp"]
        # Bob sees the same DM with Alice as the recipient.
        [seen_by_bob] = live.data(live.get("/api/users/me/channels", bob))
        assert seen_by_bob["id"] == with_bob["id"]
        assert [r["id"] for r in seen_by_bob["recipients"]] == [alice.id]

    def test_requires_token(self, live: Live) -> None:
        response = live.get("/api/users/me/channels")
        assert response.status_code == 401 and error_code(response) == "UNAUTHORIZED"


class TestOpenDm:
    def test_one_recipient_is_one_dm_for_both_sides(self, live: Live) -> None:
        alice, bob = live.register(), live.register()
        created = open_dm(live, alice, [bob.id])
        assert created["type"] == 1 and created["ownerId"] is None
        assert created["lastMessageId"] is None and created["lastMessageTimestamp"] is None
        assert [r["id"] for r in created["recipients"]] == [bob.id]
        again = open_dm(live, alice, [bob.id], status=200)
        from_bob = open_dm(live, bob, [alice.id], status=200)
        assert again["id"] == from_bob["id"] == created["id"]
        assert [r["id"] for r in from_bob["recipients"]] == [alice.id]

    def test_group_dm(self, live: Live) -> None:
        alice, bob, carol = live.register(), live.register(), live.register()
        group = open_dm(live, alice, [bob.id, carol.id, bob.id], name="plans")
        assert group["type"] == 3 and group["ownerId"] == alice.id and group["name"] == "plans"
        assert sorted(r["id"] for r in group["recipients"]) == sorted([bob.id, carol.id])
        # A group is new each time.
        assert open_dm(live, alice, [bob.id, carol.id])["id"] != group["id"]
        send(live, carol, group["id"], "hello all")
        messages = live.data(live.get(f"/api/channels/{group['id']}/messages", bob))
        assert [m["content"] for m in messages] == ["hello all"]
        seen = live.data(live.get(f"/api/channels/{group['id']}", carol))
        assert seen["type"] == 3
        assert sorted(r["id"] for r in seen["recipients"]) == sorted([alice.id, bob.id])

    def test_outsiders_cannot_see_a_dm(self, live: Live) -> None:
        alice, bob, eve = live.register(), live.register(), live.register()
        dm = open_dm(live, alice, [bob.id])
        send(live, alice, dm["id"], "secret")
        for path in (f"/api/channels/{dm['id']}", f"/api/channels/{dm['id']}/messages"):
            response = live.get(path, eve)
            assert response.status_code == 404 and error_code(response) == "NOT_FOUND"
        refused = live.post(f"/api/channels/{dm['id']}/messages", eve, json={"content": "hi"})
        assert refused.status_code == 404
        # Nobody moderates a DM: it is neither renamed nor deleted through the channel routes.
        assert live.patch(f"/api/channels/{dm['id']}", alice, json={"name": "x"}).status_code == 403
        assert live.delete(f"/api/channels/{dm['id']}", alice).status_code == 403

    def test_validation(self, live: Live) -> None:
        alice, bob = live.register(), live.register()
        others = [live.register().id for _ in range(10)]
        for recipients, field in (
            ([alice.id], "recipients.0"),
            ([bob.id, alice.id], "recipients.1"),
            (["123"], "recipients.0"),  # well-formed, but nobody
            (["abc"], "recipients.0"),
            (["0"], "recipients.0"),
            ([], "recipients"),
            (others, "recipients"),
        ):
            response = live.post("/api/users/me/channels", alice, json={"recipients": recipients})
            assert response.status_code == 400, (recipients, response.text)
            assert error_code(response) == "VALIDATION_ERROR"
            assert response.json()["error"]["details"][0]["field"] == field
        for body in (
            {},
            {"recipients": "x"},
            {"recipients": [bob.id, others[0]], "name": "x" * 101},
        ):
            assert live.post("/api/users/me/channels", alice, json=body).status_code == 400
        assert live.data(live.get("/api/users/me/channels", alice)) == []

    def test_requires_token(self, live: Live) -> None:
        response = live.post("/api/users/me/channels", json={"recipients": ["1"]})
        assert response.status_code == 401
