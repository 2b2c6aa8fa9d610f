"""CI gates: a CI system's hold filed as an approval, released by its outcome exactly once.

The package's names are the port's (`signoff.gates.port`); each gate is a module beside it.
"""

from signoff.gates.port import *  # noqa: F403
from signoff.gates.port import __all__ as __all__
