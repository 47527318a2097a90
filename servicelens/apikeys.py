"""API keys and roles: the one definition the services, the demo, the CLI and the tests share.

Only SHA-256 hashes of keys are stored (``SERVICELENS_API_KEYS_FILE``, YAML or JSON)::

    keys:
      - sha256: <hex digest of the key>
        roles: [planner]
        name: wfm-team        # optional, for people reading the file

A key is shown once, when it is created; nobody can read it back from the file.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import typer
import yaml

__all__ = [
    "ROLES",
    "hash_key",
    "load_keys",
    "create_key",
    "write_keys",
    "list_keys",
    "revoke_key",
    "keys_app",
]

#: Roles a key can carry; ``admin`` may call every route.
ROLES: tuple[str, ...] = ("planner", "pipeline", "governance", "admin")


def hash_key(key: str) -> str:
    """What the key file stores instead of the key."""
    return hashlib.sha256(key.encode()).hexdigest()


def load_keys(path: Path | None) -> dict[str, set[str]]:
    """``{sha256(key): roles}`` from a key file; an absent file grants nothing.

    Raises ValueError naming the file and entry when the file cannot be trusted (broken YAML,
    unknown role, entry without ``sha256``): a half-read key file must not grant access.
    """
    if path is None or not Path(path).exists():
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML/JSON ({exc.__class__.__name__})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys", []), list):
        raise ValueError(f"{path}: expected a mapping with a 'keys' list")
    out: dict[str, set[str]] = {}
    for i, entry in enumerate(data.get("keys", [])):
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise ValueError(f"{path}: keys[{i}] has no sha256")
        roles = set(entry.get("roles") or [])
        unknown = roles - set(ROLES)
        if unknown:
            raise ValueError(f"{path}: keys[{i}] has unknown roles {sorted(unknown)}")
        out[entry["sha256"]] = roles
    return out


def write_keys(path: Path, keys: dict[str, str]) -> None:
    """Write a fresh key file holding the hashes of ``{role: plain key}`` (one role per key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [{"sha256": hash_key(k), "roles": [role], "name": role} for role, k in keys.items()]
    path.write_text(yaml.safe_dump({"keys": entries}, sort_keys=False))


def create_key(path: Path, roles: list[str], name: str | None = None) -> str:
    """Append a new key with ``roles`` to the key file (created if absent); returns the plain key."""
    unknown = sorted(set(roles) - set(ROLES))
    if not roles or unknown:
        raise ValueError(f"roles must be among {list(ROLES)}, got {roles}")
    load_keys(path)  # refuse to append to a file that is already broken
    data = (yaml.safe_load(path.read_text()) if path.exists() else None) or {"keys": []}
    key = secrets.token_urlsafe(24)
    entry: dict[str, object] = {"sha256": hash_key(key), "roles": sorted(set(roles))}
    if name:
        entry["name"] = name
    data.setdefault("keys", []).append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return key


#: Hex digits of a hash shown by ``keys list``: enough to tell keys apart and to revoke one,
#: far too few to be of any use against the hash.
HASH_PREFIX = 12


def _entries(path: Path) -> tuple[dict, list[dict]]:
    """The parsed key file and its entries (checked by :func:`load_keys` first)."""
    load_keys(path)  # a broken file is refused, never rewritten
    data = (yaml.safe_load(path.read_text()) if path.exists() else None) or {"keys": []}
    return data, data.setdefault("keys", [])


def list_keys(path: Path) -> list[dict[str, object]]:
    """``[{name, roles, sha256_prefix}]`` per key in the file: what a person needs to pick one to
    revoke. Never a key (the file holds none) and never the full hash."""
    _, entries = _entries(path)
    return [
        {
            "name": str(e.get("name") or ""),
            "roles": sorted(e.get("roles") or []),
            "sha256_prefix": e["sha256"][:HASH_PREFIX],
        }
        for e in entries
    ]


def revoke_key(path: Path, name_or_prefix: str) -> dict[str, object]:
    """Remove the one entry whose name equals ``name_or_prefix`` or whose hash starts with it.

    Raises LookupError (naming the argument) when nothing or more than one entry matches: a
    revocation must never take out a key nobody meant. Returns the removed entry, as listed.
    """
    data, entries = _entries(path)
    wanted = name_or_prefix.strip()
    by_name = [e for e in entries if wanted and str(e.get("name") or "") == wanted]
    by_hash = [e for e in entries if len(wanted) >= 4 and e["sha256"].startswith(wanted.lower())]
    matches = by_name or by_hash
    if not matches:
        raise LookupError(f"{name_or_prefix!r}: no key has this name or hash prefix (see keys list)")
    if len(matches) > 1:
        shown = ", ".join(m["sha256"][:HASH_PREFIX] for m in matches)
        raise LookupError(
            f"{name_or_prefix!r} matches {len(matches)} keys ({shown}): give a longer hash prefix"
        )
    entries.remove(matches[0])
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    tmp.replace(path)  # a service re-reading the file sees the old or the new list, never half of one
    return {
        "name": str(matches[0].get("name") or ""),
        "roles": sorted(matches[0].get("roles") or []),
        "sha256_prefix": matches[0]["sha256"][:HASH_PREFIX],
    }


keys_app = typer.Typer(
    no_args_is_help=True, help="API keys: create, list and revoke keys (only their hashes are stored)."
)


def _key_file(keys_file: Path | None) -> Path:
    """``--file`` or ``SERVICELENS_API_KEYS_FILE``; exit 2 when neither is set."""
    from servicelens.settings import get_settings

    path = keys_file or get_settings().api_keys_file
    if path is None:
        typer.echo("error: --file: no key file given and SERVICELENS_API_KEYS_FILE is unset", err=True)
        raise typer.Exit(2)
    return Path(path)


@keys_app.command("create")
def create_command(
    role: list[str] = typer.Option(..., "--role", help=f"Role of the key (repeatable): {', '.join(ROLES)}."),
    name: str = typer.Option("", "--name", help="Who or what the key is for (kept in the file)."),
    keys_file: Path | None = typer.Option(
        None, "--file", help="Key file to append to (default: SERVICELENS_API_KEYS_FILE)."
    ),
) -> None:
    """Create a key, append its hash to the key file and print the key once."""
    path = _key_file(keys_file)
    try:
        key = create_key(path, role, name or None)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"added a key with roles {sorted(set(role))} to {path}; it is shown only now:")
    typer.echo(key)


