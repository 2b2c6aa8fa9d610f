"""The Slack app: `request` (the door: signature, body check, Function URL adapter),
`listeners` (what each click, dialog, command and event does) and `app` (Bolt, wired)."""
