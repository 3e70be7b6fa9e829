"""The examples in docs/client.md run, in order, against the sandbox (blocks marked
``python no-run`` need a real CC account or a test suite and are skipped)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "client.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def test_every_runnable_example_in_the_client_guide_runs() -> None:
    blocks = BLOCK.findall(DOC.read_text())
    assert len(blocks) >= 8
    namespace: dict[str, object] = {"__name__": "docs_client"}
    for number, code in enumerate(blocks, 1):
        exec(compile(code, f"docs/client.md block {number}", "exec"), namespace)
    client = namespace["client"]
    client.close()  # type: ignore[attr-defined]
