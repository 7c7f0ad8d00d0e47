"""Every setting of the service, read from the environment (or a `.env` file).

One `Settings` object is built at the entrypoint and passed down; nothing reads
the environment at import time. Names are the environment variables (upper
case); README.md lists them all with their defaults.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./var/callcenter.db"


class Settings(BaseSettings):
    """Configuration of one service process."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # storage
    database_url: str = Field(DEFAULT_SQLITE_URL, description="SQLAlchemy async URL")
    db_pool_size: int = Field(10, description="PostgreSQL connection pool size")
    # web
    http_host: str = Field("127.0.0.1", description="HTTP bind address")
    http_port: int = Field(8080, description="HTTP bind port")
    public_base_url: str = Field(
        "http://127.0.0.1:8080",
        description="URL the carrier and browsers use to reach us (Twilio signs this URL)",
    )
    secret_key: SecretStr = Field(
        SecretStr("change-me-in-production"), description="signs session cookies and CSRF tokens"
    )
    cookie_secure: bool = Field(False, description="mark session cookies Secure (behind HTTPS)")
    # twilio
    twilio_account_sid: str = Field("AC00000000000000000000000000000000", description="Twilio account SID")
    twilio_auth_token: SecretStr = Field(SecretStr(""), description="Twilio auth token (signs webhooks)")
    twilio_api_base_url: str = Field(
        "https://api.twilio.com", description="Twilio REST base URL (a mock in tests)"
    )
    twilio_caller_id: str = Field("", description="our E.164 number for outbound calls")
    twilio_agent_dial: str = Field(
        "client:agents", description="where Twilio sends a caller who asks for an agent"
    )
    # asterisk
    ami_enabled: bool = Field(False, description="connect to the Asterisk Manager Interface")
    ami_host: str = Field("127.0.0.1", description="AMI host")
    ami_port: int = Field(5038, description="AMI port")
    ami_user: str = Field("callcenter", description="AMI user")
    ami_secret: SecretStr = Field(SecretStr("callcenter"), description="AMI secret")
    fastagi_enabled: bool = Field(True, description="run the FastAGI server")
    fastagi_host: str = Field("127.0.0.1", description="FastAGI bind address")
    fastagi_port: int = Field(4573, description="FastAGI bind port")
    agent_queue: str = Field("hotline-agents", description="Asterisk queue for agent transfers")
    outbound_trunk: str = Field(
        "PJSIP/{number}@trunk", description="Asterisk dial string for callbacks ({number} = E.164)"
    )
    prompts_dir: Path = Field(Path("var/prompts"), description="sound files, <lang>/<prompt_id>.wav")
    spool_dir: Path = Field(
        Path("var/spool"), description="where the classic AGI fallback leaves complaints"
    )
    recordings_dir: Path = Field(Path("var/recordings"), description="caller recordings")
    # the centre
    timezone: str = Field("Asia/Shanghai", description="centre time zone (reports, opening hours)")
    default_region: str = Field("CN", description="region for national phone numbers")
    language: Literal["zh-CN", "en"] = Field("zh-CN", description="default IVR language")
    opening_hours: str = Field("08:00-20:00", description="agent opening hours, centre time")
    # job loop
    job_loop_enabled: bool = Field(True, description="run escalation, dialer and report jobs")
    job_interval_s: float = Field(5.0, description="seconds between job loop passes")
    reports_dir: Path = Field(Path("var/reports"), description="where generated reports are kept")
    # logging
    log_level: str = Field("INFO", description="log level")
    log_json: bool = Field(True, description="JSON log lines (false: human-readable)")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}; use e.g. Asia/Shanghai") from exc
        return value

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_hours(value)
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def open_hours(self) -> tuple[time, time]:
        return parse_hours(self.opening_hours)


def parse_hours(value: str) -> tuple[time, time]:
    """'08:00-20:00' -> (08:00, 20:00); raises ValueError with the expected format."""
    try:
        start_s, end_s = value.split("-")
        start, end = time.fromisoformat(start_s.strip()), time.fromisoformat(end_s.strip())
    except ValueError as exc:
        raise ValueError(f"hours must look like 08:00-20:00, got {value!r}") from exc
    if start >= end:
        raise ValueError(f"hours must start before they end, got {value!r}")
    return start, end
