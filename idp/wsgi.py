"""The WSGI entry point: ``granian --interface wsgi 'idp.wsgi:app'`` (docs/operating.md has
the production command).

Refuses to start on a configuration that cannot work, a database that cannot be reached
or is behind, or a keys folder it cannot use: one line on standard error names the cause
and the IDP_* setting, and the process exits with status 2.

What was made to start (the app, every module, the keys) lives as long as the process, so
the cyclic garbage collector is told to leave it alone from then on (``gc.freeze``): a
full collection walked its 200,000 objects in the middle of some request, 0.1 s once
every few hundred sign-ins.
"""

import gc
import sys

from . import StartupError, build

try:
    app = build()
except StartupError as error:
    sys.stderr.write(f"vhskoop-idp cannot start: {error}\n")
    sys.exit(2)
gc.freeze()
