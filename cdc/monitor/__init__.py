"""``cdc monitor``: is CDC healthy, and how far behind is it? For a DMS task in AWS and for the
local capture engine, with one model and one output."""
