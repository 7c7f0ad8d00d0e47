"""A deployment with a wrong setting stops at once with ONE line saying what to set.

- the service: an unreachable DATABASE_URL (`serve`, `db upgrade`), an AMI login that
  Asterisk refuses because its permit list does not admit the service;
- the Asterisk entrypoint: a malformed AMI_PERMIT, a missing or well-known secret, a bad
  AGI_URL;
- compose: `.env.example` copied without setting its secrets.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import yaml

from callcenter.settings import Settings
from tests.asterisk import kit
from tests.conftest import free_port
from tests.deploy import compose


def callcenter(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "SECRET_KEY": secrets.token_urlsafe(24),
            "LOG_JSON": "false", "REPORTS_ENABLED": "false"}
    return subprocess.run([sys.executable, "-m", "callcenter.cli", *args], env={**base, **env},
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("args", [["serve"], ["db", "upgrade"]])
def test_an_unreachable_database_is_one_line_naming_database_url(
        args: list[str], tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://callcenter:hunter2-secret@127.0.0.1:{free_port()}/callcenter"
    result = callcenter(args, {"DATABASE_URL": url, "AMI_ENABLED": "false",
                               "FASTAGI_PORT": str(free_port())}, tmp_path)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "cannot reach the database" in line and "set DATABASE_URL" in line
    assert "hunter2-secret" not in line  # the password is never printed


@pytest.mark.parametrize(("name", "value"), [
    ("AMI_PERMIT", "bogus"), ("AMI_PERMIT", "10.0.0.0/33"), ("AMI_PERMIT", ""),
    ("AMI_SECRET", ""), ("AMI_SECRET", "callcenter"), ("SOFTPHONE_PASSWORD", ""),
    ("AGI_URL", "http://service:4573/hotline"), ("SIP_PORT", "99999"),
])
def test_the_asterisk_entrypoint_refuses_a_bad_setting_in_one_line(
        name: str, value: str, tmp_path: Path) -> None:
    env = kit.local_env(tmp_path, agi_port=4573, ami_port=5038, sip_port=5060)
    env[name] = value
    result = kit.render(tmp_path / "etc", env)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith("asterisk config: ") and name in line and "set" in line


def test_the_asterisk_entrypoint_renders_every_placeholder(tmp_path: Path) -> None:
    env = kit.local_env(tmp_path, agi_port=4573, ami_port=5038, sip_port=5060)
    env.update(AMI_PERMIT="127.0.0.1,172.28.0.0/24", TRUNK_CONTACT="sip:carrier.example.test:5060",
               TRUNK_USER="acme", TRUNK_PASSWORD="trunk-" + secrets.token_hex(8),
               TRUNK_MATCH="192.0.2.10")
    result = kit.render(tmp_path / "etc", env)
    assert result.returncode == 0, result.stderr
    texts = {p.name: p.read_text() for p in (tmp_path / "etc").glob("*.conf")}
    assert set(texts) == {p.name for p in (compose.REPO / "deploy/asterisk").glob("*.conf")}
    assert not any("@" + word in text for text in texts.values()
                   for word in ("AMI_", "AGI_", "SIP_", "RTP_", "SPOOL", "TRUNK_", "SOFTPHONE"))
    manager = texts["manager.conf"]
    assert f"secret = {env['AMI_SECRET']}" in manager
    assert "permit = 127.0.0.1\npermit = 172.28.0.0/24" in manager
    assert "outbound_auth = trunk-auth" in texts["pjsip.conf"]
    assert "match = 192.0.2.10" in texts["pjsip.conf"]
    assert "HOTLINE_AGI_URL = agi://127.0.0.1:4573/hotline" in texts["extensions.conf"]


@pytest.mark.asterisk
def test_an_ami_permit_that_does_not_admit_the_service_is_one_line_naming_ami_permit(
        tmp_path: Path) -> None:
    kit.require_bundle()
    env = kit.local_env(tmp_path / "ast", agi_port=free_port(), ami_port=free_port(),
                        sip_port=free_port())
    env["AMI_PERMIT"] = "192.0.2.1"  # well-formed, but not where the service connects from
    real = kit.start(tmp_path / "ast", env)
    try:
        result = callcenter(["serve"], {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
            "AMI_ENABLED": "true", "AMI_PORT": str(real.ami_port), "AMI_SECRET": real.ami_secret,
            "FASTAGI_PORT": str(real.agi_port)}, tmp_path)
    finally:
        real.stop()
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "refused the login" in line and "AMI_PERMIT" in line and "AMI_SECRET" in line


def test_the_example_env_unedited_does_not_start_and_names_the_secret_to_set() -> None:
    unedited = compose.env_file(compose.ENV_EXAMPLE)
    with pytest.raises(compose.MissingVariable, match=r"set \w+ in \.env"):
        compose.load(unedited)
    for name in ("POSTGRES_PASSWORD", "SECRET_KEY", "AMI_SECRET", "SOFTPHONE_PASSWORD"):
        assert unedited[name] == "", f"{name} has a working default in .env.example"
        assert name in compose.required_variables(compose.COMPOSE_FILE.read_text())
        with pytest.raises(compose.MissingVariable, match=f"set {name} in .env"):
            compose.load({**compose.filled_env(), name: ""})


def test_every_setting_a_site_puts_in_env_reaches_the_service_and_its_one_shots() -> None:
    """Settings .env.example does not list (mail, opening hours, report schedule...) are read
    from .env by the service, migrations and prompts alike; compose's own values win."""
    extra = {"SMTP_HOST": "mail.example.test", "REPORT_MAIL_TO": "daily=ops@example.test",
             "OPENING_HOURS": "07:00-22:00", "DATABASE_URL": "sqlite+aiosqlite:///./ignored.db"}
    env = compose.filled_env(**extra)
    spec = compose.load(env)
    for name in ("service", "migrate", "prompts"):
        given = compose.container_env(spec, name, env)
        with mock.patch.dict(os.environ, given, clear=True):
            settings = Settings(_env_file=None)  # type: ignore[call-arg]
        assert (settings.smtp_host, settings.report_mail_to, settings.opening_hours) == (
            "mail.example.test", "daily=ops@example.test", "07:00-22:00"), name
        assert settings.database_url.startswith("postgresql+asyncpg://callcenter:"), name
        assert str(settings.prompts_dir) == "/var/lib/callcenter/prompts", name


