"""Slack and Teams over HTTPS: the fakes serve a throwaway CA's certificate, which the
reactor trusts through PROVIDER_CA_BUNDLE, and nothing else."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.slack import FakeSlack
from tests.fakes.teams import FakeTeams
from tests.helpers import ReactorProcess, ThrowawayCA, insert_invoices, query, wait_until


def test_slack_and_teams_over_https_with_the_ca_bundle(
    reactor_env: dict[str, str], database_url: str, test_ca: ThrowawayCA, tmp_path: Path
) -> None:
    with (
        FakeSlack(tls=test_ca.server_context) as slack,
        FakeTeams(tls=test_ca.server_context) as teams,
    ):
        assert slack.url.startswith("https://") and teams.url.startswith("https://")
        env = {
            **reactor_env,
            "NOTIFICATION_RECIPIENTS": "slack:#ap-review,teams:finance",
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_API_URL": slack.api_url,
            "TEAMS_WEBHOOKS": f"finance={teams.webhook('finance')}",
            "PROVIDER_CA_BUNDLE": str(test_ca.bundle),
        }
        (invoice,) = insert_invoices(database_url, 1)
        process = ReactorProcess(env, tmp_path / "reactor.log").start()
        try:
            query(
                database_url,
                "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = %s",
                (invoice,),
            )
            slack.wait_for(1)
            teams.wait_for(1)
            wait_until(
                lambda: (
                    query(
                        database_url,
                        "SELECT method FROM notifications WHERE status = 'SENT' ORDER BY method",
                    )
                    == [("slack",), ("teams",)]
                ),
                what="both SENT",
            )
        finally:
            process.stop()
