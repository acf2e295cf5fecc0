"""Tests for gossip.kit.permissions (Discord-compatible permission resolution)."""

from __future__ import annotations

import pytest

from gossip.kit.permissions import (
    ALL_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    MANAGE_SERVER,
    OVERWRITE_MEMBER,
    OVERWRITE_ROLE,
    READ_MESSAGES,
    Overwrite,
    Permission,
    base_permissions,
    channel_permissions,
    has,
    parse_permissions,
    to_wire,
)

P = Permission

GUILD_ID = 100  # the @everyone role shares the guild's id, as in Discord
ROLE_A = 201
ROLE_B = 202
ROLE_OTHER = 203
MEMBER = 300
OTHER_MEMBER = 301

VIEW = int(P.VIEW_CHANNEL)
SEND = int(P.SEND_MESSAGES)
VIEW_SEND = VIEW | SEND


def role_ow(target: int, allow: int = 0, deny: int = 0) -> Overwrite:
    return Overwrite(target_id=target, type=OVERWRITE_ROLE, allow=int(allow), deny=int(deny))


def member_ow(target: int, allow: int = 0, deny: int = 0) -> Overwrite:
    return Overwrite(target_id=target, type=OVERWRITE_MEMBER, allow=int(allow), deny=int(deny))


def chan(base: int, overwrites: list[Overwrite], roles: tuple[int, ...] = (ROLE_A,)) -> int:
    return channel_permissions(
        base,
        everyone_id=GUILD_ID,
        member_id=MEMBER,
        member_role_ids=set(roles),
        overwrites=overwrites,
    )


class TestPermissionEnum:
    @pytest.mark.parametrize(
        ("name", "bit"),
        [
            ("CREATE_INSTANT_INVITE", 0),
            ("ADMINISTRATOR", 3),
            ("MANAGE_GUILD", 5),
            ("VIEW_CHANNEL", 10),
            ("SEND_MESSAGES", 11),
            ("MANAGE_GUILD_EXPRESSIONS", 30),
            ("USE_APPLICATION_COMMANDS", 31),
            ("REQUEST_TO_SPEAK", 32),
            ("MODERATE_MEMBERS", 40),
            ("SEND_VOICE_MESSAGES", 46),
            ("SEND_POLLS", 49),
            ("USE_EXTERNAL_APPS", 50),
        ],
    )
    def test_bit_positions(self, name: str, bit: int) -> None:
        assert Permission[name].value == 1 << bit

    def test_member_count_and_bit_set(self) -> None:
        bits = sorted(p.value.bit_length() - 1 for p in Permission)
        assert bits == [*range(47), 49, 50]
        assert len(Permission.__members__) == 49  # no alias members

    def test_old_names_are_not_members(self) -> None:
        assert "READ_MESSAGES" not in Permission.__members__
        assert "MANAGE_SERVER" not in Permission.__members__


class TestAliases:
    def test_read_messages_is_view_channel(self) -> None:
        assert READ_MESSAGES is Permission.VIEW_CHANNEL
        assert int(READ_MESSAGES) == 1024

    def test_manage_server_is_manage_guild(self) -> None:
        assert MANAGE_SERVER is Permission.MANAGE_GUILD
        assert int(MANAGE_SERVER) == 32


class TestAllPermissions:
    def test_value(self) -> None:
        assert ALL_PERMISSIONS == (1 << 47) - 1 | (1 << 49) | (1 << 50)
        assert ALL_PERMISSIONS == 1829587348619263
        assert type(ALL_PERMISSIONS) is int

    def test_excludes_undocumented_bits(self) -> None:
        assert not ALL_PERMISSIONS & (1 << 47)
        assert not ALL_PERMISSIONS & (1 << 48)
        assert not ALL_PERMISSIONS & (1 << 51)


