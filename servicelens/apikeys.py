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

__all__ = ["ROLES", "hash_key", "load_keys", "create_key", "write_keys", "keys_app"]

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


keys_app = typer.Typer(
    no_args_is_help=True, help="API keys: create a key with roles (only its hash is stored)."
)


@keys_app.command("create")
def create_command(
    role: list[str] = typer.Option(..., "--role", help=f"Role of the key (repeatable): {', '.join(ROLES)}."),
    name: str = typer.Option("", "--name", help="Who or what the key is for (kept in the file)."),
    keys_file: Path | None = typer.Option(
        None, "--file", help="Key file to append to (default: SERVICELENS_API_KEYS_FILE)."
    ),
) -> None:
    """Create a key, append its hash to the key file and print the key once."""
    from servicelens.settings import get_settings

    path = keys_file or get_settings().api_keys_file
    if path is None:
        typer.echo("error: --file: no key file given and SERVICELENS_API_KEYS_FILE is unset", err=True)
        raise typer.Exit(2)
    try:
        key = create_key(Path(path), role, name or None)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"added a key with roles {sorted(set(role))} to {path}; it is shown only now:")
    typer.echo(key)
