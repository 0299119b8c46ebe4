"""The chore tools' backend: Luna's own ChoreService, or an external chore app over HTTP.

The external app speaks Luna's /api/chores contract (GET /api/chores?date&familyMember,
POST /api/chores/{id}/complete {completedBy}); a Luna-compatible app also takes creating,
rescheduling, delegating and suggestions, and any app that can't answers with a clear error.
Members are the same people under their own ids there, so they are matched by name.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from pydantic import ValidationError

from luna.config import Settings
from luna.errors import Forbidden, NotFound, Upstream
from luna.services.access import Actor
from luna.services.chore_app import ChoreAppClient, ChoreAppRefused
from luna.services.chores import (
    ChoreCompletionOut,
    ChoreOut,
    ChoreService,
    ChoreSuggestion,
    Mode,
    ScheduleIn,
)
from luna.services.matching import best_match
from luna.services.members import MemberOut, MemberService

DIRECTORY_TTL_S = 30.0


class ChoreBackend(Protocol):
    async def create(
        self,
        actor: Actor,
        *,
        title: str,
        schedule: ScheduleIn,
        assignee_id: int | None = None,
        assignment_mode: Mode = "fixed",
        rotation_member_ids: Sequence[int] = (),
        due_time: str | None = None,
        points: int = 1,
        notes: str | None = None,
    ) -> ChoreOut: ...

    async def overdue(
        self, actor: Actor, member_id: int | None = None
    ) -> builtins.list[ChoreOut]: ...

    async def find(self, actor: Actor, title: str) -> ChoreOut: ...

    async def find_id(self, actor: Actor, title: str) -> int: ...

    async def complete(
        self, actor: Actor, chore_id: int, completed_by: int | None = None
    ) -> ChoreCompletionOut: ...

    async def reschedule(self, actor: Actor, chore_id: int, day: date) -> ChoreOut: ...

    async def delegate(self, actor: Actor, chore_id: int, to_member_id: int) -> ChoreOut: ...

    async def suggest(self, actor: Actor) -> builtins.list[ChoreSuggestion]: ...

    async def list(
        self, actor: Actor, *, day: date | None = None, member_id: int | None = None
    ) -> builtins.list[ChoreOut]: ...

    async def on_days(
        self, actor: Actor, days: Sequence[date], *, member_id: int | None = None
    ) -> dict[date, builtins.list[ChoreOut]]: ...


def chore_backend(
    settings: Settings | None, chores: ChoreService, members: MemberService
) -> ChoreBackend:
    if settings is None or not settings.chore_app_url:
        return chores
    client = ChoreAppClient(settings.chore_app_url, settings.chore_app_token,
                            settings.chore_app_timeout_s)
    return ChoreAppBackend(client, members)


@dataclass(frozen=True, slots=True)
class _Directory:
    """Who is who on both sides: local member ids against the chore app's."""

    people: builtins.list[MemberOut]
    to_remote: dict[int, int]
    to_local: dict[int, int]

    def remote(self, local_id: int) -> int:
        if local_id in self.to_remote:
            return self.to_remote[local_id]
        name = next((m.name for m in self.people if m.id == local_id), f"member {local_id}")
        raise NotFound(f"{name} is not a member of the chore app")

    def local(self, remote_id: int | None) -> int | None:
        return None if remote_id is None else self.to_local.get(remote_id)


def _key(name: str) -> str:
    return " ".join(name.casefold().split())


