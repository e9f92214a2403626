"""Shipments, their legs and manifests: the write side, the leg state machine, custody,
detected shipment events, and the few reads detection needs.

Every function runs in the caller's transaction. Writers that announce something call
:func:`record_shipment_event` last, because its outbox append holds a lock to commit.

- states: the leg state machine and the shipment status it implies (pure)
- manifest: creating shipments, their customers, coil custody
- legs: legs as detection reads them, status and ETA writes
- detected: detected events, recorded once and put in the outbox
- lateness: when a leg is delayed (the one definition detection and the demo share)
- eta: a leg's estimated arrival from its vehicle's latest fix (pure arithmetic)
- shipping: what has left the mill, and the contract lines' shipped status it moves
- reads: shipments, legs and coils as the API reads them, within the viewer's scope
- positions: vehicles, their latest fix and a shipment's track, as the API reads them
- rejections: the MQTT messages the ingester rejected, for the mill's staff
- devices: the device registry as the mill's staff keep it (list, register, disable,
  enable, rotate a broker password, bind), with its permission table
"""
