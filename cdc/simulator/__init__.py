"""The ToteSys simulator: a seeded initial dataset and live OLTP traffic."""
