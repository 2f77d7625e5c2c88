"""Language-model backends for the task planner and the verifier: one ChatModel interface over an
OpenAI-compatible HTTP endpoint and a local transformers model. torch and transformers load only when a local
model is built."""
from planner_ros.llm.base import (
    LLM_ERROR_KINDS,
    ChatMessage,
    ChatModel,
    Completion,
    ContentPart,
    ImagePart,
    LLMError,
    TextPart,
    image_part,
    message_text,
)
from planner_ros.llm.factory import BACKENDS, make_chat_model
from planner_ros.llm.openai_http import OpenAIChatModel
from planner_ros.llm.transformers_local import TransformersChatModel

__all__ = [
    "BACKENDS", "LLM_ERROR_KINDS", "ChatMessage", "ChatModel", "Completion", "ContentPart", "ImagePart", "LLMError",
    "OpenAIChatModel", "TextPart", "TransformersChatModel", "image_part", "make_chat_model", "message_text",
]
