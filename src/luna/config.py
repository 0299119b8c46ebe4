"""Settings, built once by `load_settings()` and passed in; nothing reads the env at import."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./var/luna.db"

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
    transcription_per_minute: float = 0.003
    chat_input_per_mtok: float = 0.15
    chat_output_per_mtok: float = 0.6
    sms_segment: float = 0.0083
    call_minute: float = 0.014


class Settings(BaseSettings):
    """Everything configurable. Environment variables are prefixed LUNA_ (OPENAI_API_KEY too)."""

    model_config = SettingsConfigDict(
        env_prefix="LUNA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Env = Env.DEV
    database_url: str = DEFAULT_SQLITE_URL
    host: str = "127.0.0.1"
    port: int = 8000
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

    prices: Prices = Field(default_factory=Prices)

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

    @property
    def llm_configured(self) -> bool:
        return self.openai_api_key is not None or bool(self.openai_base_url)

    @property
    def effective_brain_mode(self) -> BrainMode:
        if self.brain_mode is not None:
            return self.brain_mode
        return "local_first" if self.llm_configured else "local_only"

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