class TestDefaultEveryone:
    def test_exact_bits(self) -> None:
        expected = (
            P.CREATE_INSTANT_INVITE
            | P.ADD_REACTIONS
            | P.STREAM
            | P.VIEW_CHANNEL
            | P.SEND_MESSAGES
            | P.SEND_TTS_MESSAGES
            | P.EMBED_LINKS
            | P.ATTACH_FILES
            | P.READ_MESSAGE_HISTORY
            | P.MENTION_EVERYONE
            | P.USE_EXTERNAL_EMOJIS
            | P.CONNECT
            | P.SPEAK
            | P.USE_VAD
            | P.CHANGE_NICKNAME
        )
        assert DEFAULT_EVERYONE_PERMISSIONS == 104324673
        assert int(expected) == DEFAULT_EVERYONE_PERMISSIONS

    def test_no_moderation_bits(self) -> None:
        for p in (P.ADMINISTRATOR, P.MANAGE_GUILD, P.KICK_MEMBERS, P.MANAGE_MESSAGES):
            assert not DEFAULT_EVERYONE_PERMISSIONS & p


class TestParsePermissions:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("0", 0),
            ("104324673", 104324673),
            ("1024", 1024),
            ("0001024", 1024),
            (str(ALL_PERMISSIONS), ALL_PERMISSIONS),
            (0, 0),
            (2048, 2048),
            (ALL_PERMISSIONS, ALL_PERMISSIONS),
            (Permission.VIEW_CHANNEL, 1024),
        ],
    )
    def test_accepts(self, value: object, expected: int) -> None:
        result = parse_permissions(value)
        assert result == expected
        assert type(result) is int

    @pytest.mark.parametrize(
        "value",
        [
            True,
            False,
            -1,
            "-1",
            "",
            " 1",
            "1 ",
            "+1",
            "0x10",
            "1.0",
            "1e3",
            "abc",
            "1_000",
            "\u00b2",  # superscript two: isdigit() is True for it
            "\u0661",  # Arabic-Indic one
            "0" * 21,
            "1" * 21,
            1.0,
            None,
            b"1",
            [1],
            1 << 47,
            1 << 48,
            1 << 51,
            str(1 << 51),
            ALL_PERMISSIONS | (1 << 60),
        ],
    )
    def test_rejects(self, value: object) -> None:
        with pytest.raises(ValueError):
            parse_permissions(value)

    def test_twenty_chars_allowed(self) -> None:
        assert parse_permissions("0" * 19 + "8") == 8

    def test_messages_are_clear(self) -> None:
        with pytest.raises(ValueError, match="boolean"):
            parse_permissions(True)
        with pytest.raises(ValueError, match="negative"):
            parse_permissions(-5)
        with pytest.raises(ValueError, match="digits"):
            parse_permissions("12a")
        with pytest.raises(ValueError, match="at most 20"):
            parse_permissions("1" * 21)
        with pytest.raises(ValueError, match=f"unknown bits: {1 << 48}"):
            parse_permissions(str((1 << 48) | 1024))


class TestBasePermissions:
    def test_owner_gets_everything(self) -> None:
        assert base_permissions(is_owner=True, everyone=0, role_permissions=[]) == ALL_PERMISSIONS

    def test_everyone_only(self) -> None:
        result = base_permissions(
            is_owner=False, everyone=DEFAULT_EVERYONE_PERMISSIONS, role_permissions=[]
        )
        assert result == DEFAULT_EVERYONE_PERMISSIONS

    def test_roles_are_ored(self) -> None:
        result = base_permissions(
            is_owner=False,
            everyone=VIEW,
            role_permissions=[int(P.KICK_MEMBERS), int(P.BAN_MEMBERS | P.KICK_MEMBERS)],
        )
        assert result == VIEW | int(P.KICK_MEMBERS) | int(P.BAN_MEMBERS)

    def test_roles_accept_generator(self) -> None:
        result = base_permissions(is_owner=False, everyone=0, role_permissions=(x for x in [1, 2]))
        assert result == 3

    def test_administrator_role_gets_everything(self) -> None:
        result = base_permissions(
            is_owner=False, everyone=VIEW, role_permissions=[int(P.ADMINISTRATOR)]
        )
        assert result == ALL_PERMISSIONS

    def test_administrator_on_everyone_gets_everything(self) -> None:
        result = base_permissions(
            is_owner=False, everyone=int(P.ADMINISTRATOR), role_permissions=[]
        )
        assert result == ALL_PERMISSIONS

    def test_returns_plain_int(self) -> None:
        result = base_permissions(is_owner=False, everyone=P.VIEW_CHANNEL, role_permissions=[])
        assert type(result) is int
        assert result == 1024