def test_every_name_in_the_example_env_is_used() -> None:
    """Each line of .env.example feeds the compose file or is one of the service's settings."""
    used = {m["name"] for m in compose._VAR.finditer(compose.COMPOSE_FILE.read_text()) if m["name"]}
    settings = {name.upper() for name in Settings.model_fields}
    unused = sorted(set(compose.env_file(compose.ENV_EXAMPLE)) - used - settings)
    assert not unused, f"{unused} in .env.example reach nothing"


def test_the_stack_publishes_only_http_sip_and_rtp() -> None:
    spec = compose.load(compose.filled_env())
    published = {name: service.get("ports", []) for name, service in spec["services"].items()}
    assert published["service"] == ["127.0.0.1:8080-8082:8080"]
    assert published["asterisk"] == ["5060:5060/udp", "10000-10100:10000-10100/udp"]
    assert not any(published[name] for name in ("postgres", "migrate", "prompts"))
    networks = {tuple(service.get("networks", [])) for service in spec["services"].values()}
    assert networks == {("hotline",)}


def test_docker_compose_config_accepts_the_filled_example_and_refuses_the_unedited_one(
        tmp_path: Path) -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose not installed (make deploy-check installs Debian's)")
    # a checkout after `cp .env.example .env` and filling it: the services read .env too
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(compose.REPO / name, tmp_path / name)
    shutil.copytree(compose.REPO / "deploy", tmp_path / "deploy")
    filled = tmp_path / ".env"
    filled.write_text("".join(f"{k}={v}\n" for k, v in compose.filled_env().items()))
    ok = subprocess.run([tool, "--env-file", str(filled), "-f", str(tmp_path / "docker-compose.yml"),
                         "config"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "SMTP_PORT" not in ok.stdout  # nothing beyond what .env names
    (tmp_path / ".env").write_text(filled.read_text() + "SMTP_HOST=mail.example.test\n")
    more = subprocess.run([tool, "-f", str(tmp_path / "docker-compose.yml"), "config"],
                          capture_output=True, text=True, timeout=120)
    assert more.returncode == 0, more.stderr
    service = yaml.safe_load(more.stdout)["services"]["service"]["environment"]
    assert service["SMTP_HOST"] == "mail.example.test", service
    bad = subprocess.run([tool, "--env-file", str(compose.ENV_EXAMPLE), "-f",
                          str(compose.COMPOSE_FILE), "config", "-q"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "in .env" in bad.stderr, bad.stderr
