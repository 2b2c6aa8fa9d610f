"""Lambda entry point for Slack, clicks, modals and /signoff (body: signoff.handlers.slack).

The imports run with the garbage collector paused, and what they made is then frozen
(`gc.freeze`): some 80,000 objects that live as long as the sandbox and that the
collector would otherwise scan again and again, during the cold start (about 5% of its
instructions: docs/performance.md, section 4) and on every later request. Imports leave
next to no cyclic garbage to collect.
"""

import gc

_collecting = gc.isenabled()
gc.disable()
try:
    from signoff.handlers.slack import handler
finally:
    gc.freeze()
    if _collecting:
        gc.enable()

__all__ = ["handler"]
