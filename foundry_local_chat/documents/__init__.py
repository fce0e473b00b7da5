"""Documents to chat with: a file's text, its passages, bounded reading in worker processes, the
store and what of it goes into a request. Never imports Chainlit.
"""
