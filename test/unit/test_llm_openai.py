"""The OpenAI-compatible HTTP backend against ScriptedOpenAIServer (a test double on loopback), and the factory."""
from __future__ import annotations

import base64
import io
import socket

import numpy as np
import pytest
from llm_double import ScriptedOpenAIServer

from planner_ros.llm import (
    ChatMessage,
    Completion,
    ImagePart,
    LLMError,
    OpenAIChatModel,
    TextPart,
    TransformersChatModel,
    image_part,
    make_chat_model,
)
from planner_ros.llm import openai_http

USER = (ChatMessage("system", "You plan robot tasks."), ChatMessage("user", "put the cup in the sink"))


def _model(server: ScriptedOpenAIServer, **kwargs) -> OpenAIChatModel:
    kwargs.setdefault("backoff_s", 0.001)
    kwargs.setdefault("timeout_s", 5.0)
    return OpenAIChatModel(server.url, "test-model", **kwargs)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff waits recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(openai_http, "_sleep", recorded.append)
    return recorded


def test_n_answers_and_usage_summed():
    with ScriptedOpenAIServer(["pick cup", "place cup in sink", "open tap"]) as server:
        result = _model(server).complete(USER, n=3, temperature=0.7, top_p=0.9, max_tokens=64, stop=["END"])
    assert isinstance(result, Completion)
    assert result.texts == ("pick cup", "place cup in sink", "open tap")
    assert result.calls == 1 and result.model == "openai:test-model" and result.latency_s > 0
    assert result.prompt_tokens == 4 + 6  # words of both messages, as the double counts
    assert result.completion_tokens == 2 + 4 + 2
    (body,) = server.requests
    assert body["model"] == "test-model" and body["n"] == 3 and body["temperature"] == 0.7
    assert body["top_p"] == 0.9 and body["max_tokens"] == 64 and body["stop"] == ["END"]
    assert body["messages"] == [{"role": "system", "content": "You plan robot tasks."},
                                {"role": "user", "content": "put the cup in the sink"}]
    assert server.headers[0]["content-type"] == "application/json"


def test_no_stop_key_when_no_stop_strings():
    with ScriptedOpenAIServer(["a"]) as server:
        _model(server).complete(USER)
    assert "stop" not in server.requests[0]


def test_fewer_choices_than_n_makes_further_requests():
    # The server ignores n like llama.cpp and Ollama: one choice per request.
    script = [{"choices": 1, "text": "one"}, {"choices": 1, "text": "two"}, {"choices": 1, "text": "three"}]
    with ScriptedOpenAIServer(script) as server:
        result = _model(server).complete(USER, n=3, temperature=1.0)
    assert result.texts == ("one", "two", "three")
    assert result.calls == 3
    assert [r["n"] for r in server.requests] == [3, 2, 1]  # asks only for what is still missing
    assert result.prompt_tokens == 3 * 10 and result.completion_tokens == 3


def test_more_choices_than_asked_are_cut_to_n():
    raw = '{"choices": [%s]}' % ", ".join('{"message": {"content": "%s"}}' % t for t in "abc")
    with ScriptedOpenAIServer([{"raw": raw}]) as server:
        result = _model(server).complete(USER, n=2)
    assert result.texts == ("a", "b") and result.calls == 1 and result.prompt_tokens == 0


def test_missing_usage_counts_zero():
    with ScriptedOpenAIServer([{"no_usage": True, "text": "ok"}]) as server:
        result = _model(server).complete(USER)
    assert result.texts == ("ok",) and result.prompt_tokens == 0 and result.completion_tokens == 0


def test_retry_on_500_then_success(waits):
    with ScriptedOpenAIServer([{"status": 500, "body": "overloaded"}, {"status": 503, "body": "busy"},
                               "fine"]) as server:
        result = _model(server, max_retries=3, backoff_s=0.01).complete(USER)
    assert result.texts == ("fine",)
    assert result.calls == 3 and len(server.requests) == 3
    assert waits == [0.01, 0.02]  # exponential backoff


def test_retry_after_is_honoured_and_capped(waits):
    script = [{"status": 429, "body": "slow down", "headers": {"Retry-After": "0.25"}},
              {"status": 429, "body": "slow down", "headers": {"Retry-After": "3600"}}, "done"]
    with ScriptedOpenAIServer(script) as server:
        result = _model(server, max_retries=2).complete(USER)
    assert result.texts == ("done",)
    assert waits == [0.25, openai_http.MAX_RETRY_AFTER_S]


