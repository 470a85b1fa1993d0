"""The local stack: a project-owned PostgreSQL cluster, moto's AWS emulation (HTTP/1.1 and
h2c, so the real KCL can talk to it) and the KCL MultiLangDaemon, all on 127.0.0.1."""
