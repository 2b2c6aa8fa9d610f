"""A local stand-in for Slack: the Web API methods the bot calls, and a user's clicks.

Web API calls (`/api/<method>`) are answered like Slack answers them and recorded.
A person (the page at `/`) or a test drives the other direction: a click, a modal
submission or a slash command becomes a real, signed request to the Bolt endpoint,
exactly as Slack would send it. The conversation is served at `GET /local/messages`.

By concern:
- `standin`: `SlackStandIn`, the one object the stack and tests hold;
- `state`: the recorded conversation and its journal (what a restart finds);
- `web_api`: the Web API methods the bot calls, and the faults tests inject;
- `views`: modals and App Home (`views.open`, `views.publish`, a modal's submission);
- `acts`: a user acting (clicks, slash commands, opening Home) as signed requests;
- `routes`: the HTTP face (the Web API, response_url, the page's feed and acts);
- `workspace`: the local workspace's ids (team, app, bot user, channels).

For tests: `POST /local/faults` makes the next calls of a Web API method fail the way
Slack fails them; `POST /local/response_urls` and `POST /local/triggers` mint the
response_url and trigger_id Slack would put in a request; `POST /local/channels/C/leave`
(and `/join`) takes the bot out of a channel (and back), as `conversations.info` reports.
"""
