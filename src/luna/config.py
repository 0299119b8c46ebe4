"""Settings, built once by `load_settings()` and passed in; nothing reads the env at import."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./var/luna.db"
# PostgreSQL connections per process: the app and each `luna worker` hold a pool of their own,
# so with three workers (and their procrastinate pools, see luna.scheduler.workers) the
# defaults fit well inside PostgreSQL's 100 max_connections, or a small hosted plan's.
DEFAULT_POOL_SIZE = 5
DEFAULT_MAX_OVERFLOW = 5
DEFAULT_POOL_TIMEOUT_S = 10.0

BrainMode = Literal["local_only", "local_first", "llm_only"]


class Env(StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class Prices(BaseSettings):
    """Prices in USD, defaults for gpt-realtime-mini, gpt-4o-mini and Twilio US rates."""

    model_config = SettingsConfigDict(env_prefix="LUNA_PRICE_", extra="ignore")

    realtime_audio_input_per_mtok: float = 10.0
    realtime_audio_output_per_mtok: float = 20.0
    realtime_text_input_per_mtok: float = 0.6
    realtime_text_output_per_mtok: float = 2.4
    realtime_cached_input_per_mtok: float = 0.06
    realtime_cached_audio_input_per_mtok: float = 0.3
    transcription_input_per_mtok: float = 1.25
    transcription_output_per_mtok: float = 5.0
    transcription_per_minute: float = 0.003
    chat_input_per_mtok: float = 0.15
    chat_output_per_mtok: float = 0.6
    sms_segment: float = 0.0083
    call_minute: float = 0.014


class SchedulerSettings(BaseSettings):
    """Proactive nudges: how often to look, how late is too late, escalation and LLM briefings."""

    model_config = SettingsConfigDict(env_prefix="LUNA_SCHEDULER_", extra="ignore")

    tick_s: float = Field(default=15.0, gt=0)
    clock: Literal["system", "job"] = "system"
    """"job": a worker's jobs run at the instant they carry (simulated days in tests, benches);
    no periodic tick is registered then."""
    catchup_min: int = Field(default=30, ge=0)
    deadline_lead_min: int = Field(default=60, ge=1)
    escalate_after_min: int = Field(default=15, ge=1)
    plan_ahead_min: int = Field(default=30, ge=0, le=60)
    """Members are planned up to this long before a nudge (each their own share of it), and the
    nudge waits, scheduled, for its moment: a 07:00 crowd is planned over the half hour before
    instead of in one tick. A change to the member's day withdraws and replans what waits, and
    the rest (a habit logged, a task done, an opt-out) is checked again at sending."""
    overdue_time: str = Field(default="12:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    batch_size: int = Field(default=200, ge=1, le=5000)
    send_concurrency: int = Field(default=8, ge=1, le=64)
    worker_concurrency: int = Field(default=4, ge=1, le=64)
    llm_briefings: bool = False
    """Let the LLM (when configured) write briefings, within the monthly cap below."""
    llm_monthly_cap_usd: float = Field(default=0.5, ge=0)
    """Per member and calendar month; past it, briefings fall back to the templates."""


class Settings(BaseSettings):
    """Everything configurable. Environment variables are prefixed LUNA_ (OPENAI_API_KEY too)."""

    model_config = SettingsConfigDict(
        env_prefix="LUNA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Env = Env.DEV
    database_url: str = DEFAULT_SQLITE_URL
    db_pool_size: int = Field(default=DEFAULT_POOL_SIZE, ge=1, le=100)
    """PostgreSQL: connections one process keeps open (ignored on SQLite)."""
    db_max_overflow: int = Field(default=DEFAULT_MAX_OVERFLOW, ge=0, le=100)
    """PostgreSQL: connections one process may open beyond the pool in a burst; so at most
    db_pool_size + db_max_overflow per process."""
    db_pool_timeout_s: float = Field(default=DEFAULT_POOL_TIMEOUT_S, gt=0, le=300)
    """How long a session waits for a free connection before failing."""
    host: str = "127.0.0.1"
    port: int = 8000
    web_workers: int = Field(default=1, ge=1, le=64)
    """Processes `luna serve` runs (each a whole app, sharing the port). On SQLite one of them
    runs the scheduler; on PostgreSQL each holds its own connection pool."""
    public_url: str = "http://127.0.0.1:8000"
    admin_token: SecretStr | None = None
    log_level: str = "INFO"
    log_json: bool = False
    default_timezone: str = "America/New_York"
    default_region: str = "US"

    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = None
    chat_model: str = "gpt-4o-mini"
    realtime_model: str = "gpt-realtime-mini"
    realtime_voice: str = "marin"
    openai_realtime_base_url: str = "https://api.openai.com/v1"
    """Where the browser's ephemeral keys are minted and its SDP offer goes ({base}/realtime/calls);
    a setting so a local fake can stand in."""
    realtime_secret_ttl_s: int = Field(default=120, ge=60, le=600)
    """How long a browser's ephemeral key may be used to start a call."""
    openai_realtime_url: str | None = None
    """WebSocket base for phone calls' Realtime sessions (ws://127.0.0.1:PORT/v1 for a local fake);
    None: derived from openai_base_url, else OpenAI's."""
    realtime_transcription_model: str = "gpt-4o-mini-transcribe"
    realtime_session_max_s: float = Field(default=3300, gt=0)
    """A call rolls over to a fresh Realtime session before OpenAI's 60-minute cap."""
    voice_max_message_bytes: int = Field(default=64 * 1024, ge=1024)
    """Media Streams frames larger than this are dropped (Twilio's are a few hundred bytes)."""
    voice_prewarm_ttl_s: float = Field(default=15.0, gt=0)
    """A Realtime socket opened at the incoming webhook waits this long for its stream."""
    brain_mode: BrainMode | None = None
    """None: local_first when an OpenAI key or base URL is set, else local_only."""
    chat_max_tool_rounds: int = Field(default=6, ge=1, le=20)
    llm_timeout_s: float = Field(default=30.0, gt=0)

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_api_base: str = "https://api.twilio.com"
    # Without a Twilio auth token, development webhooks (and `luna sms`) are signed with this.
    twilio_dev_auth_token: SecretStr = SecretStr("luna-dev-twilio-auth-token")
    # Development only: accept unsigned SMS webhooks. Refused in prod, loudly logged at start.
    sms_validate_signatures: bool = True
    sms_reply_budget_s: float = Field(default=3.0, gt=0, le=12)

    # The family calendar on a CalDAV server, for households without a calendar of their own in
    # Household.settings["caldav"]; it belongs to caldav_household_id (or the only household).
    caldav_url: str | None = None
    caldav_username: str | None = None
    caldav_password: SecretStr | None = None
    caldav_household_id: int | None = None
    caldav_timeout_s: float = Field(default=20.0, gt=0, le=300)

    # An external chore tracker speaking Luna's /api/chores contract; unset, chores stay local.
    chore_app_url: str | None = Field(
        default=None, validation_alias=AliasChoices("chore_app_url", "luna_chore_app_url")
    )
    chore_app_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("chore_app_token", "luna_chore_app_token")
    )
    chore_app_timeout_s: float = Field(default=5.0, gt=0, le=60)

    # Web search for the assistant; without a provider the web_search tool does not exist.
    web_search_provider: Literal["searxng", "brave"] | None = None
    web_search_url: str | None = None
    """SearXNG: the instance's base URL (required). Brave: an alternative API base (optional)."""
    web_search_api_key: SecretStr | None = None
    web_search_timeout_s: float = Field(default=8.0, gt=0, le=60)

    prices: Prices = Field(default_factory=Prices)
    scheduler_enabled: bool = True
    """On SQLite `luna serve` runs the scheduler in-process; on PostgreSQL `luna worker` does."""
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        # Users paste plain URLs (e.g. from Supabase); Luna runs on the async drivers.
        if url.startswith("postgres://"):
            url = "postgresql://" + url.removeprefix("postgres://")
        if url.startswith("postgresql://"):
            return "postgresql+asyncpg://" + url.removeprefix("postgresql://")
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
        return url

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> Settings:
        if self.env is Env.PROD and self.admin_token is not None:
            if self.admin_token.get_secret_value() in {"", "changethis", "change-me"}:
                raise ValueError("LUNA_ADMIN_TOKEN is a placeholder; set a real secret in prod")
        return self

    @model_validator(mode="after")
    def _complete_integrations(self) -> Settings:
        for name in ("caldav_url", "chore_app_url", "web_search_url"):
            value = getattr(self, name)
            if value is not None and not value.startswith(("http://", "https://")):
                raise ValueError(f"{name} must be an http(s) URL")
        if self.web_search_provider == "searxng" and not self.web_search_url:
            raise ValueError("web_search_provider=searxng needs LUNA_WEB_SEARCH_URL")
        if self.web_search_provider == "brave" and self.web_search_api_key is None:
            raise ValueError("web_search_provider=brave needs LUNA_WEB_SEARCH_API_KEY")
        return self

    @property
    def web_search_configured(self) -> bool:
        return self.web_search_provider is not None

    @property
    def chore_app_configured(self) -> bool:
        return bool(self.chore_app_url)

    @property
    def llm_configured(self) -> bool:
        return self.openai_api_key is not None or bool(self.openai_base_url)

    @property
    def effective_brain_mode(self) -> BrainMode:
        if self.brain_mode is not None:
            return self.brain_mode
        return "local_first" if self.llm_configured else "local_only"

    @model_validator(mode="after")
    def _signed_webhooks_in_prod(self) -> Settings:
        if self.env is Env.PROD and not self.sms_validate_signatures:
            raise ValueError("LUNA_SMS_VALIDATE_SIGNATURES=false is for development, not prod")
        return self

    def webhook_auth_token(self) -> str | None:
        """The secret Twilio signs webhooks with; the dev token stands in outside prod."""
        if self.twilio_auth_token is not None and self.twilio_auth_token.get_secret_value():
            return self.twilio_auth_token.get_secret_value()
        if self.env is Env.PROD:
            return None
        return self.twilio_dev_auth_token.get_secret_value()

    @property
    def twilio_configured(self) -> bool:
        """Real SMS go out only with an account, its auth token and a number to send from."""
        return bool(
            self.twilio_account_sid and self.twilio_auth_token
            and self.twilio_auth_token.get_secret_value() and self.twilio_from_number
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite or ":memory:" in self.database_url:
            return None
        return Path(self.database_url.split(":///", 1)[1])


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment and .env, with explicit overrides on top."""
    return Settings(**overrides)
