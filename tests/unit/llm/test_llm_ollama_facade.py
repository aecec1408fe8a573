"""The test-only Ollama facade speaks enough of Ollama's API for the official client."""

import httpx
import ollama

from tests.support.ollama_facade import VERSION, OllamaFacade
from tests.unit.llm.llm_stubs import StubServer

MODEL = "qwen2.5-coder:1.5b"
MESSAGES = [{"role": "user", "content": "Say hello."}]


def test_official_client_lists_shows_and_chats_both_ways(stub_openai: StubServer) -> None:
    with OllamaFacade(stub_openai.url, model=MODEL) as facade:
        client = ollama.Client(host=facade.url, timeout=10)
        assert [m.model for m in client.list().models] == [MODEL]
        assert client.show(MODEL).details is not None
        whole = client.chat(model=MODEL, messages=MESSAGES, stream=False)
        assert whole.message.content == "Hello from the stub."
        assert whole.done is True and whole.eval_count == 4
        parts = list(
            client.chat(model=MODEL, messages=MESSAGES, stream=True, options={"num_ctx": 1024})
        )
        assert "".join(p.message.content or "" for p in parts) == "Hello from the stub."
        assert parts[-1].done is True and all(not p.done for p in parts[:-1])
        generated = client.generate(model=MODEL, prompt="Say hello.", stream=False)
        assert generated.response == "Hello from the stub."
        assert httpx.get(f"{facade.url}/api/version").json() == {"version": VERSION}
    assert facade.num_ctx_seen == [None, 1024, None]


def test_unknown_model_is_a_404_like_ollama(stub_openai: StubServer) -> None:
    with OllamaFacade(stub_openai.url, model=MODEL) as facade:
        response = httpx.post(f"{facade.url}/api/chat", json={"model": "nope", "messages": []})
    assert response.status_code == 404
    assert "not found" in response.json()["error"]
