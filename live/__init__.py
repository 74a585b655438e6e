"""live: a self-hostable, real-time live Q&A server.

The public surface is small on purpose: :func:`live.app.create_app` builds the
ASGI application from :class:`live.settings.Settings`, and :mod:`live.client`
speaks the WebSocket protocol described in ``docs/protocol.md``.
"""

__version__ = "0.1.0"
