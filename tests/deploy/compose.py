"""docker-compose.yml read the way compose reads it, so its services can run without Docker.

- `env_file(path)`: KEY=VALUE lines of an env file (.env.example).
- `filled_env(example)`: what a site does after `cp .env.example .env`: every empty
  setting the compose file requires (`${X:?...}`) gets a value, secrets random.
- `load(env)`: the compose file with `${X}`, `${X:-default}`, `${X:?error}` filled
  from `env`; a required variable that is missing or empty raises `MissingVariable`
  with compose's own message (`set X in .env`).
- `container_env(compose, name, dotenv)`: the environment compose gives a service's
  container: the `ENV` of its image's last Dockerfile stage, then its `env_file:`
  (`.env` is `dotenv`, the site's .env), then `environment:`.
- `command(compose, name)`: the service's command (the image's CMD when unset).
"""

from __future__ import annotations

import re
import secrets
import shlex
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$\$")


class MissingVariable(ValueError):
    """A `${X:?message}` whose variable is unset or empty."""


def env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def required_variables(text: str) -> set[str]:
    return {m["name"] for m in _VAR.finditer(text) if m["name"] and m["op"] in (":?", "?")}


def filled_env(example: Path = ENV_EXAMPLE, **overrides: str) -> dict[str, str]:
    """The .env a site writes: each required empty setting set (URLs to a plausible URL)."""
    env = env_file(example)
    for name in required_variables(COMPOSE_FILE.read_text(encoding="utf-8")):
        if not env.get(name):
            env[name] = ("https://hotline.example.test" if name.endswith("_URL")
                         else secrets.token_urlsafe(24))
    env.update(overrides)
    return env


def interpolate(value: str, env: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m["name"], m["op"], m["arg"] or ""
        present = name in env
        empty = not env.get(name)
        if op in (":?", "?") and (not present or (op == ":?" and empty)):
            raise MissingVariable(f"required variable {name} is missing a value: {arg}")
        if op == ":-" and empty or op == "-" and not present:
            return arg
        return env.get(name, "")

    return _VAR.sub(one, value)


def _walk(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_walk(item, env) for item in node]
    if isinstance(node, dict):
        return {key: _walk(value, env) for key, value in node.items()}
    return node


def load(env: dict[str, str]) -> dict[str, Any]:
    raw = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return dict(_walk(raw, env))


def _build_context(service: dict[str, Any]) -> Path:
    build = service["build"]
    return REPO / (build if isinstance(build, str) else build.get("context", "."))


def dockerfile_runtime(context: Path) -> tuple[dict[str, str], list[str]]:
    """ENV and CMD of the last stage of `context`/Dockerfile."""
    text = (context / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    stage = text.split("\nFROM ")[-1]
    env: dict[str, str] = {}
    cmd: list[str] = []
    for line in stage.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "ENV":
            for part in shlex.split(rest):
                key, _, value = part.partition("=")
                env[key] = value
        elif word == "CMD":
            cmd = list(yaml.safe_load(rest))
    return env, cmd


def container_env(compose: dict[str, Any], name: str,
                  dotenv: dict[str, str] | None = None) -> dict[str, str]:
    service = compose["services"][name]
    env, _ = dockerfile_runtime(_build_context(service))
    files = service.get("env_file") or []
    for path in [files] if isinstance(files, str) else files:
        env.update((dotenv or {}) if path == ".env" else env_file(REPO / path))
    given = service.get("environment") or {}
    if isinstance(given, list):
        given = dict(item.split("=", 1) for item in given)
    env.update({key: "" if value is None else str(value) for key, value in given.items()})
    return env


def command(compose: dict[str, Any], name: str) -> list[str]:
    service = compose["services"][name]
    if service.get("command"):
        given = service["command"]
        return shlex.split(given) if isinstance(given, str) else list(given)
    return dockerfile_runtime(_build_context(service))[1]
