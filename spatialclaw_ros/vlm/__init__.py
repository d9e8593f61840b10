"""OpenAI-compatible VLM client (vLLM first) and the conversation it sends."""
from spatialclaw_ros.vlm.client import ChatReply, VlmClient, VlmRequestError, VlmUsage
from spatialclaw_ros.vlm.conversation import Conversation, jpeg_data_url

__all__ = ["ChatReply", "Conversation", "VlmClient", "VlmRequestError", "VlmUsage", "jpeg_data_url"]