class TestChannelPermissions:
    def test_no_overwrites_returns_base(self) -> None:
        assert chan(DEFAULT_EVERYONE_PERMISSIONS, []) == DEFAULT_EVERYONE_PERMISSIONS

    def test_administrator_bypasses_overwrites(self) -> None:
        overwrites = [
            role_ow(GUILD_ID, deny=ALL_PERMISSIONS),
            member_ow(MEMBER, deny=ALL_PERMISSIONS),
        ]
        assert chan(int(P.ADMINISTRATOR), overwrites) == ALL_PERMISSIONS

    def test_everyone_deny(self) -> None:
        assert chan(VIEW_SEND, [role_ow(GUILD_ID, deny=SEND)]) == VIEW

    def test_everyone_allow_beats_everyone_deny(self) -> None:
        ow = role_ow(GUILD_ID, allow=SEND, deny=SEND)
        assert chan(VIEW, [ow]) == VIEW_SEND

    def test_everyone_deny_overridden_by_role_allow(self) -> None:
        overwrites = [role_ow(GUILD_ID, deny=SEND), role_ow(ROLE_A, allow=SEND)]
        assert chan(VIEW_SEND, overwrites) == VIEW_SEND

    def test_everyone_allow_overridden_by_role_deny(self) -> None:
        overwrites = [role_ow(GUILD_ID, allow=SEND), role_ow(ROLE_A, deny=SEND)]
        assert chan(VIEW, overwrites) == VIEW

    def test_role_allow_overridden_by_member_deny(self) -> None:
        overwrites = [role_ow(ROLE_A, allow=SEND), member_ow(MEMBER, deny=SEND)]
        assert chan(VIEW, overwrites) == VIEW

    def test_role_deny_overridden_by_member_allow(self) -> None:
        overwrites = [role_ow(ROLE_A, deny=SEND), member_ow(MEMBER, allow=SEND)]
        assert chan(VIEW_SEND, overwrites) == VIEW_SEND

    def test_member_allow_beats_member_deny(self) -> None:
        ow = member_ow(MEMBER, allow=SEND, deny=SEND)
        assert chan(VIEW, [ow]) == VIEW_SEND

    def test_any_role_allow_beats_any_role_deny(self) -> None:
        # Discord combines all role overwrites; order of roles is irrelevant.
        overwrites = [role_ow(ROLE_A, deny=SEND), role_ow(ROLE_B, allow=SEND)]
        assert chan(VIEW_SEND, overwrites, roles=(ROLE_A, ROLE_B)) == VIEW_SEND
        assert chan(VIEW_SEND, overwrites[::-1], roles=(ROLE_A, ROLE_B)) == VIEW_SEND

    def test_role_deny_applies_to_base_role_grant(self) -> None:
        overwrites = [role_ow(ROLE_A, deny=int(P.ADD_REACTIONS))]
        assert chan(VIEW | int(P.ADD_REACTIONS), overwrites) == VIEW

    def test_unrelated_role_and_member_overwrites_ignored(self) -> None:
        overwrites = [
            role_ow(ROLE_OTHER, deny=VIEW_SEND),
            member_ow(OTHER_MEMBER, deny=VIEW_SEND),
        ]
        assert chan(VIEW_SEND, overwrites) == VIEW_SEND

    def test_overwrite_type_must_match(self) -> None:
        # A member overwrite whose id happens to equal a role id is not a role overwrite,
        # and vice versa.
        overwrites = [member_ow(ROLE_A, deny=SEND), role_ow(MEMBER, deny=SEND)]
        assert chan(VIEW_SEND, overwrites) == VIEW_SEND

    def test_everyone_not_double_applied_as_role(self) -> None:
        # If the caller lists @everyone among the member's roles, its allow must not
        # be folded into the role stage, where it would beat ROLE_A's deny.
        overwrites = [role_ow(GUILD_ID, allow=SEND), role_ow(ROLE_A, deny=SEND)]
        assert chan(VIEW, overwrites, roles=(GUILD_ID, ROLE_A)) == VIEW

    def test_implicit_no_view_means_nothing(self) -> None:
        base = DEFAULT_EVERYONE_PERMISSIONS | int(P.MANAGE_MESSAGES)
        assert chan(base, [role_ow(GUILD_ID, deny=VIEW)]) == 0

    def test_implicit_no_view_even_with_explicit_allows(self) -> None:
        overwrites = [member_ow(MEMBER, allow=SEND | int(P.ATTACH_FILES), deny=VIEW)]
        assert chan(DEFAULT_EVERYONE_PERMISSIONS, overwrites) == 0

    def test_implicit_no_send_strips_send_features(self) -> None:
        dependent = P.SEND_TTS_MESSAGES | P.MENTION_EVERYONE | P.EMBED_LINKS | P.ATTACH_FILES
        base = VIEW_SEND | int(dependent) | int(P.ADD_REACTIONS)
        result = chan(base, [role_ow(ROLE_A, allow=int(dependent), deny=SEND)])
        assert result == VIEW | int(P.ADD_REACTIONS)

    def test_implicit_no_send_keeps_unrelated_bits(self) -> None:
        result = chan(DEFAULT_EVERYONE_PERMISSIONS, [role_ow(GUILD_ID, deny=SEND)])
        expected = DEFAULT_EVERYONE_PERMISSIONS & ~int(
            P.SEND_MESSAGES
            | P.SEND_TTS_MESSAGES
            | P.MENTION_EVERYONE
            | P.EMBED_LINKS
            | P.ATTACH_FILES
        )
        assert result == expected
        assert result & P.READ_MESSAGE_HISTORY
        assert result & P.CONNECT

    def test_accepts_generator_of_overwrites(self) -> None:
        result = channel_permissions(
            VIEW_SEND,
            everyone_id=GUILD_ID,
            member_id=MEMBER,
            member_role_ids=[],
            overwrites=(o for o in [role_ow(GUILD_ID, deny=SEND)]),
        )
        assert result == VIEW


