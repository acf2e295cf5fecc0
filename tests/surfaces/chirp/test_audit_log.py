"""The audit log: an entry for each audited action (one table, every action), and the
per-server route with its filters and its VIEW_AUDIT_LOG rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from gossip.audit.service import ACTIONS
from gossip.kit.permissions import Permission
from tests.live import Live, error_code
from tests.surfaces.chirp.chat import Room, channel, grant_role, room, send, set_overwrite


def entries(live: Live, r: Room, query: str = "") -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = live.data(
        live.get(f"/api/servers/{r.server_id}/audit-log{query}", r.owner)
    )
    return data


@dataclass
class Done:
    """What an action should have recorded: its target and a subset of its options."""

    target: str | None
    options: dict[str, Any]
    reason: str | None = None


def _server_update(live: Live, r: Room) -> Done:
    live.data(live.patch(f"/api/servers/{r.server_id}", r.owner, json={"description": "d"}))
    return Done(r.server_id, {"changes": {"description": "d"}})


def _channel_create(live: Live, r: Room) -> Done:
    made = channel(live, r.owner, r.server_id, name="made")
    return Done(made["id"], {"name": "made", "type": 0})


def _channel_update(live: Live, r: Room) -> Done:
    live.data(live.patch(f"/api/channels/{r.channel_id}", r.owner, json={"topic": "new"}))
    return Done(r.channel_id, {"changes": {"topic": "new"}})


def _channel_delete(live: Live, r: Room) -> Done:
    doomed = channel(live, r.owner, r.server_id, name="doomed")
    live.data(live.delete(f"/api/channels/{doomed['id']}", r.owner))
    return Done(doomed["id"], {"name": "doomed"})


def _overwrite_create(live: Live, r: Room) -> Done:
    set_overwrite(live, r.owner, r.channel_id, r.member.id, kind=1, deny=2048)
    return Done(r.channel_id, {"id": r.member.id, "type": 1, "allow": "0", "deny": "2048"})


def _overwrite_update(live: Live, r: Room) -> Done:
    set_overwrite(live, r.owner, r.channel_id, r.member.id, kind=1, deny=2048)
    set_overwrite(live, r.owner, r.channel_id, r.member.id, kind=1, deny=64)
    return Done(r.channel_id, {"id": r.member.id, "deny": "64"})


def _overwrite_delete(live: Live, r: Room) -> Done:
    set_overwrite(live, r.owner, r.channel_id, r.member.id, kind=1, deny=2048)
    live.data(live.delete(f"/api/channels/{r.channel_id}/permissions/{r.member.id}", r.owner))
    return Done(r.channel_id, {"id": r.member.id})


def _kick(live: Live, r: Room) -> Done:
    # A route without a reason field takes Discord's header (URL-encoded).
    path = f"/api/servers/{r.server_id}/members/{r.member.id}"
    live.data(live.delete(path, r.owner, headers={"X-Audit-Log-Reason": "spam%20%E2%9C%8B"}))
    return Done(r.member.id, {}, reason="spam ✋")


def _ban(live: Live, r: Room) -> Done:
    path = f"/api/servers/{r.server_id}/bans/{r.member.id}"
    body = {"reason": "Spam in general channel", "deleteMessageDays": 1}
    live.data(live.put(path, r.owner, json=body), 201)
    return Done(r.member.id, {"deleteMessageDays": 1}, reason="Spam in general channel")


def _unban(live: Live, r: Room) -> Done:
    path = f"/api/servers/{r.server_id}/bans/{r.member.id}"
    live.data(live.put(path, r.owner, json={}), 201)
    live.data(live.delete(path, r.owner))
    return Done(r.member.id, {})


def _nickname(live: Live, r: Room) -> Done:
    path = f"/api/servers/{r.server_id}/members/{r.member.id}"
    live.data(live.patch(path, r.owner, json={"nickname": "Shorty"}))
    return Done(r.member.id, {"nick": "Shorty"})


def _role_add(live: Live, r: Room) -> Done:
    role = live.create_role(r.owner, r.server_id, name="mods")
    live.give_role(r.owner, r.server_id, r.member.id, role["id"])
    return Done(r.member.id, {"$add": [{"id": role["id"], "name": "mods"}]})


def _role_remove(live: Live, r: Room) -> Done:
    role = live.create_role(r.owner, r.server_id, name="mods")
    live.give_role(r.owner, r.server_id, r.member.id, role["id"])
    path = f"/api/servers/{r.server_id}/members/{r.member.id}/roles/{role['id']}"
    live.data(live.delete(path, r.owner))
    return Done(r.member.id, {"$remove": [{"id": role["id"], "name": "mods"}]})


def _role_create(live: Live, r: Room) -> Done:
    role = live.create_role(r.owner, r.server_id, name="helpers", permissions="8192")
    return Done(role["id"], {"name": "helpers", "permissions": "8192"})


def _role_update(live: Live, r: Room) -> Done:
    role = live.create_role(r.owner, r.server_id, name="helpers")
    path = f"/api/servers/{r.server_id}/roles/{role['id']}"
    live.data(live.patch(path, r.owner, json={"color": 255, "permissions": "2048"}))
    return Done(role["id"], {"changes": {"color": 255, "permissions": "2048"}})


def _role_delete(live: Live, r: Room) -> Done:
    role = live.create_role(r.owner, r.server_id, name="doomed")
    live.data(live.delete(f"/api/servers/{r.server_id}/roles/{role['id']}", r.owner))
    return Done(role["id"], {"name": "doomed"})


def _invite_create(live: Live, r: Room) -> Done:
    invite = live.post(f"/api/servers/{r.server_id}/invites", r.owner, json={"maxUses": 3})
    return Done(None, {"code": live.data(invite, 201)["code"], "maxUses": 3})


def _invite_delete(live: Live, r: Room) -> Done:
    invite = live.post(f"/api/servers/{r.server_id}/invites", r.owner, json={})
    code = live.data(invite, 201)["code"]
    live.data(live.delete(f"/api/invites/{code}", r.owner))
    return Done(None, {"code": code})


def _webhook_create(live: Live, r: Room) -> Done:
    path = f"/api/channels/{r.channel_id}/webhooks"
    hook = live.data(live.post(path, r.owner, json={"name": "Deploys"}), 201)
    return Done(hook["id"], {"name": "Deploys", "channelId": r.channel_id})


def _webhook_update(live: Live, r: Room) -> Done:
    path = f"/api/channels/{r.channel_id}/webhooks"
    hook = live.data(live.post(path, r.owner, json={"name": "Deploys"}), 201)
    live.data(live.patch(f"/api/webhooks/{hook['id']}", r.owner, json={"name": "Builds"}))
    return Done(hook["id"], {"changes": {"name": "Builds"}})


def _webhook_delete(live: Live, r: Room) -> Done:
    path = f"/api/channels/{r.channel_id}/webhooks"
    hook = live.data(live.post(path, r.owner, json={"name": "Deploys"}), 201)
    live.data(live.delete(f"/api/webhooks/{hook['id']}", r.owner))
    return Done(hook["id"], {"name": "Deploys"})


def _message_delete(live: Live, r: Room) -> Done:
    message = send(live, r.member, r.channel_id, "rude")
    live.data(live.delete(f"/api/channels/{r.channel_id}/messages/{message['id']}", r.owner))
    return Done(r.member.id, {"channelId": r.channel_id, "messageId": message["id"]})


def _bulk_delete(live: Live, r: Room) -> Done:
    for text in ("one", "two", "three"):
        send(live, r.member, r.channel_id, text)
    path = f"/api/servers/{r.server_id}/bans/{r.member.id}"
    live.data(live.put(path, r.owner, json={"deleteMessageDays": 1}), 201)
    return Done(r.channel_id, {"count": 3, "userId": r.member.id})


CASES: dict[str, Callable[[Live, Room], Done]] = {
    "GUILD_UPDATE": _server_update,
    "CHANNEL_CREATE": _channel_create,
    "CHANNEL_UPDATE": _channel_update,
    "CHANNEL_DELETE": _channel_delete,
    "CHANNEL_OVERWRITE_CREATE": _overwrite_create,
    "CHANNEL_OVERWRITE_UPDATE": _overwrite_update,
    "CHANNEL_OVERWRITE_DELETE": _overwrite_delete,
    "MEMBER_KICK": _kick,
    "MEMBER_BAN_ADD": _ban,
    "MEMBER_BAN_REMOVE": _unban,
    "MEMBER_UPDATE": _nickname,
    "MEMBER_ROLE_UPDATE": _role_add,
    "MEMBER_ROLE_UPDATE (remove)": _role_remove,
    "ROLE_CREATE": _role_create,
    "ROLE_UPDATE": _role_update,
    "ROLE_DELETE": _role_delete,
    "INVITE_CREATE": _invite_create,
    "INVITE_DELETE": _invite_delete,
    "WEBHOOK_CREATE": _webhook_create,
    "WEBHOOK_UPDATE": _webhook_update,
    "WEBHOOK_DELETE": _webhook_delete,
    "MESSAGE_DELETE": _message_delete,
    "MESSAGE_BULK_DELETE": _bulk_delete,
}
# Recorded by the admin routes, tested in test_admin.py.
PLATFORM_ACTIONS = {"USER_DISABLE", "USER_ENABLE"}


def test_every_action_has_a_case() -> None:
    covered = {name.split(" ")[0] for name in CASES} | PLATFORM_ACTIONS
    assert covered == ACTIONS


def _subset(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    return all(actual.get(key) == value for key, value in expected.items())


class TestEachAuditedAction:
    @pytest.mark.parametrize("case", list(CASES))
    def test_records_an_entry(self, live: Live, case: str) -> None:
        action = case.split(" ")[0]
        r = room(live)
        done = CASES[case](live, r)
        found = entries(live, r, f"?action={action}")
        assert found, f"no {action} entry"
        entry = found[0]  # the newest
        assert entry["action"] == action
        assert entry["userId"] == r.owner.id
        assert entry["targetId"] == done.target
        assert entry["serverId"] == r.server_id
        assert entry["reason"] == done.reason
        assert _subset(done.options, entry["options"]), entry["options"]
        assert entry["id"].isdigit() and entry["createdAt"].endswith("Z")


class TestNotAudited:
    def test_refused_actions_and_own_deletions_leave_no_entry(self, live: Live) -> None:
        r = room(live)
        before = entries(live, r)  # the invite the member joined with
        assert [e["action"] for e in before] == ["INVITE_CREATE"]
        path = f"/api/servers/{r.server_id}/members/{r.owner.id}"
        assert live.delete(path, r.member).status_code == 403  # a refused kick
        mine = send(live, r.member, r.channel_id, "mine")
        live.data(live.delete(f"/api/channels/{r.channel_id}/messages/{mine['id']}", r.member))
        bad = live.patch(f"/api/channels/{r.channel_id}", r.owner, json={"parentId": "12"})
        assert bad.status_code == 400  # rolled back: no entry either
        assert entries(live, r) == before


class TestServerAuditLog:
    def test_needs_view_audit_log(self, live: Live) -> None:
        r = room(live)
        path = f"/api/servers/{r.server_id}/audit-log"
        refused = live.get(path, r.member)
        assert refused.status_code == 403 and "VIEW_AUDIT_LOG" in refused.text
        assert live.get(path, live.register()).status_code == 404
        assert live.get(path).status_code == 401
        grant_role(live, r, r.member, Permission.VIEW_AUDIT_LOG)
        assert [e["action"] for e in live.data(live.get(path, r.member))] == [
            "MEMBER_ROLE_UPDATE",
            "ROLE_CREATE",
            "INVITE_CREATE",  # the member's way in
        ]

    def test_only_this_servers_entries(self, live: Live) -> None:
        r, other = room(live), room(live)
        channel(live, other.owner, other.server_id, name="elsewhere")
        channel(live, r.owner, r.server_id, name="here")
        assert [e["options"]["name"] for e in entries(live, r, "?action=CHANNEL_CREATE")] == [
            "here"
        ]

    def test_filters_and_paging(self, live: Live) -> None:
        r = room(live)
        grant_role(live, r, r.member, Permission.MANAGE_CHANNELS)
        made = [channel(live, r.owner, r.server_id, name=f"c{i}")["id"] for i in range(3)]
        theirs = channel(live, r.member, r.server_id, name="theirs")["id"]
        everything = entries(live, r)
        assert [e["targetId"] for e in everything[:4]] == [theirs, *reversed(made)]
        mine = entries(live, r, f"?userId={r.member.id}")
        assert [e["targetId"] for e in mine] == [theirs]
        creates = entries(live, r, "?action=CHANNEL_CREATE&limit=2")
        assert [e["targetId"] for e in creates] == [theirs, made[2]]
        older = entries(live, r, f"?action=CHANNEL_CREATE&before={creates[1]['id']}")
        assert [e["targetId"] for e in older] == [made[1], made[0]]

    def test_bad_filters(self, live: Live) -> None:
        r = room(live)
        for query in (
            "?action=NOT_AN_ACTION",
            "?action=lower",
            "?limit=0",
            "?limit=101",
            "?userId=abc",
            "?before=99999999999999999999",
            "?userId=9999999999999999999",
        ):
            response = live.get(f"/api/servers/{r.server_id}/audit-log{query}", r.owner)
            assert response.status_code == 400, query
            assert error_code(response) == "VALIDATION_ERROR"