@keys_app.command("list")
def list_command(
    keys_file: Path | None = typer.Option(
        None, "--file", help="Key file to read (default: SERVICELENS_API_KEYS_FILE)."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON line: a list of {name, roles, sha256_prefix}."
    ),
) -> None:
    """Name, roles and hash prefix of every key (keys themselves are never stored, so never shown)."""
    import json

    path = _key_file(keys_file)
    try:
        rows = list_keys(path)
    except ValueError as exc:
        typer.echo(f"error: --file {exc}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        typer.echo(f"no keys in {path}")
        return
    for row in rows:
        typer.echo(f"{row['sha256_prefix']}  {row['name'] or '(no name)':<24} {','.join(row['roles'])}")


@keys_app.command("revoke")
def revoke_command(
    name_or_prefix: str = typer.Argument(
        ..., metavar="NAME_OR_HASH_PREFIX", help="The key's name or the start of its hash (keys list)."
    ),
    keys_file: Path | None = typer.Option(
        None, "--file", help="Key file to edit (default: SERVICELENS_API_KEYS_FILE)."
    ),
) -> None:
    """Remove one key from the key file; running services refuse it from their next request on
    (they re-read a changed key file)."""
    path = _key_file(keys_file)
    try:
        gone = revoke_key(path, name_or_prefix)
    except LookupError as exc:
        typer.echo(f"error: NAME_OR_HASH_PREFIX {exc}", err=True)
        raise typer.Exit(2) from exc
    except ValueError as exc:
        typer.echo(f"error: --file {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(
        f"revoked key {gone['sha256_prefix']} ({gone['name'] or 'no name'}; roles {','.join(gone['roles'])}) "
        f"from {path}"
    )
