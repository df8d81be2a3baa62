"""One keep-alive connection pool per provider host, shared by every sender thread.

urllib3's pool costs about half the CPU per request of httpx or requests on the
sender threads' hot path (they share one interpreter lock), and it is thread-safe.
Over HTTPS each pooled connection pays its TLS handshake once, not per message.
"""

from __future__ import annotations

import ssl

import urllib3
from urllib3.util import Retry, parse_url

# A request never re-sent once it may have reached the provider: only failures to
# connect are retried here; everything else is the retry policy's decision.
CONNECT_RETRIES = Retry(total=2, connect=2, read=0, redirect=0, status=0, other=0)

# What a request through the pool raises instead of answering: refused, reset and
# timed-out connections, TLS failures.
POOL_ERRORS = (urllib3.exceptions.HTTPError, OSError)


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Certificates checked against `ca_bundle`, else the system store (and SSL_CERT_FILE)."""
    return ssl.create_default_context(cafile=ca_bundle)


def connection_pool(
    base_url: str,
    *,
    ca_bundle: str | None,
    size: int,
    timeout: float,
    headers: dict[str, str] | None = None,
) -> urllib3.HTTPConnectionPool:
    """A blocking pool of at most `size` keep-alive connections to `base_url`'s host."""
    url = parse_url(base_url)
    options = {
        "maxsize": size,
        "block": True,  # wait for a free connection rather than open and drop one
        "timeout": urllib3.Timeout(connect=timeout, read=timeout),
        "retries": CONNECT_RETRIES,
        "headers": headers or {},
    }
    if url.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            url.host, url.port, ssl_context=tls_context(ca_bundle), **options
        )
    return urllib3.HTTPConnectionPool(url.host, url.port, **options)


def path_prefix(base_url: str) -> str:
    """The path part of a base URL, without its trailing slash ("" for none)."""
    return (parse_url(base_url).path or "").rstrip("/")
