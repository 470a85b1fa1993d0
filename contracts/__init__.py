"""What the stages of the pipeline agree on, and nothing else (docs/architecture.md).

- ``change_records``: Contract A, the records DMS (or ``cdc capture``) writes to Kinesis, the
  ToteSys tables' column kinds and nullability, and ``version_of``.
- ``star_schema``: Contract B, one declarative spec per warehouse table, from which the Arrow
  schemas, merge keys, references and fact → source map are derived.
- ``batches``: Contract C, the micro-batches in S3: object keys, the typed ``Manifest``, and the
  small object-store interface both stages read and write them through.
- ``events``: structured log events, one JSON object per line.

No boto3, psycopg or KCL here: the processor, the loader and the capture engine all import this
package, and it imports none of them.
"""
