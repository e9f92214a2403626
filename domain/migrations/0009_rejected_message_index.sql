-- `rejectedMessages(filter: {deviceCode})` reads one device's rejected messages newest
-- first, a keyset page at a time (id < cursor ORDER BY id DESC). Without this index a
-- device with few or no rejections walks the whole primary key backwards: 0.2 to 0.3 s
-- at 2 million rows, growing with the table; with it, well under a millisecond.
CREATE INDEX rejected_message_device_idx ON rejected_message (device_code, id);
