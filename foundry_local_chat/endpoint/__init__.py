"""The public OpenAI-compatible endpoint: the gateway in front of Foundry Local, its routes,
request checks, admission queue, warm conversations (in-process sessions) and metrics. Never
imports Chainlit or the chat.
"""