def test_5xx_after_all_retries_is_http_error(waits):
    with ScriptedOpenAIServer([{"status": 502, "body": "bad gateway upstream"}]) as server:
        with pytest.raises(LLMError) as caught:
            _model(server, max_retries=2).complete(USER)
    assert caught.value.kind == "http"
    assert "502" in str(caught.value) and "bad gateway upstream" in str(caught.value)
    assert "3 attempt(s)" in str(caught.value)
    assert len(server.requests) == 3 and len(waits) == 2


def test_400_is_not_retried_and_names_status_and_server_text(waits):
    long_text = "model 'nope' does not exist " + "x" * 2000
    body = '{"error": {"message": "%s", "type": "invalid_request_error"}}' % long_text
    with ScriptedOpenAIServer([{"status": 400, "body": body}, "never"]) as server:
        with pytest.raises(LLMError) as caught:
            _model(server, max_retries=3).complete(USER)
    message = str(caught.value)
    assert caught.value.kind == "http"
    assert "400" in message and "model 'nope' does not exist" in message
    assert len(message) < 800  # the server's text is truncated
    assert len(server.requests) == 1 and waits == []


def test_401_hints_at_the_key_variable(monkeypatch):
    monkeypatch.setenv("MY_LLM_KEY", "k")
    with ScriptedOpenAIServer([{"status": 401, "body": "invalid key"}]) as server:
        with pytest.raises(LLMError, match="MY_LLM_KEY") as caught:
            _model(server, api_key_env="MY_LLM_KEY").complete(USER)
    assert caught.value.kind == "http"


def test_timeout_after_retries():
    script = [{"delay_s": 5.0, "text": "too late"}]
    with ScriptedOpenAIServer(script) as server:
        model = _model(server, timeout_s=0.2, max_retries=1, backoff_s=0.001)
        with pytest.raises(LLMError) as caught:
            model.complete(USER)
    assert caught.value.kind == "timeout"
    assert "0.2 s" in str(caught.value) and "2 attempt(s)" in str(caught.value)
    assert server.url.split("/v1")[0] in str(caught.value)
    assert len(server.requests) == 2


@pytest.mark.parametrize("script, what", [
    ([{"raw": "not json"}], "not JSON"),
    ([{"raw": '{"id": "x"}'}], "no 'choices' list"),
    ([{"raw": '{"choices": [{"message": {"content": 42}}]}'}], "no string message.content"),
    ([{"raw": '{"choices": [{"message": {"content": null}}]}'}], "no string message.content"),
    ([{"raw": "[1, 2]"}], "not an object"),
    ([{"choices": 0, "text": "unused"}], "no choices"),
])
def test_malformed_answers(script, what):
    with ScriptedOpenAIServer(script) as server:
        with pytest.raises(LLMError, match=what) as caught:
            _model(server).complete(USER)
    assert caught.value.kind == "malformed"
    assert len(server.requests) == 1  # a malformed answer is not retried


def test_malformed_quotes_an_excerpt():
    with ScriptedOpenAIServer([{"raw": "<html>gateway page" + " filler" * 500}]) as server:
        with pytest.raises(LLMError) as caught:
            _model(server).complete(USER)
    assert "<html>gateway page" in str(caught.value) and len(str(caught.value)) < 800


def test_unreachable_port_names_the_url(waits):
    # A bound socket that never listens: connections to it are refused at once.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        model = OpenAIChatModel(url, "m", max_retries=2, backoff_s=0.001)
        with pytest.raises(LLMError) as caught:
            model.complete(USER)
    assert caught.value.kind == "unreachable"
    assert f"{url}/chat/completions" in str(caught.value) and "3 attempt(s)" in str(caught.value)
    assert len(waits) == 2


def test_api_key_sent_as_bearer(monkeypatch):
    monkeypatch.setenv("PLANNER_TEST_KEY", "sk-test-123")
    with ScriptedOpenAIServer(["hi"]) as server:
        model = _model(server, api_key_env="PLANNER_TEST_KEY", api_key_required=True,
                       extra_headers={"X-Org": "lab"})
        model.complete(USER)
    assert server.headers[0]["authorization"] == "Bearer sk-test-123"
    assert server.headers[0]["x-org"] == "lab"
    assert "sk-test-123" not in repr(model)


def test_no_key_no_authorization_header(monkeypatch):
    monkeypatch.delenv("PLANNER_TEST_KEY", raising=False)
    with ScriptedOpenAIServer(["hi"]) as server:
        _model(server, api_key_env="PLANNER_TEST_KEY").complete(USER)
    assert "authorization" not in server.headers[0]


def test_missing_required_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("PLANNER_TEST_KEY", raising=False)
    with pytest.raises(LLMError, match="PLANNER_TEST_KEY") as caught:
        OpenAIChatModel("http://127.0.0.1:9/v1", "m", api_key_env="PLANNER_TEST_KEY", api_key_required=True)
    assert caught.value.kind == "config"


