"""The warehouse's operator tools (``warehouse-loader``): reconcile, repair, backfill, the
rejected rows' redrive, the migrations' generator and freshness, apart from ``warehouse_loader``
so the Lambda's zip holds its run-time code only."""
