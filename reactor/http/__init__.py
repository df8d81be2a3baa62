"""The web side: probes and metrics, receipt webhooks, the operator console."""
