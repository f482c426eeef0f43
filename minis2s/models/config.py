"""What every model config shares: JSON in and out, refusing fields it does not know."""

from __future__ import annotations

import dataclasses
import json

from ..errors import UserError


class JSONConfig:
    """Mixed into a config dataclass that has a ``validate()`` returning itself. ``what`` names
    the config in the error a field written by a newer minis2s gets."""

    what = "model config"

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict):
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise UserError(f"{cls.what} has unknown fields {sorted(unknown)}; was it written by a newer minis2s?")
        return cls(**d).validate()

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)
