"""The local services: the PostgreSQL clusters (``postgres``), the AWS emulation (``aws``,
``moto_app``), their settings (``config``), the whole stack up, down and its status
(``stack``, ``totesys-stack`` in ``cli``), and the process helpers they share
(``processes``)."""
