"""All services, built once per process and handed to channels and tools."""

from __future__ import annotations

from dataclasses import dataclass

from luna.clock import Clock
from luna.config import Settings
from luna.db.engine import Database
from luna.services.actions import ActionService, FiledHere
from luna.services.caldav_sync import CalDavSync
from luna.services.calendar import CalendarService
from luna.services.checkins import CheckinService
from luna.services.chore_bridge import ChoreBackend, chore_backend
from luna.services.chores import ChoreService
from luna.services.feeds import FeedService
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
    feeds: FeedService
    caldav: CalDavSync
    chore_backend: ChoreBackend
    """What the chore tools use: `chores` itself, or an external chore app when one is set."""

    @classmethod
    def build(
        cls, db: Database, clock: Clock, *, default_region: str = "US",
        settings: Settings | None = None,
    ) -> Services:
        members = MemberService(db, clock, default_region)
        chores = ChoreService(db, clock)
        filed_here = FiledHere()
        return cls(
            db=db,
            clock=clock,
            members=members,
            tasks=TaskService(db, clock),
            habits=HabitService(db, clock),
            goals=GoalService(db, clock),
            checkins=CheckinService(db, clock),
            chores=chores,
            calendar=CalendarService(db, clock),
            messages=MessageService(db, clock),
            interactions=InteractionService(db, clock, filed_here),
            actions=ActionService(db, clock, filed_here),
            feeds=FeedService(db, clock),
            caldav=CalDavSync(db, clock, settings),
            chore_backend=chore_backend(settings, chores, members),
        )
