"""The warehouse side: star-schema migrations, merge SQL, one-transaction loads, the Lambda."""
