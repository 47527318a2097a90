"""``servicelens keys create|list|revoke``: names, roles and hash prefixes; never a key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from servicelens.apikeys import hash_key, load_keys
from tests.cli._errors import error_line, invoke


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    """A key file with three keys made through the CLI; returns it and ``{name: key}``."""
    path = tmp_path / "keys.yaml"
    monkeypatch.setenv("SERVICELENS_API_KEYS_FILE", str(path))
    keys = {}
    for name, role in (("wfm-team", "planner"), ("nightly", "pipeline"), ("audit-board", "governance")):
        res = invoke("keys", "create", "--role", role, "--name", name)
        assert res.exit_code == 0, res.output
        keys[name] = res.output.strip().splitlines()[-1]
    return path, keys


def test_list_shows_names_roles_and_hash_prefixes_never_a_key(key_file) -> None:
    path, keys = key_file
    res = invoke("keys", "list")
    assert res.exit_code == 0, res.output
    for name, key in keys.items():
        assert key not in res.output and hash_key(key) not in res.output  # no key, no full hash
        line = next(ln for ln in res.output.splitlines() if name in ln)
        assert line.startswith(hash_key(key)[:12])
    assert "planner" in res.output and "governance" in res.output
    rows = json.loads(invoke("keys", "list", "--json").output.strip().splitlines()[-1])
    assert [r["name"] for r in rows] == list(keys) and rows[0]["roles"] == ["planner"]


def test_revoke_by_name_and_by_hash_prefix(key_file) -> None:
    path, keys = key_file
    res = invoke("keys", "revoke", "nightly")
    assert res.exit_code == 0 and "revoked" in res.output, res.output
    assert set(load_keys(path)) == {hash_key(keys["wfm-team"]), hash_key(keys["audit-board"])}
    res = invoke("keys", "revoke", hash_key(keys["wfm-team"])[:10])
    assert res.exit_code == 0, res.output
    assert set(load_keys(path)) == {hash_key(keys["audit-board"])}
    assert "wfm-team" not in invoke("keys", "list").output


def test_revoke_refuses_no_match_and_an_ambiguous_prefix(key_file) -> None:
    path, keys = key_file
    before = path.read_text()
    error_line(invoke("keys", "revoke", "nobody"), "NAME_OR_HASH_PREFIX", "'nobody'", "no key")
    hashes = [hash_key(k) for k in keys.values()]
    shared = hashes[0][:6]  # make two entries share a hash prefix
    before = path.read_text().replace(hashes[1], shared + hashes[1][6:])
    path.write_text(before)
    error_line(invoke("keys", "revoke", shared), "NAME_OR_HASH_PREFIX", repr(shared), "matches 2 keys")
    assert path.read_text() == before  # nothing removed


def test_keys_without_a_file_is_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SERVICELENS_API_KEYS_FILE", raising=False)
    monkeypatch.setenv("SERVICELENS_HOME", str(tmp_path))
    error_line(invoke("keys", "list"), "--file", "SERVICELENS_API_KEYS_FILE")
