"""The MQTT ingester: topics, decoders, filters, the ordered pipeline, geofences, live state.

It depends on :mod:`domain` only, never on the API.
"""
