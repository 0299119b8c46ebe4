"""The demo family: a household with a week of history, so a new user sees Luna at work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from luna.services.access import ADMIN, Actor
from luna.services.container import Services


@dataclass(frozen=True, slots=True)
class DemoResult:
    household_id: int
    admin_member_id: int
    token: str


async def load_demo(services: Services, *, force: bool = False) -> DemoResult | None:
    if not force and await services.members.list_households(ADMIN):
        return None
    created = await services.members.create_household(
        ADMIN, name="The Rivera family", timezone="America/New_York", admin_name="Maya",
        admin_phone="+15550100001",
    )
    hid = created.id
    maya = created.admin_member_id
    ben = await services.members.add_member(ADMIN, household_id=hid, name="Ben",
                                            phone="+15550100002", nicknames=["Benny"])
    ava = await services.members.add_member(ADMIN, household_id=hid, name="Ava", role="child",
                                            phone="+15550100003")
    noah = await services.members.add_member(ADMIN, household_id=hid, name="Noah", role="child")
    now = services.clock.now()
    as_maya = Actor(household_id=hid, member_id=maya, role="adult")
    for title, days, prio in [
        ("Renew library card", 2, "medium"), ("Call the dentist", 1, "high"),
        ("Book summer camp for Ava", 5, "urgent"), ("Pay the water bill", -1, "high"),
    ]:
        await services.tasks.create(
            as_maya, title=title, due_at=now + timedelta(days=days), priority=prio,  # type: ignore[arg-type]
            source_channel="demo",
        )
    await services.tasks.create(as_maya, title="Fix the bike", member_id=ben.id)
    await services.tasks.create(as_maya, title="Science project", member_id=ava.id,
                                due_at=now + timedelta(days=3), category="learning")
    await services.tasks.create(as_maya, title="Read chapter 4", member_id=noah.id,
                                category="learning")
    return DemoResult(hid, maya, created.token)
