"""invoice-reactor: tells accounts payable, within milliseconds, that an invoice needs review."""

__version__ = "0.1.0"
