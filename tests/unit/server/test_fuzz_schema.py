"""Fuzz every operation of the OpenAPI schema (public and admin) with schemathesis.

Bounded: a few examples per operation, a per-request timeout, fakes for the models.
Valid and invalid requests (schemathesis' positive and negative modes); a failure is a
5xx or a request that does not finish within REQUEST_TIMEOUT_S.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr
from requests.exceptions import InvalidHeader
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from askwiki.server.app import create_app
from askwiki.settings import Settings
from askwiki.testing.fake_embedder import fake_embedder
from askwiki.testing.fake_llm import FakeLLM
from tests.support.admin import AUTH, TOKEN
from tests.support.index_builder import WIKI_PAGES, build_index

MAX_EXAMPLES = 15  # per operation and mode (valid and invalid requests)
REQUEST_TIMEOUT_S = 15


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root: Path = tmp_path_factory.mktemp("fuzz")
    embedder = fake_embedder()
    build_index(root / "indexes" / "default", WIKI_PAGES, embedder)
    app_settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        index_dir=root / "indexes",
        data_dir=root / "data",
        min_dense_score=-1.0,
        rate_limit_per_minute=0,
        session_rate_limit_per_minute=0,
        admin_token=SecretStr(TOKEN),
        max_upload_mb=2,
        pdf_timeout_s=5,
    )
    llm = FakeLLM(["LoRA was introduced by Hu et al. in 2021 [1]."])
    app = create_app(app_settings, embedder=embedder, llm_factory=lambda: llm)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    from schemathesis.python import asgi

    asgi.shutdown_lifespans()


def test_every_operation_is_fuzzed_without_server_errors_or_hangs(api_schema: Any) -> None:
    # schemathesis' pytest plugin (lazy schemas) does not run on pytest 9 yet, so each
    # operation gets a plain Hypothesis test built from its strategy.
    labels: list[str] = []
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    for operation, mode in itertools.product(operations, GenerationMode):
        labels.append(operation.label)

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
        )
        def fuzz(case: schemathesis.Case[Any]) -> None:
            response = case.call(headers=AUTH, timeout=REQUEST_TIMEOUT_S)
            case.validate_response(response, checks=[not_a_server_error])

        try:
            fuzz()
        except Unsatisfiable:
            pass  # no invalid request exists (an operation without parameters or body)
        except InvalidHeader:
            pass  # a generated header the HTTP client itself refuses to send
        except Exception as exc:
            failures.append(f"{operation.label} ({mode}): {exc}")
    assert not failures, "\n\n".join(failures)
    # Every admin and public operation was reached.
    assert {
        "POST /api/admin/documents",
        "DELETE /api/admin/documents/{doc_id}",
        "POST /api/ask",
    } <= set(labels), labels
