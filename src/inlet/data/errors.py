"""The data domain's exceptions; the API maps each to Tidepool's error format."""

from __future__ import annotations

from inlet.model.errors import ModelError


class DataError(Exception):
    """Base of the data domain's errors."""


class ValidationFailed(DataError):
    """A request had invalid input; nothing was stored. Carries every error with its pointer."""

    def __init__(self, errors: list[ModelError]) -> None:
        super().__init__(f"{len(errors)} validation error(s)")
        self.errors = errors


class DataSetNotFound(DataError):
    def __init__(self, data_set_id: str) -> None:
        super().__init__(f"data set with id {data_set_id!r} not found")
        self.data_set_id = data_set_id


class DataSetClosed(DataError):
    def __init__(self, data_set_id: str) -> None:
        super().__init__(f"data set with id {data_set_id!r} is closed")
        self.data_set_id = data_set_id
