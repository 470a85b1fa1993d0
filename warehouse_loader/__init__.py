"""The warehouse side: star-schema DDL and migrations, and (later) the loader Lambda."""
