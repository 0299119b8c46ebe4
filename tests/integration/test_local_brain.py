"""LocalBrain.handle over the real services and tools: the replies it gives, the changes it
really makes, and the labelled set of tests/data/intents.yaml scored end to end."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from luna.brain.local import lists as lists_module
from luna.brain.local.engine import LocalBrain, LocalOutcome
from luna.brain.local.lists import HouseholdLists, ListCache
from luna.services.actions import ActionService
from luna.services.container import Services
from luna.tools import catalog
from luna.tools.context import ToolContext
from luna.tools.registry import Registry
from tests.brain_family import (
    BrainFamily,
    args_right,
    build_family,
    load_cases,
    plan_case,
    tool_right,
)

TZ = ZoneInfo("America/New_York")
REGISTRY = catalog.load()


@pytest.fixture(scope="module")
def warm_brain() -> LocalBrain:
    return LocalBrain()


@pytest.fixture
def brain(warm_brain: LocalBrain) -> LocalBrain:
    # Each test has a fresh database whose ids start again at 1: cached lists must not leak.
    warm_brain.lists = ListCache()
    return warm_brain


@pytest.fixture
async def fam(services: Services) -> BrainFamily:
    return await build_family(services)


async def say(
    brain: LocalBrain, services: Services, fam: BrainFamily, text: str, who: str = "Maya",
    registry: Registry = REGISTRY,
) -> LocalOutcome:
    ctx = await fam.ctx(services, who)
    out = await brain.handle(ctx, registry, text)
    assert out is not None, text
    return out


async def maya(services: Services, fam: BrainFamily) -> ToolContext:
    return await fam.ctx(services, "Maya")


# --- replies and what really happened ----------------------------------------------------------


async def test_a_reminder_becomes_a_task_due_at_the_said_time(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    out = await say(brain, services, fam, "remind me to renew my library card next thursday at 10")
    assert out.reply == "Added 'Renew my library card' for Thu, Mar 12 at 10:00 AM."
    assert out.intent == "AddTask" and out.actions[0].ok
    tasks = await services.tasks.list(fam.actor(), member_id=fam.ids["Maya"], status="open")
    made = next(t for t in tasks if t.title == "Renew my library card")
    assert made.due_at is not None
    assert made.due_at.astimezone(TZ).replace(tzinfo=None) == datetime(2026, 3, 12, 10, 0)


async def test_tomorrow_reads_back_as_tomorrow(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    out = await say(brain, services, fam, "remind me to call the vet tomorrow at 3pm")
    assert out.reply == "Added 'Call the vet' for tomorrow at 3:00 PM."


async def test_a_named_member_is_credited_with_the_chore_and_its_points(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    out = await say(brain, services, fam, "Ben emptied the recycling")
    assert out.reply == "Nice work, Ben! 'Empty the recycling' is done, +2 points."
    detail = await services.chores.get(fam.actor(), fam.chores["Empty the recycling"])
    assert [c.completed_by for c in detail.completions] == [fam.ids["Ben"]]


async def test_i_did_credits_the_speaker(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    out = await say(brain, services, fam, "I fed the cat", who="Ava")
    assert out.reply.startswith("Nice work, Ava! 'Feed the cat' is done")
    assert "Noah is up next" in out.reply  # the rotation moved on
    detail = await services.chores.get(fam.actor(), fam.chores["Feed the cat"])
    assert detail.completions[0].completed_by == fam.ids["Ava"]
    assert detail.assignee_id == fam.ids["Noah"]


async def test_moving_a_task_keeps_its_time_of_day(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    out = await say(brain, services, fam, "move the vet appointment to next wednesday")
    assert out.reply == "Moved 'Vet appointment' to Wed, Mar 11 at 9:00 AM."
    task = await services.tasks.get(fam.actor(), fam.tasks["Vet appointment"])
    assert task.due_at is not None
    assert task.due_at.astimezone(TZ).replace(tzinfo=None) == datetime(2026, 3, 11, 9, 0)


async def test_handing_a_chore_over_reassigns_it(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    out = await say(brain, services, fam, "hand the laundry over to Noah")
    assert out.reply == "Done: 'Laundry' is Noah's now."
    detail = await services.chores.get(fam.actor(), fam.chores["Laundry"])
    assert detail.assignee_id == fam.ids["Noah"]


async def test_a_message_reaches_grandpa_by_his_nickname(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    out = await say(brain, services, fam, "let Grandpa know dinner's at 7")
    assert out.reply == "Sent to Joe: \"Dinner's at 7\""
    sent = out.actions[0].result["message"]
    assert sent["to_member_ids"] == [fam.ids["Joe"]]
    assert sent["body"] == "Dinner's at 7"


async def test_a_habit_is_logged_with_its_amount(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    out = await say(brain, services, fam, "I did 30 squats")
    assert out.reply == "Logged 30 reps of Squats."
    logs = await services.habits.list_logs(fam.actor(), fam.habits["Squats"])
    assert [log.value for log in logs] == [30.0]


async def test_a_check_in_records_every_value_said(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    out = await say(brain, services, fam, "slept like a 5, energy 8")
    assert out.reply == "Got it: sleep 5/10 and energy 8/10. Love that!"
    today = await services.checkins.today(fam.actor(), fam.ids["Maya"])
    assert today is not None and (today.sleep_quality, today.energy) == (5, 8)


async def test_a_goal_with_a_number_is_measurable(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    out = await say(brain, services, fam, "I want to run 500 miles this year")
    assert out.reply == "New goal: 'Run 500 miles', by Thu, Dec 31. You've got this!"
    goals = await services.goals.list(fam.actor(), member_id=fam.ids["Maya"], status="active")
    run = next(g for g in goals if g.title == "Run 500 miles")
    assert (run.target_value, run.unit, run.timeframe, run.category) == (
        500, "miles", "yearly", "fitness")


async def test_an_event_lands_on_the_calendar_with_its_end(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    out = await say(brain, services, fam, "add swim lessons to the calendar monday 5 to 6pm")
    assert out.reply == "Added 'Swim lessons' to the calendar for Monday, 5:00 PM to 6:00 PM."
    event = out.actions[0].result
    start = datetime.fromisoformat(event["start"]).astimezone(TZ)
    end = datetime.fromisoformat(event["end"]).astimezone(TZ)
    assert (start.hour, end.hour, start.date().isoformat()) == (17, 18, "2026-03-09")


async def test_a_new_chore_gets_its_schedule(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    out = await say(brain, services, fam, "add a chore: water the plants every weekday for Ava")
    assert out.reply.startswith("Added the chore 'Water the plants', for Ava, every weekday")
    chore = out.actions[0].result
    assert chore["schedule"]["weekdays"] == ["mon", "tue", "wed", "thu", "fri"]
    assert chore["assignee_id"] == fam.ids["Ava"]


async def test_a_new_chore_is_known_to_the_very_next_message(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    await say(brain, services, fam, "new chore: clean the fish tank every 7 days")
    out = await say(brain, services, fam, "Noah cleaned the fish tank")
    assert out.intent == "CompleteChore" and out.actions[0].ok


async def test_handing_a_chore_over_keeps_the_chore_words_built_before(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    await say(brain, services, fam, "whose turn is it to feed the cat")  # lists built and cached
    before = lists_module._chore_part.cache_info()
    handed = await say(brain, services, fam, "hand the laundry over to Noah")
    assert handed.actions[0].ok
    out = await say(brain, services, fam, "Noah did the laundry")
    assert out.actions[0].ok
    after = lists_module._chore_part.cache_info()
    # The lists were rebuilt with Noah as the assignee, from the chore words already built.
    assert after.misses == before.misses and after.hits > before.hits


async def test_a_nickname_learned_in_conversation_names_the_member_next_message(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    await say(brain, services, fam, "what's on my list")  # Maya's lists built and cached
    learned = await say(brain, services, fam, "call me Mays")
    assert learned.actions[0].tool == "update_user_profile" and learned.actions[0].ok
    out = await say(brain, services, fam, "Mays did the laundry", who="Ben")
    assert out.actions[0].ok
    assert out.actions[0].arguments.get("completed_by", "").lower() in ("mays", "maya")


async def test_whose_turn_names_the_assignee(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    out = await say(brain, services, fam, "whose turn is it to feed the cat")
    assert out.reply == "It's Ava's turn for 'Feed the cat' (today)."


async def test_overdue_covers_tasks_and_chores(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    out = await say(brain, services, fam, "what's overdue?")
    assert [a.tool for a in out.actions] == ["get_tasks", "get_overdue_chores"]
    assert "'Take out the trash' (Noah, overdue)" in out.reply


async def test_the_briefing_and_next_action_come_from_the_planning_tools(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    out = await say(brain, services, fam, "what did I miss")
    assert out.reply.startswith("Good morning, Maya!")
    out = await say(brain, services, fam, "what should I do next")
    assert out.actions[0].tool == "suggest_next_action" and out.actions[0].ok


async def test_greetings_need_no_tool(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    out = await say(brain, services, fam, "good morning!")
    assert out.actions == [] and out.reply == "Hi Maya! What can I do for you?"


async def test_scratch_that_undoes_the_task_just_added(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    from luna.brain.recording import TurnRegistry  # records each write for undo, as converse does

    turn = TurnRegistry(REGISTRY)
    await say(brain, services, fam, "remind me to buy stamps tomorrow", registry=turn)
    out = await say(brain, services, fam, "scratch that", registry=turn)
    assert out.intent == "Undo" and out.actions[0].ok, out.reply
    tasks = await services.tasks.list(fam.actor(), member_id=fam.ids["Maya"], status="open")
    assert "Buy stamps" not in [t.title for t in tasks]


# --- several server processes (`luna serve --workers N`) ----------------------------------------


class Worker:
    """One server process: its own services (what it filed itself) and its own list cache."""

    def __init__(self, brain: LocalBrain, services: Services, catch_up_s: float = 0.0) -> None:
        # Asks after every turn what the other workers wrote (the app asks every 0.1 s).
        self.brain, self.lists = brain, ListCache(catch_up_s=catch_up_s)
        self.services = Services.build(services.db, services.clock)

    async def say(self, fam: BrainFamily, text: str, who: str = "Maya") -> LocalOutcome:
        out = await self.try_saying(fam, text, who)
        assert out is not None, text
        return out

    async def try_saying(
        self, fam: BrainFamily, text: str, who: str = "Maya"
    ) -> LocalOutcome | None:
        from luna.brain.recording import TurnRegistry  # logs each write, as converse does

        self.brain.lists = self.lists
        return await self.brain.handle(
            await fam.ctx(self.services, who), TurnRegistry(REGISTRY), text
        )


async def test_a_task_added_through_one_worker_is_known_to_the_other_at_once(
    warm_brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    first, second = Worker(warm_brain, services), Worker(warm_brain, services)
    for worker in (first, second):  # both have Maya's lists cached
        await worker.say(fam, "what's on today?")
    await first.say(fam, "add feed the zebra tomorrow")
    out = await second.say(fam, "done with feed the zebra")
    assert out.intent == "CompleteTask" and out.actions[0].ok, out.reply
    # and the first learns of the second's change too
    await first.say(fam, "remind me to water the ferns tomorrow")
    await second.say(fam, "what's on today?")
    out = await second.say(fam, "done with water the ferns")
    assert out.actions[0].ok, out.reply


async def test_a_turn_reading_its_lists_survives_another_turn_changing_them(
    services: Services, fam: BrainFamily, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two texts of one member in flight at once (a slow database): while one turn reads the
    lists, the other drops a part of them. The reader builds from what it read, and leaves
    the cache to be read again, instead of failing on the missing part."""
    cache, ctx = ListCache(), await fam.ctx(services)
    await cache.get(ctx)
    cache.invalidate(ctx.member.household_id, ["goals"])  # the next get reads the goals
    reading, dropped = asyncio.Event(), asyncio.Event()
    real = lists_module._fill_parts

    async def slow(ctx: ToolContext, parts: dict[str, object]) -> None:
        reading.set()
        await dropped.wait()
        await real(ctx, parts)  # type: ignore[arg-type]

    monkeypatch.setattr(lists_module, "_fill_parts", slow)
    turn = asyncio.create_task(cache.get(ctx))
    await reading.wait()
    cache.invalidate(ctx.member.household_id, ["tasks"])  # the other turn added a task
    dropped.set()
    lists = await turn
    assert lists.members  # built whole
    monkeypatch.setattr(lists_module, "_fill_parts", real)
    again = await cache.get(ctx)
    assert again is not lists  # the cache was not left holding the read from before the drop


