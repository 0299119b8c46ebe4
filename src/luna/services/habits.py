"""PLACEHOLDER until its helper writes it."""

from luna.clock import Clock
from luna.db.engine import Database


class HabitService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
