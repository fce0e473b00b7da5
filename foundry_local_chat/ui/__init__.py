"""What a person reads: the chat view (notices, the streamed answer, the settings panel), the app's
words in English and Korean, answer versions, what a reopened tab is shown, and the /browser
page.
"""
