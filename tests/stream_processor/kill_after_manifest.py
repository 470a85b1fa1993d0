"""The production record processor with one fault injected by wrapping its object store:
right after the first manifest is written, and before its checkpoint, the whole daemon
(process group) is SIGKILLed. Run by the KCL daemon as ``python -m
tests.stream_processor.kill_after_manifest`` (``test_kcl_processor_on_stack``)."""

from __future__ import annotations

import os
import signal
import sys

from contracts.batches import ObjectStore, is_manifest_key
from contracts.events import log
from stream_processor import config, kcl_app


class KillAfterManifest:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.store.put(key, body, content_type)
        if is_manifest_key(key):
            log("fault_injected", manifest=key)
            os.killpg(os.getpgid(0), signal.SIGKILL)

    def get(self, key: str) -> bytes:
        return self.store.get(key)

    def keys(self, prefix: str) -> list[str]:
        return self.store.keys(prefix)


if __name__ == "__main__":
    cfg = config.load()
    state, store, publish = kcl_app.components(cfg)
    kcl_app.serve(cfg, state, KillAfterManifest(store), publish)
    sys.exit(0)
