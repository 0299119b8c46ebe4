"""Luna: a warm personal and family assistant reached by phone, SMS and the browser."""

__version__ = "0.1.0"