def test_every_write_tool_says_which_lists_it_changes() -> None:
    """A new write tool must be placed: another worker re-reads the list kinds it changes."""
    writes = {spec.name for spec in REGISTRY if spec.writes}
    assert writes <= lists_module.TOUCHES.keys(), writes - lists_module.TOUCHES.keys()


async def test_a_checkin_in_one_worker_leaves_the_other_workers_lists_alone(
    warm_brain: LocalBrain, services: Services, fam: BrainFamily,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = Worker(warm_brain, services), Worker(warm_brain, services)
    await second.say(fam, "what's on today?")
    await first.say(fam, "what's on today?", who="Ben")
    await first.say(fam, "mood 7")
    reads: list[set[str]] = []  # by either worker
    real = lists_module._fill_parts

    async def counted(ctx: ToolContext, parts: dict[str, object]) -> None:
        reads.append(set(lists_module.PARTS) - parts.keys())
        await real(ctx, parts)  # type: ignore[arg-type]

    monkeypatch.setattr(lists_module, "_fill_parts", counted)
    await second.say(fam, "what's on today?")
    await first.say(fam, "add feed the emu tomorrow", who="Ben")
    await second.say(fam, "what's on today?")
    await first.say(fam, "add feed the emu tomorrow")
    await second.say(fam, "what's on today?")
    # The mood changed no list, and Ben's task not Maya's; her own task, only her tasks.
    assert reads == [{"tasks"}]


async def test_a_worker_asks_about_the_others_writes_once_per_interval_per_household(
    warm_brain: LocalBrain, services: Services, fam: BrainFamily,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = Worker(warm_brain, services), Worker(warm_brain, services, catch_up_s=60)
    asked = 0
    real = ActionService.written_elsewhere

    async def counted(
        self: ActionService, household_id: int, after: int
    ) -> tuple[set[tuple[str, int | None]], int]:
        nonlocal asked
        asked += 1
        return await real(self, household_id, after)

    monkeypatch.setattr(ActionService, "written_elsewhere", counted)
    await second.say(fam, "what's on today?")
    await first.say(fam, "add feed the ibis tomorrow")
    for who in ("Maya", "Ben", "Maya", "Ben"):
        await second.say(fam, "what's on today?", who=who)
    # Within the interval the second has not asked (its first turn marked where it stood),
    # however many turns it answered from its lists.
    assert asked == 0
    # A text its lists do not recognise asks at once: the ibis was added a moment ago.
    out = await second.say(fam, "done with feed the ibis")
    assert out.intent == "CompleteTask" and out.actions[0].ok, out.reply
    assert asked == 1
    # A text that names nothing new asks too, finds nothing, and is left to the next brain.
    assert await second.try_saying(fam, "tell me a story about whales") is None
    assert asked == 2


async def test_a_household_forgotten_to_make_room_has_its_lists_read_again(
    warm_brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    """A worker that had to forget a household's catch-up mark (more households than it keeps)
    cannot tell what the other workers wrote meanwhile, so it reads that household again."""
    first, second = Worker(warm_brain, services), Worker(warm_brain, services)
    second.lists.max_households = 1  # while the lists themselves stay
    other = await build_family(services, name="Okafor", phone="+1555040")
    await second.say(fam, "what's on today?")  # Maya's lists, and her household's mark
    await second.say(other, "what's on today?")  # the mark of Maya's household is dropped
    await first.say(fam, "add feed the okapi tomorrow")
    out = await second.say(fam, "done with feed the okapi")
    assert out.intent == "CompleteTask" and out.actions[0].ok, out.reply


async def test_an_undo_in_one_worker_reaches_the_other_workers_lists(
    warm_brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    first, second = Worker(warm_brain, services), Worker(warm_brain, services)
    await first.say(fam, "add feed the yak tomorrow")
    await second.say(fam, "what's on today?")  # the second has the yak in its lists
    await first.say(fam, "scratch that")
    # Read again, the second's lists no longer hold the yak: the grammar does not take it for
    # one of Maya's tasks (with stale lists it would, and the tool would find it gone).
    assert await second.try_saying(fam, "done with feed the yak") is None


async def test_a_worker_does_not_reread_its_lists_after_its_own_writes(
    warm_brain: LocalBrain, services: Services, fam: BrainFamily,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    only = Worker(warm_brain, services)
    await only.say(fam, "what's on today?")
    reads = 0
    real = lists_module._fill_parts

    async def counted(ctx: ToolContext, parts: dict[str, object]) -> None:
        nonlocal reads
        reads += len(parts) < len(("members", "chores", "habits", "tasks", "goals"))
        await real(ctx, parts)  # type: ignore[arg-type]

    monkeypatch.setattr(lists_module, "_fill_parts", counted)
    await only.say(fam, "add feed the walrus tomorrow")
    out = await only.say(fam, "done with feed the walrus")
    assert out.actions[0].ok, out.reply
    assert reads == 0  # its own writes patched the lists


# --- errors read back kindly -------------------------------------------------------------------


async def test_an_unknown_chore_is_said_back(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    out = await say(brain, services, fam, "mark the garage chore done")
    assert out.reply == "I couldn't find a chore called 'garage'."
    assert out.actions[0].ok is False and out.actions[0].error == "not_found"


async def test_two_close_titles_are_asked_about(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    for title in ("Call mom", "Call tom"):
        await services.tasks.create(fam.actor(), title=title, member_id=fam.ids["Maya"])
    brain.lists.invalidate(fam.household_id)
    out = await say(brain, services, fam, "check off call om")
    assert out.reply == "Did you mean 'Call mom' or 'Call tom'?"


async def test_a_child_cannot_reschedule_chores(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    out = await say(brain, services, fam, "move the trash to saturday", who="Noah")
    assert out.reply.startswith("Sorry, I can't do that:")


async def test_a_time_in_the_past_is_explained(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    out = await say(brain, services, fam, "remind me to call Ben today at 8am")
    assert out.actions[0].error == "invalid_input"
    assert out.reply.startswith("Hmm, I couldn't do that:")


# --- what the local brain leaves alone ---------------------------------------------------------


async def test_open_requests_go_to_the_llm(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    ctx = await maya(services, fam)
    for text in ("write me a poem about spring", "what's the capital of France"):
        assert await brain.handle(ctx, REGISTRY, text) is None


async def test_odd_input_returns_none_and_never_raises(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    ctx = await maya(services, fam)
    for text in ("", "   ", "🙂", "{}[]<>|@\\", "x" * 10_000, "remind me to", "\x00\x01"):
        out = await brain.handle(ctx, REGISTRY, text)
        assert out is None or out.actions == [] or all(a.ok is not None for a in out.actions)


async def test_a_missing_tool_means_no_local_answer(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    ctx = await maya(services, fam)
    assert await brain.handle(ctx, Registry(), "I did 30 squats") is None
    assert await services.habits.list_logs(fam.actor(), fam.habits["Squats"]) == []


# --- the labelled set --------------------------------------------------------------------------


async def test_labelled_utterances_plan_the_right_tool_calls(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    cases = load_cases()
    assert len(cases) >= 320
    tools = Counter(c.tool for c in cases if c.tool)
    assert all(tools[s.name] >= 10 for s in REGISTRY), tools
    assert sum(1 for c in cases if c.calls is None and not c.local) >= 10
    tool_ok = args_ok = 0
    misses = []
    for case in cases:
        got = await plan_case(brain, services, fam, case)
        tool_ok += tool_right(case, got)
        if args_right(case, got):
            args_ok += 1
        else:
            misses.append((case.text, case.calls, got.calls))
    assert tool_ok / len(cases) >= 0.95, misses[:10]
    assert args_ok / len(cases) >= 0.90, misses[:10]


async def test_labelled_utterances_run_end_to_end(
    brain: LocalBrain, services: Services, fam: BrainFamily
) -> None:
    """Every utterance through handle() with its tools executed, one after the other on one
    household: never arguments a tool rejects as malformed, always a short reply, and nearly
    always the labelled tool (not always: a task finished early in the set is gone later)."""
    cases = load_cases()
    wrong, malformed = [], []
    for case in cases:
        ctx = await fam.ctx(services, case.speaker)
        out = await brain.handle(ctx, REGISTRY, case.text)
        first = out.actions[0].tool if out and out.actions else None
        if first != case.tool or (case.local and out is None):
            wrong.append((case.text, case.tool, first))
        for a in out.actions if out else []:
            if a.error in ("invalid_arguments", "internal_error", "unknown_tool"):
                malformed.append((case.text, a.tool, a.arguments, a.detail))
        if out is not None:
            assert out.reply.strip()
            assert len(out.reply) <= 320
    assert not malformed
    assert len(wrong) <= len(cases) // 10, wrong[:10]


def _task_values(lists: HouseholdLists) -> dict[str, list[object]]:
    by_title: dict[str, list[object]] = {}
    for value in lists.slot_lists["task"].values:  # type: ignore[attr-defined]
        by_title.setdefault(value.value_out, []).append(value)
    return by_title


async def test_a_new_task_rebuilds_its_owners_lists_from_the_other_tasks_values(
    warm_brain: LocalBrain, services: Services, fam: BrainFamily,
) -> None:
    """After a write the speaker's lists are built again; only the new task's values are new
    (a member with many tasks paid for all of them on every text that added one)."""
    worker = Worker(warm_brain, services)
    ctx = await fam.ctx(services)
    before = _task_values(await worker.lists.get(ctx))
    out = await worker.say(fam, "add buy balloons to my list")
    assert out.actions[0].ok, out.reply
    lists_module._task_part.cache_clear()  # as fifty other members' texts would have
    after = _task_values(await worker.lists.get(ctx))
    assert len(set(after) - set(before)) == 1
    for title, values in before.items():
        assert all(a is b for a, b in zip(after[title], values, strict=True)), title
    out = await worker.say(fam, "done with buy balloons")  # and it is recognised
    assert out.actions[0].ok, out.reply


async def test_lists_read_again_after_their_ttl_keep_the_values_of_unchanged_names(
    services: Services, fam: BrainFamily,
) -> None:
    cache, ctx = ListCache(ttl=0.0), await fam.ctx(services)
    before = _task_values(await cache.get(ctx))
    lists_module._task_part.cache_clear()
    after = _task_values(await cache.get(ctx))  # read again: the ttl has passed
    assert before.keys() == after.keys()
    for title, values in before.items():
        assert all(a is b for a, b in zip(after[title], values, strict=True)), title
