"""User text that reads right and stays safe (issue 11, part 5): mentions of people and channels and
http(s)/mailto links render live; broadcasts (`<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^…>`)
never; a link whose label names another place shows its real target; everything else stays escaped."""

from __future__ import annotations

import pytest

from bot.blocks import Message
from bot.blocks import text as t
from bot.parsing.tokens import unescape_slack
from tests.commands_support import mrkdwn_texts, reply, typed

BROADCASTS = ["<!channel>", "<!here>", "<!everyone>", "<!subteam^S0QA|@qa-team>", "<!date^1392734382^{date}|x>",
              "<!channel|channel>", "<!here|@here>"]


@pytest.mark.parametrize("typed_text, rendered", [
    ("<@U123|ana>", "<@U123>"),
    ("<@W0ANA>", "<@W0ANA>"),
    ("<#C1|x>", "<#C1>"),
    ("<#C0ACME|acme-internal>", "<#C0ACME>"),
    ("<https://x.example/spec.pdf|spec>", "<https://x.example/spec.pdf|spec>"),
    ("<https://x.example/spec.pdf>", "<https://x.example/spec.pdf>"),
    ("<http://x.example/a?b=1&c=2|the spec & notes>", "<http://x.example/a?b=1&amp;c=2|the spec &amp; notes>"),
    ("<mailto:jane@x.example|jane@x.example>", "<mailto:jane@x.example|jane@x.example>"),
    ("<https://x.example/spec.pdf|spec.pdf>", "<https://x.example/spec.pdf|spec.pdf>"),
    ("<https://docs.x.example/a|x.example docs>", "<https://docs.x.example/a|x.example docs>"),
])
def test_mentions_and_links_render(typed_text, rendered):
    assert t.user_text(f"see {typed_text} now", 3000) == f"see {rendered} now"


@pytest.mark.parametrize("broadcast", BROADCASTS)
def test_broadcasts_never_render_live(broadcast):
    shown = t.user_text(f"hi {broadcast} & <@U1|a>", 3000)
    assert shown == f"hi {t.escape(broadcast)} &amp; <@U1>"
    assert "<!" not in shown


@pytest.mark.parametrize("link, target", [
    ("<https://evil.example/login|https://bank.example/login>", "https://evil.example/login"),
    ("<https://evil.example|bank.example>", "https://evil.example"),
    ("<https://evil.example|www.bank.example>", "https://evil.example"),
    ("<https://evil.example/x|Log in at bank.example now>", "https://evil.example/x"),
    ("<mailto:thief@evil.example|ceo@bank.example>", "mailto:thief@evil.example"),
])
def test_a_label_naming_another_place_shows_the_real_target(link, target):
    assert t.user_text(link, 3000) == f"<{target}>"


@pytest.mark.parametrize("raw", [
    "<javascript:alert(1)|click>", "<file:///etc/passwd|f>", "<ftp://x.example|f>", "<@U1 onclick>", "<b>",
    "<@channel>", "<#general>", "a < b > c", "<", ">", "<<@U1>", "<https://x.example|a|b>",
])
def test_everything_else_stays_escaped(raw):
    shown = t.user_text(raw, 3000)
    assert "<!" not in shown
    for rendered in ("<@U1>",):
        shown = shown.replace(rendered, "")
    assert "<" not in shown and ">" not in shown, shown


def test_ampersands_and_stray_brackets_escaped():
    assert t.user_text("R&D <3 a>b <!here>", 3000) == "R&amp;D &lt;3 a&gt;b &lt;!here&gt;"


def test_text_as_stored_after_parsing_renders_the_same():
    """Command text arrives with Slack's escaping; `unescape_slack` stores it raw; rendering reads that."""
    sent = "met <@U123|ana> in <#C1|x>, " + typed("R&D <b>") + " see <https://x.example/s|spec> <!channel>"
    stored = unescape_slack(sent)
    assert t.user_text(stored, 3000) == ("met <@U123> in <#C1>, R&amp;D &lt;b&gt; see <https://x.example/s|spec> "
                                         "&lt;!channel&gt;")


def test_clipping_never_cuts_a_mention_or_a_link():
    text = "a" * 50 + " <https://x.example/very/long/path|spec>"
    for limit in range(40, 95):
        clipped = t.user_text(text, limit)
        assert len(clipped) <= limit
        assert clipped.count("<") == clipped.count(">")


def test_fallback_text_keeps_broadcasts_dead():
    sent = Message(text="Logged <!channel> <!subteam^S1> & <@U1|a>", blocks=[]).as_kwargs()
    assert "<!" not in sent["text"]


def test_a_signed_log_shows_the_mention_and_the_link_and_no_broadcast(bot):
    reply(bot.command("client add Acme key:acme owner:<@U0ANA|ana>"))
    response = bot.command("log acme call Talked with <@U0BOB|bob> in <#C0QA|qa> about "
                           "<https://x.example/spec.pdf|spec> and <https://evil.example|https://x.example> "
                           "<!channel> <!here> <!subteam^S0QA|@qa> " + typed("R&D <b>"))
    texts = "\n".join(mrkdwn_texts(reply(response)))
    assert "Talked with <@U0BOB> in <#C0QA> about <https://x.example/spec.pdf|spec> and <https://evil.example>" in texts
    assert "&lt;!channel&gt; &lt;!here&gt; &lt;!subteam^S0QA|@qa&gt; R&amp;D &lt;b&gt;" in texts
    assert "<!" not in texts
    assert "&lt;@U0BOB" not in texts and "&lt;https" not in texts
