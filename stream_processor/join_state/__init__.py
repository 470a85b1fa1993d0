"""Join state: the latest image of every source row a joined dimension needs, shared by every
worker. ``interface`` is what the processor asks of it (``JoinState``, and the contract that
makes racing workers safe); ``memory`` and ``dynamodb`` are its two stores (in one process, for
tests and a batch's snapshot; in DynamoDB, in AWS); ``codec`` is how they both store an image.
A batch's reads and writes are planned in ``stream_processor.join_batch``."""
