"""What every model's configuration dataclass shares."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any


class ModelConfig:
    """Base of the models' ``@dataclass`` configs: ``to_dict`` gives the JSON-ready fields that
    :func:`hsm_lib.checkpoint.save_checkpoint` stores in ``config.json``."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]  # subclasses are dataclasses
