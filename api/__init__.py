"""Keylink's HTTP and WebSocket gateway: settings, auth, the ASGI app and the CLI."""
