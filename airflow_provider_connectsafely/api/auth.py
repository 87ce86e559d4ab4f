"""Bearer-token auth for requests; imported only when a client session is built."""

from __future__ import annotations

import requests


class BearerAuth(requests.auth.AuthBase):
    """Adds ``Authorization: Bearer <key>``; its repr never shows the key.

    :param key: the API key.
    """

    def __init__(self, key: str) -> None:
        self._key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._key}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(***)"
