"""Reading Istio objects field by field, so every problem names its object and path.

The lab must never guess: a field it does not know (a misspelling such as
`wieght`) or knows but cannot play (`mirror` on a TCP route, `tls`, ...) is an
error that names the object and the exact field path, e.g.
`VirtualService user-service: spec.http[1].route[0].wieght: unknown field`.
Translation code therefore reads objects only through `Node`, which checks
each message against a declared `Message` shape and collects problems instead
of stopping at the first one, so a student sees every mistake in one run.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

UINT32_MAX = 4294967295


@dataclass
class Problems:
    """Errors (which stop a render) and warnings (which only inform) of one run."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Message:
    """The shape of one Istio message: the fields the lab translates, and the
    fields Istio has but the lab cannot play, each with the reason why."""

    name: str
    fields: frozenset[str]
    unsupported: Mapping[str, str] = field(default_factory=dict)

    @staticmethod
    def of(name: str, fields: str, unsupported: Mapping[str, str] | None = None) -> Message:
        """Builds a Message from a space-separated field list (reads like the API docs)."""
        return Message(name, frozenset(fields.split()), dict(unsupported or {}))


@dataclass(frozen=True)
class Node:
    """One value inside an object, with its path and where to report problems."""

    value: Any
    path: str
    label: str
    problems: Problems

    # -- reporting -------------------------------------------------------
    def error(self, message: str) -> None:
        """Records an error about this very field."""
        self.problems.errors.append(f"{self.label}: {self.path}: {message}")

    def warn(self, message: str) -> None:
        """Records a warning about this field: legal Istio, but worth knowing."""
        self.problems.warnings.append(f"{self.label}: {self.path}: {message}")

    def error_at(self, key: str, message: str) -> None:
        """Records an error about the child field `key` (present or missing)."""
        self.problems.errors.append(f"{self.label}: {self.path}.{key}: {message}")

    # -- navigation ------------------------------------------------------
    def at(self, key: str) -> Node | None:
        """The child under `key` of a mapping node, or None when absent or null."""
        if not isinstance(self.value, dict) or self.value.get(key) is None:
            return None
        return Node(self.value[key], f"{self.path}.{key}", self.label, self.problems)

    def message(self, shape: Message) -> Node | None:
        """Checks that this node is an object of `shape`: every key known and playable.

        Returns the node when it is a mapping (even with bad keys, so that the
        caller goes on and finds the other problems too), None otherwise."""
        if not isinstance(self.value, dict):
            self.error(f"expected an object ({shape.name}), got {describe(self.value)}")
            return None
        for key in self.value:
            child = f"{self.path}.{key}"
            if key in shape.fields:
                continue
            if key in shape.unsupported:
                self.problems.errors.append(f"{self.label}: {child}: {shape.unsupported[key]}")
                continue
            known = sorted(shape.fields | set(shape.unsupported))
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"{shape.name} has: {', '.join(known)}"
            self.problems.errors.append(f"{self.label}: {child}: unknown field ({hint})")
        return self

    def items(self) -> list[Node]:
        """The elements of a list node (an error and no elements if it is not a list)."""
        if not isinstance(self.value, list):
            self.error(f"expected a list, got {describe(self.value)}")
            return []
        return [Node(v, f"{self.path}[{i}]", self.label, self.problems) for i, v in enumerate(self.value)]

    def entries(self) -> Iterator[tuple[str, Node]]:
        """The (key, child) pairs of a free-form map node such as `headers`."""
        if not isinstance(self.value, dict):
            self.error(f"expected a map, got {describe(self.value)}")
            return iter(())
        return iter((str(k), Node(v, f"{self.path}.{k}", self.label, self.problems)) for k, v in self.value.items())

    # -- optional fields: None when absent (or after reporting an error) --
    def string_at(self, key: str, allow_empty: bool = False) -> str | None:
        """The string under `key`, if any."""
        child = self.at(key)
        return None if child is None else child.string(allow_empty)

    def boolean_at(self, key: str) -> bool | None:
        """The boolean under `key`, if any."""
        child = self.at(key)
        return None if child is None else child.boolean()

    def integer_at(self, key: str, low: int = 0, high: int = UINT32_MAX) -> int | None:
        """The integer under `key`, if any."""
        child = self.at(key)
        return None if child is None else child.integer(low, high)

    def duration_at(self, key: str, minimum_ms: int = 1) -> str | None:
        """The duration under `key` as an Envoy duration, if any."""
        child = self.at(key)
        return None if child is None else child.duration(minimum_ms)

    # -- scalars (None after reporting an error) --------------------------
    def string(self, allow_empty: bool = False) -> str | None:
        """A string value."""
        if not isinstance(self.value, str):
            self.error(f"expected a string, got {describe(self.value)}")
            return None
        if not allow_empty and not self.value:
            self.error("must not be empty")
            return None
        return self.value

    def strings(self) -> list[str]:
        """A list of strings (bad elements are reported and left out)."""
        return [s for s in (n.string() for n in self.items()) if s is not None]

    def boolean(self) -> bool | None:
        """A boolean value (YAML true/false, not the string "true")."""
        if not isinstance(self.value, bool):
            self.error(f"expected true or false, got {describe(self.value)}")
            return None
        return self.value

    def integer(self, low: int = 0, high: int = UINT32_MAX) -> int | None:
        """An integer within [low, high] (Istio's int32/uint32 fields)."""
        value = self.value
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
            value = int(value)  # Kubernetes accepts quoted int-or-string numbers here.
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(f"expected an integer, got {describe(self.value)}")
            return None
        if not low <= value <= high:
            self.error(f"must be between {low} and {high}, got {value}")
            return None
        return value

    def number(self, low: float, high: float) -> float | None:
        """A number within [low, high] (Istio's double fields)."""
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            self.error(f"expected a number, got {describe(self.value)}")
            return None
        if not low <= self.value <= high:
            self.error(f"must be between {low:g} and {high:g}, got {self.value:g}")
            return None
        return float(self.value)

    def duration(self, minimum_ms: int = 1) -> str | None:
        """An Istio duration ("5s", "100ms", "1m", "1h", "1.5s", "1m30s") as an
        Envoy/protobuf duration string ("5s", "0.100s").

        Istio validates durations to millisecond precision and, for most
        fields, at least 1ms; `minimum_ms=0` admits "0s" (e.g. a disabled timeout)."""
        nanos = parse_duration(self.value)
        if nanos is None:
            self.error(f"not a duration: {self.value!r} (use e.g. 5s, 100ms, 1m, 1h, 1.5s)")
            return None
        if nanos % 1_000_000:
            self.error(f"{self.value!r}: durations are limited to millisecond precision")
            return None
        if nanos < minimum_ms * 1_000_000:
            self.error(f"{self.value!r}: must be at least {minimum_ms}ms")
            return None
        return envoy_duration(nanos)


_DURATION_UNITS = {"h": 3600 * 10**9, "m": 60 * 10**9, "s": 10**9, "ms": 10**6, "us": 10**3, "µs": 10**3, "ns": 1}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)")


def parse_duration(text: Any) -> int | None:
    """Parses a Go-style duration (what Istio accepts) into nanoseconds, or None."""
    if text == "0":
        return 0
    if not isinstance(text, str) or not text:
        return None
    total, pos = 0, 0
    for part in _DURATION_PART.finditer(text):
        if part.start() != pos:
            return None
        whole, _, frac = part.group(1).partition(".")
        scale = _DURATION_UNITS[part.group(2)]
        total += int(whole or "0") * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
        pos = part.end()
    return total if pos == len(text) else None


def envoy_duration(nanos: int) -> str:
    """Nanoseconds as a protobuf JSON duration: "3s", "0.100s", "1.500s"."""
    seconds, rest = divmod(nanos, 10**9)
    if not rest:
        return f"{seconds}s"
    return f"{seconds}.{rest:09d}".rstrip("0") + "s"


def describe(value: Any) -> str:
    """A short description of an unexpected value for error messages."""
    if value is None:
        return "nothing"
    kind = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(type(value))
    return kind or f"{type(value).__name__} {value!r}"
