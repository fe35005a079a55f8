"""Thin Bolt listeners: ack fast, parse, call a service, render. One `register(app)` per kind."""

from slack_bolt import App


def register_all(app: App) -> None:
    from handlers import actions, commands, events, options, shortcuts, views

    for module in (commands, views, shortcuts, actions, options, events):
        module.register(app)
