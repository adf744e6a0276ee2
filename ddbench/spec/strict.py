"""The base of every spec section: unknown keys are errors, numbers are finite, true/false is no number.

A typo must never fall back to a default silently, and ``widths: [true]`` must not read as ``[1]``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

from .limits import reject_bool_numbers


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=True, allow_inf_nan=False)

    #: on every field; ``spec_schema`` re-declares it without the discriminator of its plugin variants
    _no_bool_numbers = field_validator("*", mode="before")(classmethod(reject_bool_numbers))
