"""Spec 002's HTTP endpoints through real HTTP: every status code it lists, with its bodies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gossip.kit.errors import GossipError
from gossip.surfaces.legacy import routes
from gossip.surfaces.legacy.render import render_error
from tests.live import Live, live_server
from tests.surfaces.legacy.client import messages, new_account, open_channel


def null(response: httpx.Response, status: int) -> None:
    """An error as spec 002 writes it: the status, and the JSON body `null`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.content == b"null"


class TestNew:
    def test_creates_an_account(self, legacy: Live) -> None:
        response = legacy.post("/new", json={"username": "Starman1"})
        assert response.status_code == 201
        body = response.json()
        assert set(body) == {"id", "dms", "token"}
        assert body["id"].isdigit() and body["dms"] == [] and len(body["token"]) > 40

    def test_logs_in_with_id_and_username(self, legacy: Live) -> None:
        alice, bob = new_account(legacy), new_account(legacy)
        channel = open_channel(legacy, bob, alice.id)
        response = legacy.post("/new", json={"accountID": alice.id, "username": alice.username})
        assert response.status_code == 202
        body = response.json()
        assert body["id"] == alice.id and body["dms"] == [channel]
        # Each login is its own token; the old one keeps working.
        assert body["token"] != alice.token
        for token in (body["token"], alice.token):
            assert (
                legacy.get(
                    "/users", headers={"Authorisation": token}, params={"users": alice.id}
                ).status_code
                == 200
            )

    def test_wrong_details_are_401_null(self, legacy: Live) -> None:
        alice = new_account(legacy)
        for body in (
            {"accountID": alice.id, "username": alice.username.upper()},
            {"accountID": alice.id, "username": "someone else"},
            {"accountID": alice.id},
            {"accountID": "999999999999999999", "username": alice.username},
            {"accountID": "not an id", "username": alice.username},
        ):
            null(legacy.post("/new", json=body), 401)

    def test_accounts_with_a_password_cannot_be_entered_by_id_and_name(self, legacy: Live) -> None:
        chirp_user = legacy.register()
        body = {"accountID": chirp_user.id, "username": chirp_user.username}
        null(legacy.post("/new", json=body), 401)

    def test_the_welcome_account_cannot_be_entered(self, legacy: Live) -> None:
        alice = new_account(legacy)
        welcome = legacy.get("/messages", headers=alice.headers, params={"channel_id": "null"})
        author = welcome.json()["messages"][0]["author"]
        body = {"accountID": author["id"], "username": author["username"]}
        null(legacy.post("/new", json=body), 401)

    def test_a_new_account_needs_a_usable_unique_username(self, legacy: Live) -> None:
        alice = new_account(legacy)
        null(legacy.post("/new", json={}), 400)
        null(legacy.post("/new", json={"username": ""}), 400)
        null(legacy.post("/new", json={"username": "ab"}), 400)
        null(legacy.post("/new", json={"username": "a\x00bc"}), 400)
        null(legacy.post("/new", json={"username": 5}), 400)
        # Usernames are unique in Gossip, regardless of case.
        null(legacy.post("/new", json={"username": alice.username.upper()}), 409)

    def test_malformed_bodies_are_400_null(self, legacy: Live) -> None:
        null(
            legacy.post(
                "/new", content=b'{"username": ', headers={"content-type": "application/json"}
            ),
            400,
        )
        null(legacy.post("/new", json=["username"]), 400)

    def test_a_form_body_works_too(self, legacy: Live) -> None:
        response = legacy.post("/new", data={"username": "formuser1"})
        assert response.status_code == 201

    def test_oversized_body_is_413_null(self, legacy: Live) -> None:
        null(legacy.post("/new", content=b"x" * (2 * 1024 * 1024)), 413)

    def test_wrong_method_is_null_too(self, legacy: Live) -> None:
        null(legacy.get("/new"), 405)