class TestHas:
    def test_all_bits_present(self) -> None:
        assert has(VIEW_SEND, VIEW) is True
        assert has(VIEW_SEND, VIEW_SEND) is True

    def test_some_bits_missing(self) -> None:
        assert has(VIEW, VIEW_SEND) is False
        assert has(0, VIEW) is False

    def test_nothing_needed(self) -> None:
        assert has(0, 0) is True

    def test_accepts_enum_members(self) -> None:
        assert has(DEFAULT_EVERYONE_PERMISSIONS, READ_MESSAGES) is True
        assert has(DEFAULT_EVERYONE_PERMISSIONS, MANAGE_SERVER) is False


class TestToWire:
    def test_decimal_string(self) -> None:
        assert to_wire(0) == "0"
        assert to_wire(DEFAULT_EVERYONE_PERMISSIONS) == "104324673"
        assert to_wire(ALL_PERMISSIONS) == "1829587348619263"

    def test_enum_member_is_numeric(self) -> None:
        assert to_wire(Permission.VIEW_CHANNEL) == "1024"
        assert to_wire(Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES) == "3072"

    def test_round_trip(self) -> None:
        assert parse_permissions(to_wire(ALL_PERMISSIONS)) == ALL_PERMISSIONS


class TestOverwrite:
    def test_type_constants(self) -> None:
        assert OVERWRITE_ROLE == 0
        assert OVERWRITE_MEMBER == 1

    def test_frozen(self) -> None:
        ow = role_ow(ROLE_A, allow=VIEW)
        with pytest.raises(AttributeError):
            ow.allow = 0  # type: ignore[misc]
        assert ow == Overwrite(target_id=ROLE_A, type=0, allow=VIEW, deny=0)
