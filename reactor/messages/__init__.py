"""Messages: rendering a notification from templates, and SMS length accounting.

The message types themselves are in `reactor.domain.messages`.
"""