def test_image_parts_serialised_as_data_urls():
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[1, 2] = (255, 0, 0)
    part = image_part(rgb)
    assert part.data_url.startswith("data:image/png;base64,")
    from PIL import Image
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(part.data_url.split(",", 1)[1]))))
    assert np.array_equal(decoded, rgb)  # PNG is lossless
    assert image_part(rgb, "jpeg").data_url.startswith("data:image/jpeg;base64,")
    message = ChatMessage("user", [TextPart("Is the cup in the sink?"), part])
    assert isinstance(message.content, tuple) and message.has_images
    with ScriptedOpenAIServer(["yes"]) as server:
        _model(server).complete([message])
    assert server.requests[0]["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "Is the cup in the sink?"},
        {"type": "image_url", "image_url": {"url": part.data_url}}]}]


def test_image_part_rejects_bad_input():
    with pytest.raises(ValueError, match="uint8"):
        image_part(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="format"):
        image_part(np.zeros((4, 4, 3), np.uint8), "bmp")


def test_message_and_argument_checks():
    with pytest.raises(ValueError, match="role"):
        ChatMessage("", "x")
    with pytest.raises(TypeError, match="TextPart"):
        ChatMessage("user", ("plain string part",))
    model = OpenAIChatModel("http://127.0.0.1:9/v1", "m")
    for kwargs, match in [({"n": 0}, "n must"), ({"temperature": -1.0}, "temperature"), ({"top_p": 0.0}, "top_p"),
                          ({"max_tokens": 0}, "max_tokens"), ({"stop": "END"}, "stop")]:
        with pytest.raises(ValueError, match=match):
            model.complete(USER, **kwargs)
    with pytest.raises(ValueError, match="at least one message"):
        model.complete([])
    with pytest.raises(ValueError, match="base_url"):
        OpenAIChatModel("127.0.0.1:8000/v1", "m")
    with pytest.raises(ValueError, match="max_retries"):
        OpenAIChatModel("http://127.0.0.1:8000/v1", "m", max_retries=-1)
    with pytest.raises(ValueError, match="kind"):
        LLMError("x", kind="other")


def test_double_rejects_unknown_script_keys():
    with pytest.raises(ValueError, match="unknown script keys"):
        ScriptedOpenAIServer([{"stauts": 500}])


def test_factory_builds_each_backend(tmp_path):
    assert make_chat_model({"backend": "none"}) is None
    assert make_chat_model({"backend": "none", "model": "ignored", "device": "cpu"}) is None
    model = make_chat_model({"backend": "openai", "base_url": "http://127.0.0.1:8000/v1/", "model": "qwen",
                             "timeout_s": 3.0, "max_retries": 0, "backoff_s": 0.5, "api_key_env": "NO_SUCH_KEY"})
    assert isinstance(model, OpenAIChatModel)
    assert model.name == "openai:qwen" and model.url == "http://127.0.0.1:8000/v1/chat/completions"
    assert (model.timeout_s, model.max_retries, model.backoff_s) == (3.0, 0, 0.5)
    with pytest.raises(LLMError) as caught:  # the transformers branch is reached and reports the missing dir
        make_chat_model({"backend": "transformers", "model": str(tmp_path / "absent"), "device": "cpu"})
    assert caught.value.kind == "weights"
    assert TransformersChatModel  # exported from the package


@pytest.mark.parametrize("config, match", [
    ({}, r"backend None is not one of 'none', 'openai', 'transformers'"),
    ({"backend": "ollama"}, "'none', 'openai', 'transformers'"),
    ({"backend": "openai", "model": "m"}, "needs base_url"),
    ({"backend": "openai", "base_url": "", "model": ""}, "needs base_url, model"),
    ({"backend": "transformers"}, "needs model"),
    ({"backend": "openai", "base_url": "http://h/v1", "model": "m", "device": "cuda"},
     "device are not used by chat model backend 'openai'; it takes: backend, base_url, model"),
    ({"backend": "transformers", "model": "m", "timeout_s": 3}, "timeout_s are not used"),
    ({"backend": "openai", "base_url": "http://h/v1", "model": "m", "temprature": 0.5}, "temprature"),
    ({"backend": "none", "colour": "red"}, "unknown chat model key"),
])
def test_factory_errors(config, match):
    with pytest.raises(ValueError, match=match):
        make_chat_model(config)


def test_content_parts_are_frozen():
    part = TextPart("x")
    with pytest.raises(AttributeError):
        part.text = "y"  # type: ignore[misc]
    assert ImagePart("data:image/png;base64,") == ImagePart("data:image/png;base64,")
