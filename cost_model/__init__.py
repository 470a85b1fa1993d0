"""The cost model: sizing for production (Kinesis shards, ECS tasks, Lambda concurrency,
warehouse connections and the DMS instance for a change rate) and the monthly bill at AWS's
list prices, from this project's measured figures and AWS's published limits. Pure arithmetic:
no service is called.

- ``inputs``: every named input (measured figures, AWS limits, settings, assumptions, prices);
- ``measured``: the measured inputs from the benchmark figures;
- ``sizing``: the sizing arithmetic; ``cost``: the monthly bill;
- ``page``: the generated part of docs/sizing.md;
- ``cli``: ``python -m cost_model``, which reads the figures and prints or writes the page.
"""
