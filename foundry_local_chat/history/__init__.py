"""Chat history and who may see it: sign-in (auth), the Chainlit data layer, row ownership,
sessions that end on sign-out, and a chat's documents as the history keeps them.
"""
