"""Engine speed and state size on the booking example (single core, no I/O).

Speed is measured in CPU time of this process, so other work on a shared machine skews it
less than wall time would.

Plays the whole booking dialogue (start -> booked with reminders, 11 turns) over and over
through ``flows.engine.advance`` and prints, one per line:

    turns_per_second: N     (targets >= 20000)
    state_bytes: N          (serialised mid-dialogue state, target < 1024)
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flows import loader
from flows.engine import advance
from flows.model import FlowSet
from flows.types import ButtonEvent, DialogState, Event, StartEvent, TextEvent

EXAMPLES = Path(__file__).resolve().parent.parent / "flows_examples"
NOW = datetime(2026, 1, 12, 10, 0, tzinfo=ZoneInfo("Europe/Moscow"))
DIALOGUE: list[Event] = [
    StartEvent(),
    ButtonEvent("booking"),
    TextEvent("стрижка"),
    ButtonEvent("Анна"),
    TextEvent("завтра"),
    TextEvent("2"),
    ButtonEvent("yes"),
    TextEvent("Мария"),
    TextEvent("+7 916 123-45-67"),
    TextEvent("да"),
    TextEvent("что-то непонятное"),
]
MID = 9  # state after the phone: the largest point of the dialogue


def play_once(flows: FlowSet) -> DialogState | None:
    state: DialogState | None = None
    for event in DIALOGUE:
        state = advance(flows, state, event, NOW).state
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    flows = loader.load(EXAMPLES)
    play_once(flows)  # warm caches
    turns = 0
    started = time.process_time()
    while time.process_time() - started < args.seconds:
        play_once(flows)
        turns += len(DIALOGUE)
    elapsed = time.process_time() - started
    state: DialogState | None = None
    for event in DIALOGUE[:MID]:
        state = advance(flows, state, event, NOW).state
    if state is None or not state.stack:
        raise SystemExit("the benchmark dialogue ended too early")
    size = len(state.model_dump_json(by_alias=True, exclude_defaults=True).encode())
    print(f"turns_per_second: {turns / elapsed:.0f}")
    print(f"state_bytes: {size}")


if __name__ == "__main__":
    main()
