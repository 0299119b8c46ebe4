"""How much of Luna's audio the caller has actually heard. Pure: time comes in as an argument.

Luna forwards audio to Twilio as fast as OpenAI makes it, so Twilio may hold seconds of it. After
each chunk Luna sends a named mark; Twilio echoes it once everything before it has played (or at
once when a `clear` discards it). Confirmed marks are exact positions. Between two marks the
position is extrapolated at real time from the moment the chunk could start playing, and never
past the chunk's end, so the estimate stays within one chunk of the truth and usually within a
few milliseconds.

Marks are named `generation:seq`. A `clear` (barge-in) bumps the generation, so the marks
Twilio flushes back after it, and any echo still in flight, are recognised as dropped, not played.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

MULAW_BYTES_PER_MS = 8
ItemKey = tuple[str, int]


@dataclass(slots=True)
class _Chunk:
    seq: int | None
    """None while the chunk is still open: audio sent, its mark not yet."""
    item: ItemKey
    end: int
    """Byte offset in its item just after this chunk."""
    size: int
    sent_at: float


@dataclass(slots=True)
class _Item:
    received: int = 0
    """Bytes sent on to Twilio for this item."""
    played: int = 0
    """Bytes confirmed played by marks."""


class PlaybackTracker:
    def __init__(self, bytes_per_ms: int = MULAW_BYTES_PER_MS) -> None:
        self.bytes_per_ms = bytes_per_ms
        self.generation = 0
        self._seq = 0
        self._pending: deque[_Chunk] = deque()
        self._items: dict[ItemKey, _Item] = {}
        self._head_since = 0.0
        self.stale_marks = 0
        """Echoes ignored because a clear had discarded them (for tests and logs)."""

    @property
    def idle(self) -> bool:
        """True when every chunk sent has been confirmed played (or discarded)."""
        return not self._pending

    @property
    def unmarked_ms(self) -> float:
        """Audio sent since the last mark."""
        last = self._pending[-1] if self._pending else None
        return last.size / self.bytes_per_ms if last is not None and last.seq is None else 0.0

    def on_audio(self, item_id: str, content_index: int, nbytes: int, now_ms: float,
                 *, mark: bool = True) -> str | None:
        """Record audio sent to Twilio; returns the name of the mark to send right after it, or
        None when `mark` is False (the audio joins the chunk the next mark will close)."""
        key = (item_id, content_index)
        item = self._items.get(key)
        if item is None:
            item = self._items[key] = _Item()
        item.received += nbytes
        if not self._pending:
            self._head_since = now_ms
        last = self._pending[-1] if self._pending else None
        if last is not None and last.seq is None and last.item == key:
            last.end, last.size = item.received, last.size + nbytes
        else:
            if last is not None and last.seq is None:
                self._close(last)
            self._pending.append(_Chunk(None, key, item.received, nbytes, now_ms))
        return self.mark() if mark else None

    def mark(self) -> str | None:
        """Close the open chunk; the name of the mark to send for it (None: nothing open)."""
        last = self._pending[-1] if self._pending else None
        if last is None or last.seq is not None:
            return None
        return self._close(last)

    def _close(self, chunk: _Chunk) -> str:
        self._seq += 1
        chunk.seq = self._seq
        return f"{self.generation}:{self._seq}"

    def on_mark(self, name: str, now_ms: float) -> bool:
        """A mark echoed by Twilio; False when it is stale (older generation) or unknown."""
        gen, _, seq_text = name.partition(":")
        if gen != str(self.generation) or not seq_text.isdigit():
            self.stale_marks += 1
            return False
        seq = int(seq_text)
        matched = False
        while self._pending and self._pending[0].seq is not None and self._pending[0].seq <= seq:
            chunk = self._pending.popleft()
            self._items[chunk.item].played = chunk.end
            matched = True
        if matched:
            self._head_since = now_ms
        return matched

    def on_clear(self) -> None:
        """Twilio's buffer was emptied: whatever is pending was never heard."""
        self.generation += 1
        self._pending.clear()
        self._items.clear()

    def received_ms(self, item_id: str, content_index: int = 0) -> float:
        item = self._items.get((item_id, content_index))
        return item.received / self.bytes_per_ms if item else 0.0

    def played_ms(self, item_id: str, content_index: int, now_ms: float) -> float:
        key = (item_id, content_index)
        item = self._items.get(key)
        if item is None:
            return 0.0
        played = item.played
        if self._pending and self._pending[0].item == key:
            head = self._pending[0]
            started = max(self._head_since, head.sent_at)
            elapsed = max(0.0, now_ms - started) * self.bytes_per_ms
            played = head.end - head.size + min(int(elapsed), head.size)
        return played / self.bytes_per_ms

    def playing(self) -> ItemKey | None:
        """The item whose audio the caller is hearing (or is next to hear)."""
        return self._pending[0].item if self._pending else None

    def truncate_point(self, now_ms: float) -> tuple[str, int, int] | None:
        """Where to cut the playing item on a barge-in, or None when nothing unheard remains.

        `audio_end_ms = min(played, received)`: never past what OpenAI sent (a truncate past the
        end is an error that silences some bridges for the rest of the call), never negative.
        """
        key = self.playing()
        if key is None:
            return None
        received = self._items[key].received / self.bytes_per_ms
        played = min(self.played_ms(*key, now_ms), received)
        if played >= received:
            return None
        return key[0], key[1], max(0, int(played))
