"""Asking Slack where the owners are (users.info; their workspace roles are kept too), at most once a day
each, for the jobs that post in their business hours. Slack slow, down or rate limiting: the run goes on
with what is remembered (else the client's zone) and asks again next time."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import select

from bot.db.models import Client, utcnow
from bot.runtime import Runtime
from bot.services import people

logger = logging.getLogger(__name__)
MAX_LOOKUPS_PER_RUN = 50  # users.info allows 100 a minute; the rest wait for the next run
GONE = {"user_not_found", "account_inactive", "user_not_visible"}  # Slack will not tell: remember "no zone"


def refresh_owner_zones(runtime: Runtime, team_id: str) -> int:
    """Ask Slack about owners not asked in the last day; how many answers were remembered."""
    now = utcnow()  # the cache's age is wall-clock time, whatever moment a job runs as
    with runtime.database.transaction() as session:
        owners = session.scalars(select(Client.owner_user_id).where(
            Client.team_id == team_id, Client.archived_at.is_(None), Client.owner_user_id.is_not(None)).distinct())
        due = people.due_for_refresh(session, team_id, owners, now)
    remembered = 0
    for user_id in due[:MAX_LOOKUPS_PER_RUN]:
        try:
            user = runtime.slack.users_info(user=user_id).get("user")
        except SlackApiError as error:
            if error.response.get("error") not in GONE:
                logger.warning("users.info for %s: %s; asking again next run", user_id, error.response.get("error"))
                break  # rate limited or failing: the others can wait too
            user = None
        except (SlackClientError, OSError) as error:
            logger.warning("users.info: Slack did not answer (%s); asking again next run", error.__class__.__name__)
            break
        with runtime.database.transaction() as session:
            people.remember_user(session, team_id, user_id, user, now)
        remembered += 1
    return remembered
