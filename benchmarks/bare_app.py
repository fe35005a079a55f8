"""The reference: a bare slack-bolt app that only acknowledges `/cmo`, served the way `rapport run` serves
Rapport (bot.server.GunicornServer, one gthread worker, the same options). Usage:

    python -m benchmarks.bare_app --port 3001 [--process-before-response]

Environment: SLACK_SIGNING_SECRET (requests are verified as Bolt verifies them by default) and SLACK_API_URL
(the benchmark's LocalSlack: Bolt asks auth.test once, at the first request, as it does for Rapport).
"""

from __future__ import annotations

import argparse
import os


def build(signing_secret: str, process_before_response: bool, slack_api_url: str):
    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_sdk import WebClient

    app = App(client=WebClient(token="xoxb-bare", base_url=slack_api_url), signing_secret=signing_secret,
              token_verification_enabled=False, process_before_response=process_before_response)

    @app.command("/cmo")
    def acknowledge(ack) -> None:
        ack()

    handler = SlackRequestHandler(app)

    def application(environ, start_response):
        return handler(environ, start_response)

    return application


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bare_app")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--process-before-response", action="store_true")
    args = parser.parse_args(argv)
    from bot.server import serve

    serve(build(os.environ["SLACK_SIGNING_SECRET"], args.process_before_response, os.environ["SLACK_API_URL"]),
          args.port)


if __name__ == "__main__":
    main()
