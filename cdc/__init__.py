"""The ToteSys side: source schema, traffic simulator, DMS task definition, capture engine."""
