"""Schemathesis fuzzing of the published OpenAPI spec against a real server: no request gets a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from desk_server import Server, start

EXAMPLES_PER_OPERATION = 25  # bounded: the whole fuzz run stays well under a minute


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # small simulator and batch bounds so fuzzed requests stay quick
    srv = start(tmp_path_factory.mktemp("fuzz"), env={"CHIPWATCH_MAX_SIM_PATHS": "200"})
    yield srv
    srv.stop()


def test_no_operation_answers_5xx(server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{server.base}/openapi.json")
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) >= 20
    failures: list[str] = []
    for op in operations:
        # valid requests and deliberately invalid ones (wrong types, missing fields, out-of-range values)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy(generation_mode=mode), with_key=st.booleans())
            def run(case: schemathesis.Case, with_key: bool) -> None:
                headers = {"X-API-Key": server.admin_key} if with_key else {}
                response = case.call(base_url=server.base, headers=headers, timeout=60)
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}")

            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # an operation without inputs has no invalid form
    assert not failures, "\n".join(failures[:20])
