"""Slack channels through the official `slack_sdk` (`chat.postMessage`), with a bot token.

One aiohttp session, opened on the event loop at the first send and kept alive; the
SDK's own retries are off, so that a failure is classified and retried like every
other channel's (`classify_slack`). The provider message id is `channel:ts`, what
`chat.update` needs to correct the message later.
"""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from reactor.domain.decisions import FailureClass, SendError, classify_slack, retry_after_seconds
from reactor.domain.enums import Channel
from reactor.domain.messages import ChatMessage, Message
from reactor.transports.pool import POOL_ERRORS, tls_context


class SlackTransport:
    """Posts one message per call to a Slack channel (`#name` or its id)."""

    name = "slack"
    channel = Channel.SLACK

    def __init__(
        self,
        token: str,
        api_url: str,
        timeout: float,
        ca_bundle: str | None = None,
        max_connections: int = 100,
    ) -> None:
        self._token = token
        self._api_url = api_url
        self._timeout = timeout
        self._ca_bundle = ca_bundle
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None

    def _web_client(self) -> AsyncWebClient:
        if self._client is None or self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                ssl=tls_context(self._ca_bundle), limit=self._max_connections
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=self._timeout)
            )
            self._client = AsyncWebClient(
                token=self._token,
                base_url=self._api_url,
                timeout=int(max(1, self._timeout)),
                session=self._session,
                retry_handlers=[],
            )
        return self._client

    async def send(self, recipient: str, message: Message, reference: int = 0) -> str:
        """Post the message; return `channel:ts`."""
        assert isinstance(message, ChatMessage), "Slack sends chat messages"
        try:
            answer = await self._web_client().chat_postMessage(
                channel=recipient,
                text=message.text,
                blocks=list(message.blocks),
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as error:
            raise self._classified(error) from None
        except POOL_ERRORS as error:
            raise SendError(FailureClass.TRANSIENT, f"Slack unreachable: {error!r}") from None
        return f"{answer['channel']}:{answer['ts']}"

    async def update(self, message_id: str, message: ChatMessage) -> None:
        """Replace a posted message (`channel:ts`) in place (`chat.update`)."""
        channel, _, ts = message_id.partition(":")
        try:
            await self._web_client().chat_update(
                channel=channel, ts=ts, text=message.text, blocks=list(message.blocks)
            )
        except SlackApiError as error:
            raise self._classified(error) from None
        except POOL_ERRORS as error:
            raise SendError(FailureClass.TRANSIENT, f"Slack unreachable: {error!r}") from None

    @staticmethod
    def _classified(error: SlackApiError) -> SendError:
        status = int(error.response.status_code)
        code = error.response.get("error") if isinstance(error.response.data, dict) else None
        failure = classify_slack(status, code)
        text = f"Slack {status}: {code or 'no error code'}"
        if failure is FailureClass.PERMANENT:
            return SendError(failure, text)
        return SendError(failure, text, retry_after_seconds(error.response.headers))

    async def close(self) -> None:
        """Close the kept-alive connections (reopened at the next send)."""
        if self._session is not None:
            await self._session.close()
        self._session = self._client = None
