from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ccbridge.service import Service
from tests.web.support import client_for, running_service


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with running_service(tmp_path / "data") as svc:
        yield svc


@pytest.fixture
def client(service: Service) -> Iterator[Any]:
    with client_for(service) as c:
        yield c
