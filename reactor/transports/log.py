"""The `console` transport: logs the rendered message instead of sending it."""

from __future__ import annotations

import uuid

import structlog

from reactor.domain.enums import Channel
from reactor.domain.messages import CardMessage, ChatMessage, Message
from reactor.support.masking import mask_recipient

log = structlog.get_logger("reactor.transports.console")


class LogTransport:
    """Used for a channel without provider credentials: the message goes to the log."""

    name = "console"

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    async def send(self, recipient: str, message: Message, reference: int = 0) -> str:
        """Log the message with the recipient masked; return a local message id."""
        message_id = f"console-{uuid.uuid4().hex[:16]}"
        if isinstance(message, str):
            log.info(
                "sms (console transport)",
                to=mask_recipient(recipient),
                body=message,
                message_id=message_id,
            )
        elif isinstance(message, ChatMessage | CardMessage):
            text = message.text if isinstance(message, ChatMessage) else message.summary
            log.info(
                f"{self.channel} (console transport)",
                to=mask_recipient(recipient),
                text=text,
                message_id=message_id,
            )
        else:
            log.info(
                "email (console transport)",
                to=mask_recipient(recipient),
                subject=message.subject,
                text=message.text,
                message_id=message_id,
            )
        return message_id

    async def close(self) -> None:
        """Nothing to close."""
