"""The composition root: the ``koppel`` command and the assembled app, above ``web/`` and ``engine/``.

Only this package may import everything (web, engine, nodes and the sandbox); it mounts the sandbox as the demo
plugin when ``KOPPEL_DEMO=1``. Production code below it never imports the sandbox.
"""
