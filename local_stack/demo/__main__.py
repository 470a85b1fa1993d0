"""``python -m local_stack.demo`` (``make demo``)."""

from local_stack.demo.run import main

main()
