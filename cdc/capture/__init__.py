"""The local capture engine: DMS's stand-in (logical decoding → DMS records → Kinesis)."""
