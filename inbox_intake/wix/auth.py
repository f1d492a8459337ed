"""The two ways a server authenticates to Wix: an API key, or an OAuth app's client credentials.

An auth object gives the headers for each API request and, when Wix answers 401, says whether a
fresh credential is worth one more try. Neither ever shows its secret in `repr`, logs or errors.
"""

import threading
import time


class ApiKeyAuth:
    """`Authorization: <key>` (raw, no `Bearer`) plus `wix-site-id` (or, for account-level keys,
    `wix-account-id`). Wix wants one or the other, never both."""

    def __init__(self, api_key: str, *, site_id: str = "", account_id: str = ""):
        if not api_key:
            raise ValueError("An API key is required.")
        if site_id and account_id:
            raise ValueError("Give a site id or an account id, not both: Wix rejects both at once.")
        self._api_key = api_key
        self.site_id = site_id
        self.account_id = account_id

    def headers(self, client) -> dict[str, str]:
        headers = {"Authorization": self._api_key}
        if self.site_id:
            headers["wix-site-id"] = self.site_id
        elif self.account_id:
            headers["wix-account-id"] = self.account_id
        return headers

    def refresh(self) -> bool:
        """An API key does not expire: a 401 is final."""
        return False

    def __repr__(self) -> str:
        return f"ApiKeyAuth(site_id={self.site_id!r}, account_id={self.account_id!r})"


class OAuthAppAuth:
    """Client-credentials access token for one installation (instance) of a Wix app.

    The token is fetched on first use and shared by every request of the process until shortly
    before it expires; a 401 drops it so the next request fetches a new one.
    """

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        instance_id: str,
        *,
        expiry_margin: float = 300.0,
        clock=time.monotonic,
    ):
        if not (app_id and app_secret and instance_id):
            raise ValueError("OAuth app auth needs an app id, an app secret and an instance id.")
        self.app_id = app_id
        self._app_secret = app_secret
        self.instance_id = instance_id
        self._expiry_margin = expiry_margin
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._token_expires_at = 0.0

    def headers(self, client) -> dict[str, str]:
        return {"Authorization": self._valid_token(client)}

    def refresh(self) -> bool:
        with self._lock:
            self._token = None
        return True

    def _valid_token(self, client) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._token_expires_at:
                answer = client.request_token(
                    {
                        "grant_type": "client_credentials",
                        "client_id": self.app_id,
                        "client_secret": self._app_secret,
                        "instance_id": self.instance_id,
                    }
                )
                lifetime = float(answer.get("expires_in") or 0)
                self._token = answer["access_token"]
                margin = min(self._expiry_margin, lifetime / 10)
                self._token_expires_at = self._clock() + lifetime - margin
            return self._token

    def __repr__(self) -> str:
        return f"OAuthAppAuth(app_id={self.app_id!r}, instance_id={self.instance_id!r})"
