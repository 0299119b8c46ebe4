"""All services, built once per process and handed to channels and tools."""

from __future__ import annotations

from dataclasses import dataclass

from luna.clock import Clock
from luna.db.engine import Database
from luna.services.actions import ActionService
from luna.services.calendar import CalendarService
from luna.services.checkins import CheckinService
from luna.services.chores import ChoreService
from luna.services.goals import GoalService
from luna.services.habits import HabitService
from luna.services.interactions import InteractionService
from luna.services.members import MemberService
from luna.services.messages import MessageService
from luna.services.tasks import TaskService


@dataclass(frozen=True, slots=True)
class Services:
    db: Database
    clock: Clock
    members: MemberService
    tasks: TaskService
    habits: HabitService
    goals: GoalService
    checkins: CheckinService
    chores: ChoreService
    calendar: CalendarService
    messages: MessageService
    interactions: InteractionService
    actions: ActionService

    @classmethod
    def build(cls, db: Database, clock: Clock, *, default_region: str = "US") -> Services:
        return cls(
            db=db,
            clock=clock,
            members=MemberService(db, clock, default_region),
            tasks=TaskService(db, clock),
            habits=HabitService(db, clock),
            goals=GoalService(db, clock),
            checkins=CheckinService(db, clock),
            chores=ChoreService(db, clock),
            calendar=CalendarService(db, clock),
            messages=MessageService(db, clock),
            interactions=InteractionService(db, clock),
            actions=ActionService(db, clock),
        )
