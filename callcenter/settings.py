"""Every setting of the service, read from the environment (or a `.env` file).

One `Settings` object is built at the entrypoint and passed down; nothing reads
the environment at import time. Names are the environment variables (upper
case); README.md lists them all with their defaults.
"""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal
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
    db_pool_size: int = Field(10, description=(
        "PostgreSQL connections per process at most (with the IVR fast path: its 7-9, the "
        "screen-pop's LISTEN connection and the pool; without: the pool holds twice this)"))
    ivr_fast_path: bool = Field(
        True, description="PostgreSQL: store plain IVR turns by batched raw statements "
        "(up to 10 more connections per process, opened on first use); off: every turn "
        "in its own transaction")
    # web
    http_host: str = Field("127.0.0.1", description="HTTP bind address")
    http_port: int = Field(8080, description="HTTP bind port")
    http_workers: int = Field(
        1, ge=1, description="`callcenter serve` worker processes sharing the HTTP port "
        "(SO_REUSEPORT); only the first runs the job loop, FastAGI and AMI")
    event_loop: Literal["auto", "asyncio", "uvloop"] = Field(
        "asyncio", description="event loop of the service: asyncio's own, uvloop (the "
        "`fast` extra), or auto = uvloop when installed. asyncio is the default: uvloop "
        "saved no measurable CPU on the IVR and the screen-pop bench had p99 spikes on it")
    public_base_url: str = Field(
        "http://127.0.0.1:8080",
        description="URL the carrier and browsers use to reach us (Twilio signs this URL)",
    )
    secret_key: SecretStr = Field(
        SecretStr("change-me-in-production"), description="signs session cookies and CSRF tokens"
    )
    cookie_secure: bool = Field(
        False, description="mark session cookies Secure (always on when PUBLIC_BASE_URL is https)")
    # security (issue 17): safe start-up, logins, slow clients, trusted addresses
    dev_mode: bool = Field(
        False, description="development/demo machine: allow the built-in default secrets. "
        "Off, `callcenter serve` refuses to start with a default or empty SECRET_KEY, AMI_SECRET "
        "(AMI on) or TWILIO_AUTH_TOKEN (Twilio in use)")
    cpu_workers: int = Field(
        2, ge=1, le=32, description="CPU-heavy work kept off the event loop, at most this many at "
        "once per HTTP worker: threads for password hashing, worker processes for report "
        "building and rendering (charts, PDF, XLSX); the rest wait their turn")
    loop_stall_log_ms: int = Field(
        500, ge=0, description="an event loop kept from running anything else for longer than "
        "this many milliseconds is logged (WARNING): while it lasts, with the stack the loop is "
        "running, and when it ends, with how long and how much of it was garbage collection; 0: off")
    login_max_failures_per_account: int = Field(
        5, ge=1, description="failed logins on one username from one client address within "
        "LOGIN_LOCKOUT_S before that address is locked out of that username (others are not)")
    login_account_slowdown_failures: int = Field(
        50, ge=1, description="failed logins on one username from all addresses together within "
        "LOGIN_LOCKOUT_S above which an address that failed on it even once is locked out of it "
        "(an address with no failure on it is still checked: the real user gets in)")
    login_max_failures_per_client: int = Field(
        20, ge=1, description="failed logins per client address within LOGIN_LOCKOUT_S before it is locked")
    login_lockout_s: int = Field(
        900, ge=1, description="seconds failed logins are counted over; a locked account or client "
        "may log in again once its failures are this old")
    http_header_timeout_s: float = Field(
        15, gt=0, description="a connection must send a complete request head within this many "
        "seconds of opening or of its previous response (also the idle keep-alive limit)")
    http_body_timeout_s: float = Field(
        30, gt=0, description="a request body must arrive in full within this many seconds of its head")
    http_send_timeout_s: float = Field(
        60, gt=0, description="a client that takes none of what we are sending it (a response, "
        "WebSocket messages) for this many seconds is disconnected (slow readers)")
    http_max_body_bytes: int = Field(
        2 * 1024 * 1024, ge=1024, description="largest request body accepted (413 above)")
    trusted_proxies: str = Field(
        "", description="comma-separated addresses/networks of our reverse proxies; only their "
        "X-Forwarded-For is believed for the client address (rate limits, logs). Empty: none")
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
    twilio_conference: bool = Field(
        True, description="bridge callers and client: agents through a conference (the agent "
        "page can hold the caller; needs the Twilio REST API); false: a plain Dial to the clients")
    # asterisk
    ami_enabled: bool = Field(False, description=(
        "connect to the Asterisk Manager Interface (the call log writes its events in "
        "batches every 50 ms: a crash loses at most that window's timeline lines, and the "
        "next resync ends the calls it left open)"))
    ami_host: str = Field("127.0.0.1", description="AMI host")
    ami_port: int = Field(5038, description="AMI port")
    ami_user: str = Field("callcenter", description="AMI user")
    ami_secret: SecretStr = Field(SecretStr("callcenter"), description="AMI secret")
    fastagi_enabled: bool = Field(True, description="run the FastAGI server")
    fastagi_host: str = Field("127.0.0.1", description="FastAGI bind address")
    fastagi_port: int = Field(4573, description="FastAGI bind port")
    owner_lease_s: float = Field(
        15, ge=1, le=300, description="seconds the lease of the process owning FastAGI, AMI and "
        "the dialer lasts; when it dies another process takes over within this plus a third")
    fastagi_allowed_peers: str = Field(
        "127.0.0.1,::1", description="comma-separated addresses/networks of the PBXes allowed to "
        "connect to FastAGI; other connections are closed unanswered")
    agent_queue: str = Field("hotline-agents", description="Asterisk queue for agent transfers")
    agent_interface: str = Field("PJSIP/{extension}", description="an agent's queue member interface in Asterisk ({extension} = the staff member's extension)")
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
    hotline_departments: str = Field(
        "CC", description="codes of the departments that answer the hotline (comma-separated; "
        "teams below them too): their staff read every department's customers and records, "
        "the full screen-pop card of any caller")
    # job loop
    route_to_ready_agents: bool = Field(True, description="callers reach agents only when one can take the call (Twilio: one is ready; Asterisk: one is in the queue, not paused); otherwise the IVR offers a callback")
    agent_wrap_up_s: float = Field(30.0, ge=0, le=3600, description="wrap-up after an agent's call, seconds (then ready; the agent may end it early)")
    agent_not_ready_reasons: str = Field("break,meeting,training,lunch,coaching,other", description="reasons an agent may give for not ready (comma-separated)")
    job_loop_enabled: bool = Field(True, description="run escalation, dialer and report jobs")
    job_interval_s: float = Field(5.0, description="seconds between job loop passes")
    reports_dir: Path = Field(Path("var/reports"), description="where generated reports are kept")
    job_completion_backdate_hours: float = Field(48, gt=0, le=24 * 31, description="how far back staff may date a job's completion when booking it (a survey counts in its job's month; older jobs come in by the operator's import)")
    # complaints (issue 7): time limits, major-complaint thresholds, routing, public form limits
    complaint_major_respond_hours: float = Field(2, gt=0, description="major: first response within")
    complaint_major_resolve_hours: float = Field(24, gt=0, description="major: resolve within")
    complaint_major_step_hours: float = Field(4, gt=0, description="major: next escalation level after")
    complaint_ordinary_respond_hours: float = Field(24, gt=0, description="ordinary: first response within")
    complaint_ordinary_resolve_hours: float = Field(72, gt=0, description="ordinary: resolve within")
    complaint_ordinary_step_hours: float = Field(24, gt=0, description="ordinary: next escalation level after")
    complaint_compensation_threshold: float = Field(
        5000, ge=0, description="compensation claimed above this (yuan) makes a complaint major"
    )
    complaint_repeat_window_days: int = Field(
        30, gt=0, description="same customer, same category within this many days: a repeat (major)"
    )
    complaint_media_keywords: str = Field(
        "", description="comma-separated media-threat keywords; empty = the built-in zh/en list"
    )
    complaint_category_departments: str = Field(
        "", description="category=department code pairs routing complaints, e.g. billing=FIN,attitude=SVC"
    )
    complaint_default_department: str = Field(
        "", description="department code owning complaints no rule routes elsewhere"
    )
    complaint_job_window_days: int = Field(
        30, ge=1, description="a complaint naming no job is charged to the department and technician "
        "of the customer's job completed within this many days (else the customer's department)"
    )
    complaint_escalation_interval_s: float = Field(60, gt=0, description="seconds between escalation passes")
    complaint_max_handovers: int = Field(
        2, ge=0, description="handed to another owner more often than this: passed around (major)"
    )
    complaint_disrespect_keywords: str = Field(
        "", description="comma-separated disrespect keywords; empty = the built-in zh/en list"
    )
    complaint_group_min_customers: int = Field(
        3, ge=2, description="different customers about one job/product/site making a group complaint"
    )
    complaint_group_window_hours: float = Field(72, gt=0, description="group complaint window (hours)")
    callback_problem_department: str = Field(
        "AFTERSALES", description="department code owning complaints found on post-repair callbacks (售后)"
    )
    complaint_form_per_ip_hour: int = Field(5, ge=1, description="public form: submissions per IP per hour")
    complaint_form_per_phone_hour: int = Field(3, ge=1, description="public form: submissions per phone per hour")
    complaint_form_max_description: int = Field(2000, ge=1, description="public form: description length limit")
    complaint_form_max_body_bytes: int = Field(16384, ge=1024, description="public form: request body limit")
    # leads (seed 004): the finder's credit, follow-up reminders
    lead_finder_credit: Decimal = Field(Decimal(200), ge=0, description="credit to the finder when a lead is won (yuan)")
    lead_finder_credit_rate: Decimal = Field(
        Decimal(0), ge=0, le=1, description="plus this share of the order value (0.02 = 2 %)"
    )
    lead_reminder_interval_s: float = Field(300, gt=0, description="seconds between lead follow-up reminder passes")
    # e-mail (issue 15): reports are delivered (上报) and escalations told by SMTP
    smtp_host: str = Field("", description="SMTP server; empty = no e-mail is sent")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port")
    smtp_security: Literal["none", "starttls", "ssl"] = Field("starttls", description="SMTP transport security")
    smtp_username: str = Field("", description="SMTP login; empty = no AUTH")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password")
    smtp_from: str = Field("hotline@localhost", description="sender address of the service's mail")
    smtp_timeout_s: float = Field(30, gt=0, description="SMTP connection timeout (seconds)")
    report_mail_to: str = Field(
        "", description="report recipients: kind[/DEPT]=addr,addr; ... e.g. daily=ops@x.cn; weekly/SVC=svc@x.cn"
    )
    report_mail_attachments: str = Field("xlsx,pdf", description="files attached to report mail (xlsx,pdf,csv)")
    complaint_escalation_mail: bool = Field(True, description="e-mail the manager a complaint escalates to")
    # reports (issue 9): schedule, supervision amounts (seed 001), call KPI thresholds (kpi.md)
    reports_enabled: bool = Field(True, description="generate the scheduled reports in the job loop")
    report_daily_at: str = Field("07:30", description="local time the daily report (previous day) is made; weekly on Monday, monthly on the 5th")
    report_monthly_day: int = Field(5, ge=1, le=28, description="day of month the previous month's reports are made")
    report_formats: str = Field("json,xlsx,html", description="files kept for scheduled reports (json,csv,xlsx,html,pdf)")
    report_trend_months: int = Field(6, ge=1, le=24, description="months shown in the supervision trend charts")
    supervision_reward: Decimal = Field(Decimal(1000), ge=0, description="reward when the monthly average rises (yuan)")
    supervision_penalty: Decimal = Field(Decimal(1000), ge=0, description="penalty when the monthly average falls (yuan)")
    supervision_all_a_bonus: Decimal = Field(Decimal(1000), ge=0, description="extra bonus when every item of every survey is A")
    supervision_all_e_penalty: Decimal = Field(Decimal(1000), ge=0, description="extra penalty when every item of every survey is E")
    supervision_complaint_bands: str = Field(
        "0:5000,1-5:0,6-10:-3000,11-15:-5000,16+:-10000",
        description="complaint count bands and amounts (yuan), gap-free from 0, last open-ended",
    )
    supervision_administrative_action_at: int = Field(30, ge=1, description="complaints in a month that flag administrative action")
    supervision_survey_precedence: str = Field(
        "verified,callback,ivr,paper/agent",
        description="which of a job's surveys counts (one per job), best first; '/' = same tier, the earlier wins",
    )
    kpi_sl_threshold_s: float = Field(20, gt=0, description="service level: answered within this many seconds")
    kpi_short_abandon_s: float = Field(5, ge=0, description="abandons shorter than this are excluded")
    kpi_queue_thresholds: str = Field("", description="per-queue overrides queue=SL/short, e.g. vip=10/3,sales=60/5")
    kpi_fcr_window_days: int = Field(7, ge=1, description="first contact resolution window (days)")
    # callbacks (issue 8, seed 000/001): who dials, how often, when, and the verification sample.
    # Read by callcenter.callbacks.config (RetryPolicy, DispatchConfig, source defaults).
    outbound_carrier: Literal["auto", "asterisk", "twilio"] = Field(
        "auto", description="carrier for callbacks: auto = Asterisk when AMI is on, else Twilio when TWILIO_CALLER_ID is set"
    )
    callback_max_attempts: int = Field(3, ge=1, le=10, description="dial attempts per callback before it fails")
    callback_backoff: str = Field(
        "15m,2h,1d", description="waits before attempt 2, 3... (s/m/h/d units); the last one repeats"
    )
    callback_window: str = Field(
        "09:00-20:00", description="default call window, in the callee's own time zone (never inside 21:00-08:00)"
    )
    callback_verification_percent: float = Field(
        10, ge=0, le=100, description="share of surveys awaiting verification drawn for a verification call, per department and sampling period (%)"
    )
    callback_verification_minimum: int = Field(
        3, ge=0, description="surveys verified at least, per department and sampling period (all of them when fewer)"
    )
    survey_sample_cadence: Literal["day", "week", "month"] = Field(
        "week", description="how often the verification sample is drawn (000: 定期(如每周)); periods are cut at month ends"
    )
    survey_sample_unsampled: Literal["count", "exclude"] = Field(
        "exclude", description="a survey awaiting verification that was never drawn: counted or excluded when its month is scored"
    )
    callback_dial_timeout_s: int = Field(30, ge=5, le=300, description="ring time before an outbound call counts as no answer (s)")
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

    @field_validator("trusted_proxies", "fastagi_allowed_peers")
    @classmethod
    def _networks(cls, value: str) -> str:
        from callcenter.networks import parse_networks

        parse_networks(value)
        return value

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_hours(value)
        return value

    @field_validator("supervision_survey_precedence")
    @classmethod
    def _survey_precedence(cls, value: str) -> str:
        from reports.rules import parse_survey_precedence

        parse_survey_precedence(value)  # each kind exactly once, or a clear error at start-up
        return value

    @field_validator("callback_backoff")
    @classmethod
    def _backoff(cls, value: str) -> str:
        parse_durations(value)
        return value

    @field_validator("callback_window")
    @classmethod
    def _callback_window(cls, value: str) -> str:
        from crm.call_windows import CallWindow
        from crm.errors import InvalidCallWindow

        start, end = parse_hours(value)
        try:
            CallWindow(start, end).checked()
        except InvalidCallWindow as exc:
            raise ValueError(str(exc)) from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over TLS: COOKIE_SECURE, or a public https URL."""
        return self.cookie_secure or self.public_base_url.lower().startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def hotline_codes(self) -> frozenset[str]:
        from crm.access import normal_text

        return frozenset(normal_text(c) for c in self.hotline_departments.split(",") if c.strip())

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


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_durations(value: str) -> tuple[timedelta, ...]:
    """'15m,2h,1d' -> (15 min, 2 h, 1 day); raises ValueError with the expected format."""
    delays: list[timedelta] = []
    for part in (p.strip() for p in value.split(",")):
        number, unit = part[:-1], part[-1:].lower()
        if unit not in _UNITS or not number.isdigit() or int(number) <= 0:
            raise ValueError(f"delays must look like 15m,2h,1d (positive, s/m/h/d), got {value!r}")
        delays.append(timedelta(seconds=int(number) * _UNITS[unit]))
    return tuple(delays)
