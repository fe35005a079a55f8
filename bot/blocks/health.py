"""A client's health in words: the rules `/cmo help health` shows, and why each client is where it is."""

from __future__ import annotations

from bot.services.status import Health, HealthLevel

HEALTH_RULES = (
    "*Green*: the last contact (call, meeting, email or visit — notes don't count) is within the "
    "client's cadence, and every schedule change has been told to the client.",
    "*Amber*: past the cadence but within twice the cadence, or no contact logged yet, or a schedule "
    "change not yet told to the client, or a promise overdue (not done by its due date).",
    "*Red*: more than twice the cadence since the last contact, or a schedule change not told to the "
    "client for more than one business day (8 business hours with the default working day, Mon–Fri "
    "09:00–17:00 in the owner's zone, not counting the client's country's public holidays), or a promise "
    "overdue for more than a week.",
)
HEALTH_ICON = {HealthLevel.GREEN: ":large_green_circle:", HealthLevel.AMBER: ":large_orange_circle:",
               HealthLevel.RED: ":red_circle:"}


def contact_reason(health: Health) -> str:
    days, cadence = health.days_since_contact, health.cadence_days
    if days is None:
        return "no contact logged yet"
    ago = "today" if days == 0 else f"{days} day{'s' if days != 1 else ''} ago"
    if days <= cadence:
        return f"last contact {ago}, cadence {cadence}d"
    if days <= 2 * cadence:
        return f"last contact {ago}, past the {cadence}d cadence"
    return f"last contact {ago}, more than twice the {cadence}d cadence"


def promises_reason(health: Health) -> str:
    count, days = health.overdue_promises, health.oldest_overdue_days
    oldest = f"{days} day{'s' if days != 1 else ''}"
    return (f"{count} promise{'s' if count != 1 else ''} overdue"
            + (f" (by {oldest})" if count == 1 else f" (the oldest by {oldest})"))


def reason(health: Health) -> str:
    """Plain words (no markup): why the client has this health."""
    reasons = []
    if health.untold_changes:
        count = health.untold_changes
        untold = f"{count} schedule change{'s' if count != 1 else ''} not told to the client"
        if health.untold_overdue:
            untold += f" for {health.untold_hours:.0f} business hours"
        reasons.append(untold)
    if health.overdue_promises:
        reasons.append(promises_reason(health))
    return "; ".join([*reasons, contact_reason(health)])


def health_line(health: Health) -> str:
    return f"{HEALTH_ICON[health.level]} *{health.level}* — {reason(health)}"