class TestLoginRateLimit:
    @pytest.fixture(scope="class")
    @classmethod
    def limited(cls, backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
        tmp: Path = tmp_path_factory.mktemp(f"legacy-limited-{backend}")
        with live_server(backend, tmp, legacy_dm=True, rate_limit_legacy_login="3/900") as live:
            yield live

    def test_new_is_limited_per_ip(self, limited: Live) -> None:
        alice = new_account(limited)
        login = {"accountID": alice.id, "username": alice.username}
        assert limited.post("/new", json=login).status_code == 202
        assert limited.post("/new", json={**login, "username": "wrong"}).status_code == 401
        response = limited.post("/new", json=login)
        null(response, 429)
        assert int(response.headers["retry-after"]) > 0
        # Only /new counts: the token goes on working.
        assert (
            limited.get("/users", headers=alice.headers, params={"users": alice.id}).status_code
            == 200
        )


class TestUpdateAccount:
    def test_changes_username_and_avatar(self, legacy: Live) -> None:
        alice = new_account(legacy)
        name = alice.username + "x"
        avatar = "https://example.com/a.png"
        response = legacy.post(
            "/update-account", headers=alice.headers, json={"avatarURL": avatar, "username": name}
        )
        assert response.status_code == 202
        assert response.json() == {"id": alice.id, "username": name, "avatarURL": avatar}
        found = legacy.get("/users", headers=alice.headers, params={"users": alice.id}).json()
        assert found == {"users": [{"avatarURL": avatar, "id": alice.id, "username": name}]}
        # Login follows the new name.
        assert (
            legacy.post("/new", json={"accountID": alice.id, "username": name}).status_code == 202
        )
        # "" clears the avatar.
        response = legacy.post(
            "/update-account", headers=alice.headers, json={"avatarURL": "", "username": name}
        )
        assert response.status_code == 202 and response.json()["avatarURL"] == ""

    def test_nothing_changed_is_406_null(self, legacy: Live) -> None:
        alice = new_account(legacy)
        body = {"avatarURL": "", "username": alice.username}
        null(legacy.post("/update-account", headers=alice.headers, json=body), 406)

    def test_missing_fields_or_token_are_400_null(self, legacy: Live) -> None:
        alice = new_account(legacy)
        null(
            legacy.post("/update-account", headers=alice.headers, json={"username": "abcdef"}), 400
        )
        null(legacy.post("/update-account", headers=alice.headers, json={"avatarURL": ""}), 400)
        body = {"avatarURL": "", "username": "abcdefg"}
        null(legacy.post("/update-account", json=body), 400)
        bad = {"avatarURL": "x" * 600, "username": alice.username}
        null(legacy.post("/update-account", headers=alice.headers, json=bad), 400)

    def test_bad_token_is_401_null(self, legacy: Live) -> None:
        body = {"avatarURL": "", "username": "abcdefg"}
        for token in ("nonsense", "gl_1.abc", "gl_123456789012345678.abc"):
            null(legacy.post("/update-account", headers={"Authorisation": token}, json=body), 401)

    def test_a_taken_username_is_409_null(self, legacy: Live) -> None:
        alice, bob = new_account(legacy), new_account(legacy)
        body = {"avatarURL": "", "username": bob.username}
        null(legacy.post("/update-account", headers=alice.headers, json=body), 409)


class TestAuthorisationHeader:
    def test_both_spellings_with_or_without_bearer(self, legacy: Live) -> None:
        alice = new_account(legacy)
        for headers in (
            {"Authorisation": alice.token},
            {"Authorization": alice.token},
            {"Authorization": f"Bearer {alice.token}"},
            {"Authorisation": f"bearer {alice.token}"},
        ):
            response = legacy.get("/users", headers=headers, params={"users": alice.id})
            assert response.status_code == 200, headers

    def test_a_legacy_token_is_no_chirp_token(self, legacy: Live) -> None:
        alice = new_account(legacy)
        bearer = {"Authorization": f"Bearer {alice.token}"}
        assert legacy.get("/api/users/me", headers=bearer).status_code == 401
        refresh = legacy.post("/api/auth/refresh", json={"refreshToken": alice.token})
        assert refresh.status_code == 401
        # ... and trying did not spoil it.
        assert (
            legacy.get("/users", headers=alice.headers, params={"users": alice.id}).status_code
            == 200
        )

    def test_a_chirp_token_is_no_legacy_token(self, legacy: Live) -> None:
        chirp_user = legacy.register()
        for token in (chirp_user.token, chirp_user.refresh):
            headers = {"Authorisation": token}
            null(legacy.get("/users", headers=headers, params={"users": chirp_user.id}), 401)


class TestCreateChannel:
    def test_creates_a_dm_once(self, legacy: Live) -> None:
        alice, bob = new_account(legacy), new_account(legacy)
        response = legacy.post(
            "/create-channel", headers=alice.headers, json={"to": bob.id, "type": 1}
        )
        assert response.status_code == 201
        channel = response.json()["channel_id"]
        assert response.json() == {"channel_id": channel}
        for who, other in ((alice, bob), (bob, alice)):
            null(
                legacy.post(
                    "/create-channel", headers=who.headers, json={"to": other.id, "type": 1}
                ),
                409,
            )
        login = legacy.post("/new", json={"accountID": bob.id, "username": bob.username})
        assert login.json()["dms"] == [channel]

    def test_the_type_may_come_as_a_string(self, legacy: Live) -> None:
        alice, bob = new_account(legacy), new_account(legacy)
        response = legacy.post(
            "/create-channel", headers=alice.headers, json={"to": bob.id, "type": "1"}
        )
        assert response.status_code == 201

    def test_missing_or_wrong_details_are_400_null(self, legacy: Live) -> None:
        alice, bob = new_account(legacy), new_account(legacy)
        for body in (
            {"type": 1},
            {"to": bob.id},
            {"to": bob.id, "type": 3},
            {"to": alice.id, "type": 1},
            {"to": "999999999999999999", "type": 1},
            {"to": "someone", "type": 1},
        ):
            null(legacy.post("/create-channel", headers=alice.headers, json=body), 400)
        null(legacy.post("/create-channel", json={"to": bob.id, "type": 1}), 400)

    def test_bad_token_is_401_null(self, legacy: Live) -> None:
        bob = new_account(legacy)
        headers = {"Authorisation": "gl_1.nope"}
        null(legacy.post("/create-channel", headers=headers, json={"to": bob.id, "type": 1}), 401)

    def test_a_dm_with_a_chirp_user_is_a_chirp_dm(self, legacy: Live) -> None:
        alice = new_account(legacy)
        chirp_user = legacy.register()
        channel = open_channel(legacy, alice, chirp_user.id)
        listed = legacy.data(legacy.get("/api/users/me/channels", chirp_user))
        assert [(c["id"], c["type"]) for c in listed] == [(channel, 1)]
        assert [r["id"] for r in listed[0]["recipients"]] == [alice.id]


class TestUsers:
    def test_comma_separated_and_repeated(self, legacy: Live) -> None:
        alice, bob, carol = new_account(legacy), new_account(legacy), new_account(legacy)
        query = f"users={alice.id},{bob.id}&users={carol.id}&users=999999999999999999"
        response = legacy.get(f"/users?{query}", headers=alice.headers)
        assert response.status_code == 200
        found = response.json()["users"]
        assert sorted(found, key=lambda u: u["username"]) == sorted(
            ({"avatarURL": "", "id": a.id, "username": a.username} for a in (alice, bob, carol)),
            key=lambda u: u["username"],
        )

    def test_any_user_by_id(self, legacy: Live) -> None:
        alice = new_account(legacy)
        chirp_user = legacy.register()
        response = legacy.get("/users", headers=alice.headers, params={"users": chirp_user.id})
        assert response.json()["users"] == [
            {"avatarURL": "", "id": chirp_user.id, "username": chirp_user.username}
        ]

    def test_none_found_is_404_with_an_empty_list(self, legacy: Live) -> None:
        alice = new_account(legacy)
        response = legacy.get(
            "/users", headers=alice.headers, params={"users": "999999999999999999,x"}
        )
        assert response.status_code == 404 and response.json() == {"users": []}

    def test_no_users_or_no_token_is_400_null(self, legacy: Live) -> None:
        alice = new_account(legacy)
        null(legacy.get("/users", headers=alice.headers), 400)
        null(legacy.get("/users?users=", headers=alice.headers), 400)
        null(legacy.get("/users?users=,,", headers=alice.headers), 400)
        null(legacy.get("/users", params={"users": alice.id}), 400)

    def test_bad_token_is_401_null(self, legacy: Live) -> None:
        null(legacy.get("/users", headers={"Authorisation": "x"}, params={"users": "1"}), 401)

    def test_an_unexpected_failure_is_500_null(
        self, legacy: Live, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        alice = new_account(legacy)

        async def broken(*_: object) -> None:
            raise RuntimeError("the database is on fire")

        # The server runs in this process: break the service it calls.
        monkeypatch.setattr(routes.users_service, "get_many", broken)
        # Its own connection: after an unhandled error the server closes the one it used.
        with httpx.Client(base_url=legacy.url) as http:
            null(http.get("/users", headers=alice.headers, params={"users": alice.id}), 500)


class TestMessages:
    def test_the_last_50_oldest_first_with_authors(self, legacy: Live) -> None:
        alice, bob = new_account(legacy), new_account(legacy)
        chirp_user = legacy.register()
        channel = open_channel(legacy, alice, bob.id)
        response = legacy.get("/messages", headers=alice.headers, params={"channel_id": channel})
        assert response.status_code == 200
        assert response.json() == {
            "messages": [],
            "channel": {"name": bob.username, "id": channel},
            "other_user": bob.id,
        }
        # Messages reach the store through Chirp REST here; Socket.IO has its own tests.
        with_chirp = open_channel(legacy, alice, chirp_user.id)
        sent = [
            legacy.data(
                legacy.post(
                    f"/api/channels/{with_chirp}/messages", chirp_user, json={"content": f"m{i}"}
                ),
                201,
            )
            for i in range(52)
        ]
        shown = messages(legacy, alice, with_chirp)
        assert [m["content"] for m in shown] == [f"m{i}" for i in range(2, 52)]
        assert shown[-1] == {
            "content": "m51",
            "author": {"avatarURL": "", "username": chirp_user.username, "id": chirp_user.id},
            "id": sent[-1]["id"],
            "channel_id": with_chirp,
        }

    @pytest.mark.parametrize("value", ["null", "undefined"])
    def test_no_channel_opens_the_welcome_channel(self, legacy: Live, value: str) -> None:
        alice = new_account(legacy)
        response = legacy.get("/messages", headers=alice.headers, params={"channel_id": value})
        assert response.status_code == 201
        body = response.json()
        [greeting] = body["messages"]
        welcome = greeting["author"]
        assert greeting["id"] == "0" and greeting["channel_id"] == body["channel"]["id"]
        assert f"Welcome {alice.username}!!!" in greeting["content"]
        assert (
            body["channel"]["name"] == welcome["username"] and body["other_user"] == welcome["id"]
        )
        # It is a real DM: the same one each time, listed at login, readable by ID.
        again = legacy.get("/messages", headers=alice.headers, params={"channel_id": value})
        assert again.status_code == 201 and again.json()["channel"] == body["channel"]
        login = legacy.post("/new", json={"accountID": alice.id, "username": alice.username})
        assert login.json()["dms"] == [body["channel"]["id"]]
        by_id = messages(legacy, alice, body["channel"]["id"])
        assert by_id == body["messages"]
        found = legacy.get(
            "/dmchannels", headers=alice.headers, params={"channels": body["channel"]["id"]}
        )
        assert found.json()["dmchannels"][0]["user"] == welcome

    def test_no_token_or_no_channel_is_400_null(self, legacy: Live) -> None:
        alice = new_account(legacy)
        null(legacy.get("/messages", params={"channel_id": "null"}), 400)
        null(legacy.get("/messages", headers=alice.headers), 400)

    def test_bad_token_is_401_null(self, legacy: Live) -> None:
        null(
            legacy.get("/messages", headers={"Authorisation": "x"}, params={"channel_id": "null"}),
            401,
        )

    def test_a_channel_of_others_is_404_null(self, legacy: Live) -> None:
        alice, bob, carol = new_account(legacy), new_account(legacy), new_account(legacy)
        theirs = open_channel(legacy, bob, carol.id)
        for channel in (theirs, "999999999999999999", "abc"):
            null(
                legacy.get("/messages", headers=alice.headers, params={"channel_id": channel}), 404
            )


class TestDmChannels:
    def test_the_callers_dms_with_the_other_user(self, legacy: Live) -> None:
        alice, bob, carol = new_account(legacy), new_account(legacy), new_account(legacy)
        with_bob = open_channel(legacy, alice, bob.id)
        with_carol = open_channel(legacy, carol, alice.id)
        not_hers = open_channel(legacy, bob, carol.id)
        query = f"channels={with_bob},{with_carol}&channels={not_hers}"
        response = legacy.get(f"/dmchannels?{query}", headers=alice.headers)
        assert response.status_code == 200
        found = sorted(response.json()["dmchannels"], key=lambda c: c["channel_id"])
        assert found == sorted(
            [
                {
                    "channel_id": with_bob,
                    "user": {"avatarURL": "", "id": bob.id, "username": bob.username},
                },
                {
                    "channel_id": with_carol,
                    "user": {"avatarURL": "", "id": carol.id, "username": carol.username},
                },
            ],
            key=lambda c: c["channel_id"],
        )

    def test_none_found_is_404_with_an_empty_list(self, legacy: Live) -> None:
        alice, bob, carol = new_account(legacy), new_account(legacy), new_account(legacy)
        theirs = open_channel(legacy, bob, carol.id)
        response = legacy.get("/dmchannels", headers=alice.headers, params={"channels": theirs})
        assert response.status_code == 404 and response.json() == {"dmchannels": []}

    def test_no_channels_or_no_token_is_400_null(self, legacy: Live) -> None:
        alice = new_account(legacy)
        null(legacy.get("/dmchannels", headers=alice.headers), 400)
        null(legacy.get("/dmchannels", params={"channels": "1"}), 400)

    def test_bad_token_is_401_null(self, legacy: Live) -> None:
        null(
            legacy.get("/dmchannels", headers={"Authorisation": "x"}, params={"channels": "1"}), 401
        )


class TestBesideTheOtherSurfaces:
    def test_openapi_and_health_still_serve(self, legacy: Live) -> None:
        document = legacy.get("/openapi.json").json()
        assert not any(path in document["paths"] for path in ("/new", "/users", "/messages"))
        assert legacy.get("/health").json() == {"status": "ok"}

    def test_chirp_errors_keep_their_own_body(self, legacy: Live) -> None:
        response = legacy.get("/api/users/me")
        assert response.status_code == 401 and response.json()["success"] is False
        response = legacy.get("/nowhere")
        assert response.status_code == 404 and response.json()["success"] is False


def test_render_error_is_status_and_null() -> None:
    response = render_error(GossipError())
    assert response.status_code == 500 and response.body == b"null"
