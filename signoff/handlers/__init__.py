"""The three Lambda handlers' bodies, part of the installed package.

AWS calls them through the top-level `workflow_fn.app`, `slack_handler.app` and
`notifier.app` (the template's `Handler:` names), one-line modules that the Lambda
artifact holds and the wheel does not; `signoff dev` imports them from here.
"""