class ChoreAppBackend:
    def __init__(self, client: ChoreAppClient, members: MemberService) -> None:
        self.client = client
        self.members = members
        self._directories: dict[int | None, tuple[float, _Directory]] = {}

    async def _directory(self, actor: Actor, chores: Any = None) -> _Directory:
        # A week's schedule asks once per day; who is who does not change between those calls.
        cached = self._directories.get(actor.household_id)
        if cached is not None and time.monotonic() - cached[0] < DIRECTORY_TTL_S:
            return cached[1]
        people = await self.members.list(actor)
        remote = await self._remote_people(chores)
        to_remote: dict[int, int] = {}
        for m in people:
            for name in (m.name, *m.nicknames):
                if _key(name) in remote:
                    to_remote[m.id] = remote[_key(name)]
                    break
        to_local = {r: loc for loc, r in to_remote.items()}
        found = _Directory(people, to_remote, to_local)
        self._directories[actor.household_id] = (time.monotonic(), found)
        return found

    async def _remote_people(self, chores: Any) -> dict[str, int]:
        """The chore app's people by name: its member list, or else whoever holds a chore."""
        try:
            rows, id_key, name_key = await self.client.get("/api/members"), "id", "name"
        except ChoreAppRefused:
            # Not every chore app lists its people; whoever holds a chore is known all the same.
            rows = chores if chores is not None else await self.client.get("/api/chores")
            id_key, name_key = "assignee_id", "assignee_name"
        if not isinstance(rows, builtins.list):
            raise self._shape_error()
        found: dict[str, int] = {}
        for row in rows:
            if not isinstance(row, dict):
                raise self._shape_error()
            rid, name = row.get(id_key), row.get(name_key)
            if isinstance(rid, int) and isinstance(name, str) and name.strip():
                found.setdefault(_key(name), rid)
        return found

    def _shape_error(self) -> Upstream:
        return Upstream(f"the chore app at {self.client.host} answered in a shape Luna does "
                        "not understand")

    def _parse(self, model: type[Any], raw: Any) -> Any:
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            raise self._shape_error() from exc

    def _chore(self, raw: Any, d: _Directory) -> ChoreOut:
        c: ChoreOut = self._parse(ChoreOut, raw)
        return c.model_copy(update={
            "assignee_id": d.local(c.assignee_id),
            "rotation_member_ids": [i for i in (d.local(r) for r in c.rotation_member_ids)
                                    if i is not None],
        })

    def _chores(self, raw: Any, d: _Directory) -> builtins.list[ChoreOut]:
        if not isinstance(raw, builtins.list):
            raise self._shape_error()
        return [self._chore(r, d) for r in raw]

    async def list(
        self, actor: Actor, *, day: date | None = None, member_id: int | None = None
    ) -> builtins.list[ChoreOut]:
        if actor.is_child:
            if member_id not in (None, actor.member_id):
                raise Forbidden("a child can only see their own chores")
            member_id = actor.member_id
        d = await self._directory(actor)
        params: dict[str, Any] = {"date": day.isoformat() if day else None}
        if member_id is not None:
            if member_id not in d.to_remote:
                return []  # not a person the chore app knows, so nobody there gave them chores
            params["familyMember"] = d.to_remote[member_id]
        return self._chores(await self.client.get("/api/chores", params), d)

    async def on_days(
        self, actor: Actor, days: Sequence[date], *, member_id: int | None = None
    ) -> dict[date, builtins.list[ChoreOut]]:
        # The chore app answers one date per request.
        return {day: await self.list(actor, day=day, member_id=member_id) for day in days}

    async def overdue(self, actor: Actor, member_id: int | None = None) -> builtins.list[ChoreOut]:
        return [c for c in await self.list(actor, member_id=member_id) if c.overdue]

    async def find(self, actor: Actor, title: str) -> ChoreOut:
        return best_match(title, await self.list(actor), lambda c: c.title, what="chore")

    async def find_id(self, actor: Actor, title: str) -> int:
        return (await self.find(actor, title)).id

    async def complete(
        self, actor: Actor, chore_id: int, completed_by: int | None = None
    ) -> ChoreCompletionOut:
        raw = await self.client.get("/api/chores")
        d = await self._directory(actor, raw)
        doer = completed_by if completed_by is not None else actor.member_id
        if actor.is_child:
            mine = [c for c in self._chores(raw, d) if c.id == chore_id]
            if not mine or mine[0].assignee_id != actor.member_id:
                raise Forbidden("a child can only complete their own chores")
            if doer != actor.member_id:
                raise Forbidden("a child can only take credit for themselves")
        body = {"completedBy": d.remote(doer)} if doer is not None else {}
        done: ChoreCompletionOut = self._parse(
            ChoreCompletionOut, await self.client.post(f"/api/chores/{chore_id}/complete", body)
        )
        return done.model_copy(update={"completed_by": d.local(done.completed_by),
                                        "next_assignee_id": d.local(done.next_assignee_id)})

    async def create(
        self,
        actor: Actor,
        *,
        title: str,
        schedule: ScheduleIn,
        assignee_id: int | None = None,
        assignment_mode: Mode = "fixed",
        rotation_member_ids: Sequence[int] = (),
        due_time: str | None = None,
        points: int = 1,
        notes: str | None = None,
    ) -> ChoreOut:
        if actor.is_child:
            if assignee_id not in (None, actor.member_id) or any(
                m != actor.member_id for m in rotation_member_ids
            ):
                raise Forbidden("a child can only create chores for themselves")
            if assignee_id is None and not rotation_member_ids:
                assignee_id = actor.member_id
        d = await self._directory(actor)
        body = {
            "title": title, "schedule": schedule.model_dump(mode="json"),
            "assignee_id": d.remote(assignee_id) if assignee_id is not None else None,
            "assignment_mode": assignment_mode,
            "rotation_member_ids": [d.remote(m) for m in rotation_member_ids],
            "due_time": due_time, "points": points, "notes": notes,
        }
        return self._chore(await self._extension("create chores", "/api/chores", body), d)

    async def reschedule(self, actor: Actor, chore_id: int, day: date) -> ChoreOut:
        if actor.is_child:
            raise Forbidden("a child cannot reschedule chores")
        d = await self._directory(actor)
        raw = await self._extension("reschedule chores", f"/api/chores/{chore_id}/reschedule",
                                    {"date": day.isoformat()})
        return self._chore(raw, d)

    async def delegate(self, actor: Actor, chore_id: int, to_member_id: int) -> ChoreOut:
        if actor.is_child:
            raise Forbidden("a child cannot hand chores to others")
        d = await self._directory(actor)
        raw = await self._extension("hand chores on", f"/api/chores/{chore_id}/delegate",
                                    {"to_member_id": d.remote(to_member_id)})
        return self._chore(raw, d)

    async def suggest(self, actor: Actor) -> builtins.list[ChoreSuggestion]:
        if actor.is_child:
            raise Forbidden("chore suggestions are for the grown-ups")
        d = await self._directory(actor)
        try:
            raw = await self.client.get("/api/chores/suggestions")
        except ChoreAppRefused as exc:
            raise self._unsupported("suggest who does chores", exc) from exc
        if not isinstance(raw, builtins.list):
            raise self._shape_error()
        out = []
        for row in raw:
            s: ChoreSuggestion = self._parse(ChoreSuggestion, row)
            local = d.local(s.suggested_member_id)
            if local is not None:
                out.append(s.model_copy(update={"suggested_member_id": local}))
        return out

    async def _extension(self, what: str, path: str, body: dict[str, Any]) -> Any:
        """A call beyond the core contract, which a minimal chore app may not have."""
        try:
            return await self.client.post(path, body)
        except ChoreAppRefused as exc:
            raise self._unsupported(what, exc) from exc

    def _unsupported(self, what: str, exc: ChoreAppRefused) -> Upstream:
        if exc.status == 405:
            return Upstream(f"the chore app at {self.client.host} can't {what}; do it there")
        return exc
