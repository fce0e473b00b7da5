"""The Chainlit server's parts: the app state the handlers share, the guards in front of Chainlit's
routes (origins, bodies, sockets, sign-in, elements, page policy) and the operations routes.
"""
