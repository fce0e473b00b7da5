"""One chat turn, without Chainlit: the conversation sent to a backend, streamed back with timings;
the backends and the Auto profile's choice, the context window, the loop guard, thinking, the
answer queue.
"""
