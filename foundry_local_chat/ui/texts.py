"""The app's own words, in English and Korean (the UI's two languages): the welcome screen, the
notices in a chat, the settings panel and the speed line under each answer.

Details that come from elsewhere (a server's error message, a setting's problem) stay as they
are inside these sentences; Chainlit's own interface is translated in .chainlit/translations.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from foundry_local_chat.errors import shortened
from foundry_local_chat.history.auth import ADD_A_USER
from foundry_local_chat.history.export import MAX_IMPORT_BYTES

ENGLISH, KOREAN = "en", "ko"

# Short, concrete prompts that even the bundled 135M model answers sensibly: each came back
# whole, without a loop, at temperature 0 and with seeds 1-5 at the default 0.3
# (bench/bench_loop_guard.py; tests/e2e/test_honest_about_the_model.py asks each one).
STARTERS = {
    ENGLISH: [
        ("Explain a concept", "Explain what a black hole is in two sentences."),
        ("What a CPU does", "What does a CPU do? Answer in two sentences."),
        ("Photosynthesis", "Explain photosynthesis in one sentence."),
        ("Python question", "What is a Python list? Answer in two sentences."),
    ],
    # For models that write Korean.
    KOREAN: [
        ("개념 설명", "블랙홀이 무엇인지 두 문장으로 설명해 주세요."),
        ("CPU가 하는 일", "CPU는 무슨 일을 하나요? 두 문장으로 답해 주세요."),
        ("광합성", "광합성을 한 문장으로 설명해 주세요."),
        ("파이썬 질문", "파이썬의 리스트란 무엇인가요? 두 문장으로 답해 주세요."),
    ],
}
# A Korean chat whose model writes no Korean: the same questions in English, labelled in Korean.
ENGLISH_STARTERS_IN_KOREAN = [
    (f"{topic} (영어로 묻기)", english)
    for topic, (_, english) in zip(
        ["블랙홀 설명", "CPU가 하는 일", "광합성", "파이썬 리스트"], STARTERS[ENGLISH], strict=True
    )
]


def language_of(code: str | None) -> str:
    """ko, ko-KR, … → Korean; anything else → English."""
    return KOREAN if (code or "").lower().split("-")[0] == KOREAN else ENGLISH


@dataclass(frozen=True)
class Words:
    """Everything the app itself says in a chat; `{…}` fields are filled in with str.format."""

    no_model_server: str  # {error}
    # why a server cannot answer (the {error} above, and the welcome screen)
    local_failed: str  # {reason}
    local_off: str
    no_fallback: str
    remote_silent: str  # {url} {reason}
    remote_lacks_model: str  # {url} {model} {served}
    how_to_fix: str
    settings_need_a_server: str
    settings_not_applied: str  # {error}
    settings_no_longer_apply: str  # {error}
    starting_foundry: str
    preparing_model: str  # {model}
    answer_cut_short: str  # {error}
    # why a request failed (the {error} above)
    failed_timeout: str
    failed_unreachable: str
    failed_broken_off: str
    failed_refused: str  # {status} {detail}
    failed_reported: str  # {detail}
    thinking: str
    not_saved: str  # {reason}
    save_refused: str  # {reason}
    malformed_payload: str
    not_yours: str
    saving_again: str
    history_off: str
    # each chat profile on the welcome screen: what it is, and which backend answers
    about_local: str
    about_remote: str
    about_auto: str
    remote_profile: str  # the profiles' names as the picker shows them (Foundry Local stays)
    auto_profile: str
    first_served_model: str
    local_starting: str
    local_unavailable: str  # {reason}
    auto_remote_meanwhile: str  # {local} {remote}
    auto_local_first: str  # {local} {remote} {chars}
    # the settings panel
    model: str
    system_prompt: str
    temperature: str
    max_tokens: str
    stream_the_answer: str
    # why the panel's values were refused
    model_not_served: str  # {model} {served}
    nothing: str
    system_prompt_too_long: str  # {limit}
    not_a_number: str  # {setting} {value}
    out_of_range: str  # {setting} {value} {low} {high}
    not_text: str  # {setting} {value}
    not_on_or_off: str  # {setting} {value}
    # the speed line
    stopped: str
    cut_nobody_watching: str  # {seconds}: every tab of the chat was closed that long
    cut_app_stopped: str  # the app stopped (or crashed) while the answer was being written
    being_written: str  # an answer another app instance is still writing
    stopped_before_answer: str  # stop pressed before the answer's first word
    first_token: str  # {ms}
    not_streamed: str  # {seconds}
    tokens: str  # {count}
    per_second: str  # {rate}: tokens a second
    took: str  # {seconds}: the answer's whole time
    answered_by: str  # {backend}
    regenerate: str  # the button that gives the latest answer again
    regenerate_tip: str  # its tooltip
    regenerate_only_latest: str  # that button on an answer that is no longer the latest
    previous_version: str  # the buttons between an answer's versions
    next_version: str
    previous_question_version: str  # the buttons between an edited question's versions
    next_question_version: str
    question_not_here: str  # those buttons on a question that is no longer in the chat
    versions_wait: str  # an edit or a switch while the chat's answer is being written
    answer_versions_full: str  # {most}: "answer again" on an answer with that many versions
    question_versions_full: str  # {most}: an edit of a question with that many versions
    context_gauge: str  # {percent} {used} {limit}
    waited_in_line: str  # {seconds}
    prompt_reuse: str  # {read} {reused}: prompt tokens read for this answer, kept from before
    # while the model reads a long prompt, before the answer's first token
    reading_prompt: str  # {tokens} {seconds}
    reading_prompt_for: str  # {tokens} {elapsed} {seconds}
    # what happens to input that cannot go to the model as it is
    message_too_long: str  # {tokens} {limit} {context}
    at_least: str  # {tokens}: a size too large to count exactly
    message_did_not_fit: str  # {error}
    earlier_turns_left_out: str  # {context}
    unicode_repaired: str
    # waiting for the model server
    one_answer_ahead: str
    answers_ahead: str  # {count}
    server_busy: str  # {seconds}
    server_busy_now: str
    one_answer_at_a_time: str  # a message sent while the chat's answer is still being written
    # what the model answering can do (welcome screen), and an answer stopped in a loop
    bundled_model_can: str
    model_size: str  # {model} {size}
    model_writes_korean: str
    model_writes_no_korean: str  # {model}: a catalog model that does
    loop_stopped: str
    loop_stopped_no_korean: str  # the loop came from a Korean message the model cannot read
    # documents attached to messages
    documents_welcome: str  # {count} {size} {kinds}
    reading_documents: str  # {files}
    documents_unreachable: str  # the history database is down: answered without the documents
    document_ready: str  # {file} {passages}
    document_ready_one: str  # {file} {pages}: a document of one passage
    no_file_read: str  # a question whose every attached file was refused
    document_pages: str  # {pages}: added to document_ready for a PDF
    document_unsupported: str  # {file} {kinds}
    document_not_text: str  # {file}
    document_unreadable: str  # {file} {detail}
    document_encrypted: str  # {file}
    document_empty: str  # {file}
    document_image_only: str  # {file}
    document_too_large: str  # {file} {limit}
    document_too_many: str  # {file} {limit}
    document_not_stored: str  # {file} {detail}
    document_too_slow: str  # {file} {limit}: seconds
    document_too_much_memory: str  # {file} {limit}: MB
    document_too_much_data: str  # {file} {limit}: MB decompressed
    document_busy_user: str  # {file} {limit}: files at once
    document_busy: str  # {file}
    document_removed: str  # {file}: removed from the chat with its list's remove button
    sources: str  # the heading of an answer's sources (buttons follow)
    source_given: str  # under a passage's name in its side sheet
    source_whole_given: str  # under a document's name in its side sheet, when it went whole
    source_page: str  # {file} {page}
    source_section: str  # {file} {section}
    source_passage: str  # {file} {number}
    source_again: str  # {label} {number}: a second passage with the same label
    document_tokens: str  # {count}
    chat_deleted: str  # a message sent in a chat that was deleted meanwhile
    # a chat exported as Markdown (ui/chat_export.py); the settings' names are the panel's above
    export_date: str
    export_chat_profile: str
    export_top_p: str
    export_on: str
    export_off: str
    export_none: str  # an empty system prompt
    export_documents: str
    export_pages: str  # {pages}
    export_attached: str  # {files}
    export_refused: str  # a message that was never sent to the model
    export_version: str  # {number} {count}
    export_version_shown: str
    export_sources: str  # {names}
    export_footer: str  # {time}
    # a chat file refused by the import (plain text: a dialog shows it; `…` is code)
    import_refused: str  # {reason}
    import_too_large: str  # {limit}: MB
    import_not_utf8: str
    import_not_json: str
    import_not_json_at: str  # {line} {column}
    import_too_deep: str  # {limit}
    import_bad_text: str  # {where}
    import_not_an_export: str  # {format}
    import_unknown_version: str  # {version} {format}
    import_too_many_messages: str  # {count} {limit}
    import_field: str  # {where} {problem}
    import_not_saved: str  # {reason}
    import_needs_json: str  # a request whose body is not declared JSON
    # what is wrong with a field ({problem} above)
    field_missing: str
    field_unknown: str
    field_type: str  # {kind}
    field_empty: str
    field_too_few: str  # {limit}
    field_too_long: str  # {limit}
    field_out_of_range: str  # {range}
    field_not_one_of: str  # {allowed}
    field_time: str
    field_future: str
    field_order: str
    field_version_shown: str  # {index}
    # {kind} above: a JSON type
    kind_string: str
    kind_number: str
    kind_integer: str
    kind_boolean: str
    kind_array: str
    kind_object: str
    kind_value: str


WORDS = {
    ENGLISH: Words(
        no_model_server="**No model server is available.** {error}",
        local_failed="Foundry Local: {reason}",
        local_off="Foundry Local is switched off (FOUNDRY_LOCAL=0).",
        no_fallback="BASE_URL is not set, so there is no fallback server.",
        remote_silent="BASE_URL {url} did not answer: {reason}",
        remote_lacks_model="BASE_URL {url} does not serve MODEL={model}; it serves: {served}.",
        how_to_fix="To fix it: run `make model` for the bundled model, or set BASE_URL (and "
        "API_KEY, MODEL) to an OpenAI-compatible server, then restart.",
        settings_need_a_server="Settings need a model server; none is available in this chat.",
        settings_not_applied="**Settings not applied:** {error}. "
        "The chat keeps its previous settings.",
        settings_no_longer_apply="**This chat's settings no longer apply:** {error}. "
        "It uses the defaults.",
        starting_foundry="Starting Foundry Local",
        preparing_model="Preparing {model}",
        answer_cut_short="⚠️ The answer was cut short: {error}.",
        failed_timeout="the model server did not answer in time",
        failed_unreachable="the model server cannot be reached (is it running?)",
        failed_broken_off="the connection to the model server broke off mid-answer; send your "
        "next message as usual",
        failed_refused="the model server refused the request ({status}): {detail}",
        failed_reported="the model server reported an error: {detail}",
        thinking="Thinking",
        not_saved="⚠️ **This chat is not being saved**: the history database failed ({reason}). "
        "You can keep chatting: what is said meanwhile is kept and saved when the database is "
        "back.",
        save_refused="⚠️ **A message of this chat could not be saved**: the history database "
        "refused it ({reason}).",
        saving_again="✅ Saving works again, and what could not be saved meanwhile is saved now.",
        not_yours="⚠️ **Not saved**: a message or element of this chat had the id of one in "
        "another chat, and the app changes nothing of another chat.",
        malformed_payload="⚠️ What your browser sent did not arrive in a form the app can read, "
        "so nothing was done with it. Send it again; if this keeps happening, reload the page.",
        history_off="History is off: nobody signs in to this app, so chats are not kept. To keep "
        f"them, add a user (`{ADD_A_USER}`) and restart the app.",
        about_local="The model runs on this machine through Foundry Local. Nothing leaves it.",
        about_remote="The OpenAI-compatible server at BASE_URL answers.",
        about_auto="Local first; the BASE_URL server answers when the local endpoint is down or "
        "the prompt is long.",
        first_served_model="the first model it serves",
        remote_profile="Remote",
        auto_profile="Auto",
        local_starting="**Foundry Local** is starting…",
        local_unavailable="**Foundry Local** is unavailable: {reason}.",
        auto_remote_meanwhile="{local} {remote} answers meanwhile.",
        auto_local_first="{local} first; {remote} when the local endpoint is down or the prompt "
        "is longer than {chars} characters.",
        model="Model",
        system_prompt="System prompt",
        temperature="Temperature",
        max_tokens="Max tokens",
        stream_the_answer="Stream the answer",
        model_not_served="the model {model} is no longer served by this endpoint "
        "(it serves: {served})",
        nothing="nothing",
        system_prompt_too_long="the system prompt is longer than {limit} characters",
        not_a_number="{setting} {value} is not a number",
        out_of_range="{setting} {value} is outside {low}–{high}",
        not_text="{setting} {value} is not text",
        not_on_or_off="{setting} {value} is neither on nor off",
        stopped="stopped",
        cut_nobody_watching="cut: no tab had this chat open for {seconds} s",
        cut_app_stopped="cut: the app stopped while writing this answer",
        being_written="still being written: open the chat again to see more",
        stopped_before_answer="⏹️ Stopped before the answer began.",
        first_token="first token {ms} ms",
        not_streamed="not streamed: waited {seconds} s",
        tokens="{count} tokens",
        per_second="{rate} tok/s",
        took="{seconds} s",
        answered_by="Answered by {backend}",
        regenerate="Answer again",
        regenerate_tip="A new answer to the same question; this one is kept as well.",
        regenerate_only_latest="Only the latest answer can be given again.",
        previous_version="Previous version",
        next_version="Next version",
        previous_question_version="Previous version of the question",
        next_question_version="Next version of the question",
        question_not_here="That question is no longer shown in this chat.",
        versions_wait="⏳ This chat's answer is still being written: edit a question or switch "
        "its versions once it is done, or stop it first.",
        answer_versions_full="This answer already has {most} versions, the most an answer "
        "keeps. To ask differently, edit your question or send a new message.",
        question_versions_full="This question already has {most} versions, the most a "
        "question keeps, so it stays as it was. Send your new question as a new message.",
        context_gauge="context {percent}%",
        waited_in_line="waited {seconds} s in line",
        prompt_reuse="read {read} · reused {reused} tokens",
        reading_prompt="⏳ Reading {tokens} tokens of the conversation… about {seconds} s",
        reading_prompt_for="⏳ Reading {tokens} tokens of the conversation… {elapsed} s of about "
        "{seconds} s",
        message_too_long="**This message is too long for the model**: it is {tokens} tokens, and "
        "at most {limit} fit (the model reads {context} tokens at once, answer included). It was "
        "not sent, and later messages are sent without it: shorten it, or send it in parts.",
        at_least="at least {tokens}",
        message_did_not_fit="**This message did not fit in the model's context** ({error}). Later "
        "messages are sent without it: shorten it, or send it in parts.",
        earlier_turns_left_out="ℹ️ This conversation is now longer than the model can read at "
        "once ({context} tokens): the oldest messages are left out of what it is sent. They stay "
        "in the chat.",
        unicode_repaired="ℹ️ Your message contained characters that are not valid text (lone "
        "surrogates); each was replaced with �.",
        one_answer_ahead="⏳ 1 answer is ahead of yours: it starts when that one is done.",
        answers_ahead="⏳ {count} answers are ahead of yours: it starts when they are done.",
        server_busy="**The model server is busy**: too many answers are waiting. Try again in "
        "{seconds} s.",
        server_busy_now="**The model server is busy**: too many answers are waiting. Try again "
        "in a moment.",
        one_answer_at_a_time="⏳ This chat's answer is still being written (here or in another "
        "tab). Your message was not sent to the model: send it again once the answer is done, or "
        "stop the answer first.",
        bundled_model_can="**What this model can do:** SmolLM2-135M has 135 million parameters "
        "and is built for offline demos. It answers short factual questions, in English only, "
        "and it can get things wrong or repeat itself.",
        model_size="**About the model:** `{model}` has about {size} parameters.",
        model_writes_korean="It writes Korean, among other languages.",
        model_writes_no_korean="⚠️ **This model does not write Korean.** Ask in English, or "
        "switch to a model that writes Korean: when this machine is online, pick one (e.g. "
        "`{model}`) in the settings panel's model list (⚙), or restart the app with "
        "`MODEL={model}`.",
        loop_stopped_no_korean="✋ The answer was stopped here: the model had begun to repeat "
        "itself. It does not read or write Korean: ask in English, or use a model that writes "
        "Korean.",
        loop_stopped="✋ The answer was stopped here: the model had begun to repeat itself. Small "
        "models do that when a question is beyond them; a shorter, more concrete question often "
        "works.",
        documents_welcome="📎 **Documents:** attach up to {count} files of up to {size} MB each "
        "to a message ({kinds}) and ask about them. They are read on this machine and stay with "
        "this chat.",
        reading_documents="Reading {files}",
        documents_unreachable="⚠️ This chat's documents cannot be searched while the history "
        "database is unreachable, so this answer is given without them. Ask again once it is "
        "back.",
        document_ready="📄 **{file}** is ready: {passages} passages{pages}. Ask about it.",
        document_ready_one="📄 **{file}** is ready: 1 passage{pages}. Ask about it.",
        no_file_read="⚠️ **No attached file could be read**, so your question was not answered: "
        "an answer would pretend to know them. Attach a file the app reads, or send the question "
        "again without one.",
        document_pages=" from {pages} pages",
        document_unsupported="⚠️ **{file}** was not read: this kind of file is not supported. "
        "Attach {kinds}.",
        document_not_text="⚠️ **{file}** was not read: it is named as text but holds binary data.",
        document_unreadable="⚠️ **{file}** could not be read: it is damaged or not what its name "
        "says (the reader said: “{detail}”).",
        document_encrypted="⚠️ **{file}** was not read: it is protected by a password. Save a copy "
        "without the password and attach that.",
        document_empty="⚠️ **{file}** was not read: it has no text.",
        document_image_only="⚠️ **{file}** was not read: its pages are images (a scan) with no text "
        "layer. Run text recognition (OCR) on it first.",
        document_too_large="⚠️ **{file}** was not read: it is larger than {limit} MB, the limit "
        "for one file.",
        document_too_many="⚠️ **{file}** was not read: one message may attach at most {limit} "
        "files. Attach it to the next message.",
        document_not_stored="⚠️ **{file}** was read but could not be stored: {detail}.",
        document_too_slow="⚠️ **{file}** was not read: reading it took longer than {limit} s, the "
        "limit for one file.",
        document_too_much_memory="⚠️ **{file}** was not read: reading it needed more than {limit} "
        "MB of memory, the limit for one file.",
        document_too_much_data="⚠️ **{file}** was not read: its compressed contents unpack to more "
        "than {limit} MB, the limit for one file.",
        document_busy_user="⚠️ **{file}** was not read: you already have {limit} file(s) being "
        "read. Attach it again once they are done.",
        document_busy="⚠️ **{file}** was not read: the server is busy reading other files. "
        "Attach it again in a minute.",
        document_removed="🗑️ **{file}** was removed from this chat: answers from here on are "
        "given without it.",
        sources="📄 Sources:",
        source_given="The passage the model was given with the question.",
        source_whole_given="The whole document: the model was given all of it with the question.",
        source_page="{file}, page {page}",
        source_section="“{section}” in {file}",
        source_passage="{file}, passage {number}",
        source_again="{label}, passage {number}",
        document_tokens="documents {count} tokens",
        chat_deleted="🗑️ **This chat was deleted**, so this message was neither answered nor "
        "saved. Start a new chat to go on.",
        export_date="Date",
        export_chat_profile="Chat profile",
        export_top_p="Top p",
        export_on="on",
        export_off="off",
        export_none="(none)",
        export_documents="Documents",
        export_pages="{pages} pages",
        export_attached="Attached: {files}",
        export_refused="(not sent to the model)",
        export_version="Version {number} of {count}",
        export_version_shown="shown",
        export_sources="Sources: {names}",
        export_footer="Exported from Foundry Local Chat on {time}.",
        import_refused="The chat was not imported: {reason}.",
        import_too_large="the file is larger than {limit} MB",
        import_not_utf8="the file is not UTF-8 text",
        import_not_json="the file is not valid JSON",
        import_not_json_at="the file is not valid JSON (line {line}, column {column})",
        import_too_deep="the file nests deeper than {limit} levels",
        import_bad_text="`{where}` holds a character that is not text (an unpaired surrogate "
        "or NUL)",
        import_not_an_export="the file is not a chat exported from Foundry Local Chat (its "
        "`format` is `{format}`)",
        import_unknown_version="the file's format version `{version}` is not one this app "
        "reads (it reads `{format}`): it may come from a newer version of the app",
        import_too_many_messages="the chat has {count} messages, and at most {limit} can be "
        "imported",
        import_field="`{where}` {problem}",
        import_not_saved="the history database could not save it ({reason}), so nothing was "
        "imported",
        import_needs_json="send the file as JSON (`Content-Type: application/json`)",
        field_missing="is missing",
        field_unknown="is not part of the format",
        field_type="must be {kind}",
        field_empty="must not be empty",
        field_too_few="must have at least {limit} items",
        field_too_long="is too long (at most {limit})",
        field_out_of_range="must lie within {range}",
        field_not_one_of="must be one of {allowed}",
        field_time="must be a time with its zone, such as `2026-01-31T12:00:00Z`",
        field_future="is in the future",
        field_order="is earlier than the message before it",
        field_version_shown="must be the text of the version shown (`versions[{index}]`)",
        kind_string="text",
        kind_number="a number",
        kind_integer="a whole number",
        kind_boolean="true or false",
        kind_array="a list",
        kind_object="an object",
        kind_value="a valid value",
    ),
    KOREAN: Words(
        no_model_server="**사용할 수 있는 모델 서버가 없습니다.** {error}",
        local_failed="Foundry Local 오류: {reason}",
        local_off="Foundry Local이 꺼져 있습니다 (FOUNDRY_LOCAL=0).",
        no_fallback="BASE_URL이 설정되지 않아 대신 답할 서버가 없습니다.",
        remote_silent="BASE_URL {url}: 답하지 않았습니다 ({reason})",
        remote_lacks_model="BASE_URL {url}: MODEL={model} 모델을 제공하지 않습니다. 제공하는 "
        "모델: {served}.",
        how_to_fix="해결 방법: 번들 모델은 `make model`로 만들거나, BASE_URL(과 API_KEY, MODEL)을 "
        "OpenAI 호환 서버로 설정한 뒤 다시 시작하세요.",
        settings_need_a_server="설정을 바꾸려면 모델 서버가 필요한데, 이 채팅에는 없습니다.",
        settings_not_applied="**설정이 적용되지 않았습니다:** {error}. 채팅은 이전 설정을 그대로 "
        "사용합니다.",
        settings_no_longer_apply="**이 채팅의 설정을 더 이상 쓸 수 없습니다:** {error}. 기본 "
        "설정을 사용합니다.",
        starting_foundry="Foundry Local 시작 중",
        preparing_model="{model} 준비 중",
        answer_cut_short="⚠️ 답변이 중간에 끊겼습니다: {error}.",
        failed_timeout="모델 서버가 제시간에 답하지 않았습니다",
        failed_unreachable="모델 서버에 연결할 수 없습니다 (실행 중인가요?)",
        failed_broken_off="답변 도중 모델 서버와의 연결이 끊겼습니다. 다음 메시지는 평소처럼 "
        "보내시면 됩니다",
        failed_refused="모델 서버가 요청을 거부했습니다 ({status}): {detail}",
        failed_reported="모델 서버가 오류를 알렸습니다: {detail}",
        thinking="생각 중",
        not_saved="⚠️ **이 채팅은 저장되지 않고 있습니다**: 기록 데이터베이스에 문제가 생겼습니다 "
        "({reason}). 채팅은 계속할 수 있습니다. 그동안의 대화는 보관했다가 데이터베이스가 "
        "돌아오면 저장합니다.",
        save_refused="⚠️ **이 채팅의 메시지 하나를 저장하지 못했습니다**: 기록 데이터베이스가 "
        "거부했습니다 ({reason}).",
        saving_again="✅ 다시 저장됩니다. 그동안 저장하지 못했던 대화도 이제 저장했습니다.",
        not_yours="⚠️ **저장하지 않았습니다**: 이 채팅의 메시지나 요소가 다른 채팅에 있는 것과 같은 "
        "ID를 가지고 있었습니다. 앱은 다른 채팅의 내용을 바꾸지 않습니다.",
        malformed_payload="⚠️ 브라우저가 보낸 내용을 앱이 읽을 수 없는 형태로 받아 아무것도 하지 "
        "않았습니다. 다시 보내 주세요. 계속 이러면 페이지를 새로 고치세요.",
        history_off="기록이 꺼져 있습니다: 로그인한 사용자가 없어 채팅이 보관되지 않습니다. "
        f"보관하려면 사용자를 추가하고(`{ADD_A_USER}`) 앱을 다시 시작하세요.",
        about_local="모델이 Foundry Local을 통해 이 컴퓨터에서 실행됩니다. 입력한 내용은 밖으로 "
        "나가지 않습니다.",
        about_remote="BASE_URL의 OpenAI 호환 서버가 답합니다.",
        about_auto="로컬 우선입니다. 로컬 엔드포인트가 멈췄거나 프롬프트가 길면 BASE_URL 서버가 "
        "답합니다.",
        first_served_model="제공하는 첫 번째 모델",
        remote_profile="원격 서버",
        auto_profile="자동",
        local_starting="**Foundry Local** 시작 중…",
        local_unavailable="**Foundry Local**: 사용할 수 없습니다 ({reason}).",
        auto_remote_meanwhile="{local} 그동안에는 {remote} 쪽에서 답합니다.",
        auto_local_first="{local} 우선입니다. 로컬 엔드포인트가 멈췄거나 프롬프트가 {chars}자보다 "
        "길면 {remote} 쪽에서 답합니다.",
        model="모델",
        system_prompt="시스템 프롬프트",
        temperature="온도",
        max_tokens="최대 토큰 수",
        stream_the_answer="답변 스트리밍",
        model_not_served="모델 {model}: 이 엔드포인트에서 더 이상 제공되지 않습니다 "
        "(제공 중: {served})",
        nothing="없음",
        system_prompt_too_long="시스템 프롬프트가 {limit}자보다 깁니다",
        not_a_number="{setting} 값 {value}: 숫자가 아닙니다",
        out_of_range="{setting} 값 {value}: {low}–{high} 범위를 벗어났습니다",
        not_text="{setting} 값 {value}: 텍스트가 아닙니다",
        not_on_or_off="{setting} 값 {value}: 켬/끔 값이 아닙니다",
        stopped="중지됨",
        cut_nobody_watching="잘림: {seconds}초 동안 이 대화를 연 탭이 없었습니다",
        cut_app_stopped="잘림: 답변을 쓰는 중에 앱이 멈췄습니다",
        being_written="아직 작성 중: 대화를 다시 열면 더 볼 수 있습니다",
        stopped_before_answer="⏹️ 답변이 시작되기 전에 중지했습니다.",
        first_token="첫 토큰 {ms}밀리초",
        not_streamed="스트리밍 안 함: {seconds}초 기다림",
        tokens="{count}토큰",
        per_second="초당 {rate}토큰",
        took="{seconds}초",
        answered_by="{backend}에서 답변",
        regenerate="다시 답하기",
        regenerate_tip="같은 질문에 새로 답합니다. 지금 답변도 남습니다.",
        regenerate_only_latest="가장 최근 답변만 다시 받을 수 있습니다.",
        previous_version="이전 답변",
        next_version="다음 답변",
        previous_question_version="질문의 이전 버전",
        next_question_version="질문의 다음 버전",
        question_not_here="그 질문은 이제 이 채팅에 보이지 않습니다.",
        versions_wait="⏳ 이 대화의 답변을 아직 쓰고 있습니다. 답변이 끝난 뒤 질문을 수정하거나 "
        "버전을 바꾸세요. 먼저 답변을 중지해도 됩니다.",
        answer_versions_full="이 답변은 이미 버전이 {most}개로, 한 답변에 둘 수 있는 최대 "
        "개수입니다. 다르게 물으려면 질문을 수정하거나 새 메시지를 보내세요.",
        question_versions_full="이 질문은 이미 버전이 {most}개로, 한 질문에 둘 수 있는 최대 "
        "개수라서 질문을 바꾸지 않았습니다. 새 질문은 새 메시지로 보내세요.",
        context_gauge="컨텍스트 {percent}%",
        waited_in_line="대기 {seconds}초",
        prompt_reuse="{read}토큰 읽음 · {reused}토큰 재사용",
        reading_prompt="⏳ 대화의 토큰 {tokens}개를 읽는 중… 약 {seconds}초",
        reading_prompt_for="⏳ 대화의 토큰 {tokens}개를 읽는 중… {elapsed}초 / 약 {seconds}초",
        message_too_long="**이 메시지는 모델이 읽기에 너무 깁니다**: {tokens} 토큰인데 최대 "
        "{limit} 토큰까지 들어갑니다 (모델은 답변을 포함해 한 번에 {context} 토큰을 읽습니다). "
        "메시지는 보내지 않았고, 이후 메시지도 이 메시지 없이 보냅니다. 줄이거나 나누어 보내세요.",
        at_least="최소 {tokens}",
        message_did_not_fit="**이 메시지는 모델의 컨텍스트에 들어가지 않았습니다** ({error}). 이후 "
        "메시지는 이 메시지 없이 보냅니다. 줄이거나 나누어 보내세요.",
        earlier_turns_left_out="ℹ️ 대화가 모델이 한 번에 읽을 수 있는 길이({context} 토큰)를 "
        "넘었습니다: 가장 오래된 메시지는 모델에 보내지 않습니다. 채팅에는 그대로 남아 있습니다.",
        unicode_repaired="ℹ️ 메시지에 올바른 텍스트가 아닌 문자(짝 없는 서로게이트)가 있어 각각 "
        "�로 바꾸었습니다.",
        one_answer_ahead="⏳ 앞에 답변 1개가 있습니다: 그 답변이 끝나면 시작합니다.",
        answers_ahead="⏳ 앞에 답변 {count}개가 있습니다: 그 답변들이 끝나면 시작합니다.",
        server_busy="**모델 서버가 바쁩니다**: 기다리는 답변이 너무 많습니다. {seconds}초 후에 "
        "다시 시도하세요.",
        server_busy_now="**모델 서버가 바쁩니다**: 기다리는 답변이 너무 많습니다. 잠시 후에 다시 "
        "시도하세요.",
        one_answer_at_a_time="⏳ 이 대화의 답변을 아직 쓰고 있습니다(이 탭 또는 다른 탭). 메시지는 "
        "모델에 보내지 않았습니다. 답변이 끝난 뒤 다시 보내거나, 먼저 답변을 중지하세요.",
        bundled_model_can="**이 모델이 할 수 있는 일:** SmolLM2-135M은 매개변수 1억 3,500만 개의 "
        "오프라인 데모용 모델입니다. 짧은 사실 질문에 영어로만 답하며, 틀리거나 같은 말을 "
        "되풀이할 수 있습니다.",
        model_size="**모델 정보:** `{model}`의 매개변수는 약 {size}개입니다.",
        model_writes_korean="한국어를 포함한 여러 언어로 답합니다.",
        model_writes_no_korean="⚠️ **이 모델은 한국어를 읽고 쓰지 못합니다.** 영어로 질문하거나, "
        "한국어를 지원하는 모델로 바꾸세요: 설정 패널(⚙)의 모델 목록에 있으면 고르세요(예: "
        "`{model}`). 목록에는 이 컴퓨터에 있는 모델만 나오며, 새 모델은 인터넷에 연결되어 있을 "
        "때만 내려받을 수 있습니다(`MODEL={model}`로 앱을 다시 시작).",
        loop_stopped_no_korean="✋ 모델이 같은 말을 되풀이하기 시작해서 답변을 여기서 "
        "멈췄습니다. 이 모델은 한국어를 읽고 쓰지 못합니다. 영어로 질문하거나 한국어를 지원하는 "
        "모델을 쓰세요.",
        loop_stopped="✋ 모델이 같은 말을 되풀이하기 시작해서 답변을 여기서 멈췄습니다. 작은 "
        "모델은 어려운 질문에서 그러곤 합니다. 더 짧고 구체적인 질문이 도움이 됩니다.",
        documents_welcome="📎 **문서:** 메시지 하나에 파일을 {count}개까지(각 {size}MB 이하, "
        "{kinds}) 첨부하고 그 내용에 대해 물어보세요. 파일은 이 컴퓨터에서 읽으며, 이 채팅에서 "
        "계속 쓸 수 있습니다.",
        reading_documents="{files} 읽는 중",
        documents_unreachable="⚠️ 기록 데이터베이스에 연결할 수 없어 이 채팅의 문서를 검색할 수 "
        "없습니다. 이번 답변은 문서 없이 드립니다. 데이터베이스가 돌아오면 다시 물어보세요.",
        document_ready="📄 **{file}** 준비 완료: {passages}개 부분{pages}. 질문해 보세요.",
        document_ready_one="📄 **{file}** 준비 완료: 1개 부분{pages}. 질문해 보세요.",
        no_file_read="⚠️ **첨부한 파일을 하나도 읽지 못해** 질문에 답하지 않았습니다. 읽지 못한 "
        "파일을 아는 척 답하게 되기 때문입니다. 앱이 읽을 수 있는 파일을 첨부하거나, 파일 없이 "
        "질문을 다시 보내세요.",
        document_pages=" ({pages}쪽)",
        document_unsupported="⚠️ **{file}**: 읽지 않았습니다. 지원하지 않는 파일 형식입니다. "
        "{kinds} 파일을 첨부하세요.",
        document_not_text="⚠️ **{file}**: 읽지 않았습니다. 텍스트 파일 이름이지만 바이너리 "
        "데이터가 들어 있습니다.",
        document_unreadable="⚠️ **{file}**: 읽을 수 없습니다. 손상되었거나 이름과 다른 "
        "형식입니다 (읽기 도구의 원래 메시지: “{detail}”).",
        document_encrypted="⚠️ **{file}**: 읽지 않았습니다. 암호로 보호되어 있습니다. 암호 "
        "없이 사본을 저장해 첨부하세요.",
        document_empty="⚠️ **{file}**: 읽지 않았습니다. 텍스트가 없습니다.",
        document_image_only="⚠️ **{file}**: 읽지 않았습니다. 페이지가 텍스트 없는 "
        "이미지(스캔)입니다. 먼저 문자 인식(OCR)을 하세요.",
        document_too_large="⚠️ **{file}**: 읽지 않았습니다. 파일 하나의 한도인 {limit}MB보다 "
        "큽니다.",
        document_too_many="⚠️ **{file}**: 읽지 않았습니다. 메시지 하나에는 파일을 "
        "{limit}개까지 첨부할 수 있습니다. 다음 메시지에 첨부하세요.",
        document_too_slow="⚠️ **{file}**은(는) 읽지 않았습니다: 파일 하나의 한도인 {limit}초보다 "
        "오래 걸렸습니다.",
        document_too_much_memory="⚠️ **{file}**은(는) 읽지 않았습니다: 파일 하나의 한도인 {limit} "
        "MB보다 많은 메모리가 필요했습니다.",
        document_too_much_data="⚠️ **{file}**은(는) 읽지 않았습니다: 압축된 내용이 파일 하나의 "
        "한도인 {limit} MB보다 크게 풀립니다.",
        document_busy_user="⚠️ **{file}**은(는) 읽지 않았습니다: 이미 파일 {limit}개를 읽고 "
        "있습니다. 끝나면 다시 첨부하세요.",
        document_busy="⚠️ **{file}**은(는) 읽지 않았습니다: 서버가 다른 파일을 읽느라 바쁩니다. "
        "잠시 후 다시 첨부하세요.",
        document_removed="🗑️ 이 채팅에서 **{file}** 문서를 뺐습니다: 이제부터는 이 문서 없이 "
        "답합니다.",
        document_not_stored="⚠️ **{file}**: 읽었지만 저장하지 못했습니다 ({detail}).",
        sources="📄 출처:",
        source_given="질문과 함께 모델에 보낸 부분입니다.",
        source_whole_given="문서 전체입니다: 질문과 함께 모델에 모두 보냈습니다.",
        source_page="{file} {page}쪽",
        source_section="{file}의 ‘{section}’ 부분",
        source_passage="{file}의 {number}번째 부분",
        source_again="{label} ({number}번째 부분)",
        document_tokens="문서 {count}토큰",
        chat_deleted="🗑️ **삭제된 채팅입니다.** 이 메시지에는 답하지 않았고 저장하지도 "
        "않았습니다. 새 채팅을 시작해 이어 가세요.",
        export_date="날짜",
        export_chat_profile="채팅 프로필",
        export_top_p="누적 확률(top_p)",
        export_on="켬",
        export_off="끔",
        export_none="(없음)",
        export_documents="문서",
        export_pages="{pages}쪽",
        export_attached="첨부: {files}",
        export_refused="(모델에 보내지 않음)",
        export_version="버전 {number}/{count}",
        export_version_shown="표시된 버전",
        export_sources="출처: {names}",
        export_footer="Foundry Local Chat에서 {time}에 내보냈습니다.",
        import_refused="채팅을 가져오지 못했습니다: {reason}.",
        import_too_large="파일이 {limit}MB보다 큽니다",
        import_not_utf8="파일이 UTF-8 텍스트가 아닙니다",
        import_not_json="파일이 올바른 JSON이 아닙니다",
        import_not_json_at="파일이 올바른 JSON이 아닙니다({line}행 {column}열)",
        import_too_deep="파일의 중첩이 {limit}단계보다 깊습니다",
        import_bad_text="`{where}`에 텍스트가 아닌 문자(짝 없는 서로게이트 또는 NUL)가 있습니다",
        import_not_an_export="Foundry Local Chat에서 내보낸 채팅 파일이 아닙니다(`format`이 "
        "`{format}`이어야 합니다)",
        import_unknown_version="이 앱이 읽지 못하는 형식 버전(`{version}`)입니다. 이 앱은 "
        "`{format}`을 읽습니다. 더 새 버전의 앱에서 내보낸 파일일 수 있습니다",
        import_too_many_messages="메시지가 {count}개입니다. 최대 {limit}개까지 가져올 수 있습니다",
        import_field="`{where}` 항목: {problem}",
        import_not_saved="기록 데이터베이스에 저장하지 못해({reason}) 아무것도 가져오지 않았습니다",
        import_needs_json="파일을 JSON으로 보내세요(`Content-Type: application/json`)",
        field_missing="없습니다",
        field_unknown="형식에 없는 항목입니다",
        field_type="{kind} 값이어야 합니다",
        field_empty="비어 있으면 안 됩니다",
        field_too_few="항목이 {limit}개 이상이어야 합니다",
        field_too_long="너무 깁니다(최대 {limit})",
        field_out_of_range="{range} 범위여야 합니다",
        field_not_one_of="다음 중 하나여야 합니다: {allowed}",
        field_time="`2026-01-31T12:00:00Z`처럼 시간대가 있는 시각이어야 합니다",
        field_future="미래의 시각입니다",
        field_order="앞 메시지보다 이른 시각입니다",
        field_version_shown="표시된 버전(`versions[{index}]`)의 내용과 같아야 합니다",
        kind_string="텍스트",
        kind_number="숫자",
        kind_integer="정수",
        kind_boolean="참·거짓",
        kind_array="목록",
        kind_object="객체",
        kind_value="올바른",
    ),
}

# A Korean message to a model that writes no Korean (the bundled one): said in Korean, whatever
# the UI's language, once per chat. The advice works offline too: the model list then holds only
# the models already on this machine.
KOREAN_TO_A_MODEL_WITHOUT_KOREAN = (
    "⚠️ **이 모델(`{model}`)은 한국어를 읽고 쓰지 못합니다.** 한국어 질문에는 뜻이 통하지 않는 "
    "영어로 답하거나 같은 말을 되풀이하기 쉽습니다. 영어로 질문해 보세요. 한국어로 대화하려면 "
    "한국어를 지원하는 모델(예: `{example}`)이 필요합니다: 설정 패널(⚙)의 모델 목록에 있으면 "
    "고르세요. 목록에는 이 컴퓨터에 있는 모델만 나오며, 새 모델은 인터넷에 연결되어 있을 때만 "
    "내려받을 수 있습니다(`MODEL={example}`로 앱을 다시 시작)."
)
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def words_for(code: str | None) -> Words:
    """The app's words for a browser language code (en-US, ko-KR, …)."""
    return WORDS[language_of(code)]


# The /browser page (ui/browser_page.py serves it, web/src/page.js fills it in). `{…}` fields are
# filled in by the page; both languages go to the page, which picks one like the chat UI does.
BROWSER_TEXTS = {
    ENGLISH: {
        "title": "The model in your browser tab",
        "intro": "The bundled model runs inside this tab: what you type here never leaves "
        "your browser, and answering needs no network.",
        "back": "← Server chat",
        "ep_webgpu": "WebGPU: a real GPU adapter ({adapter}).",
        "ep_wasm_no_webgpu": "WASM (CPU): this browser offers no WebGPU.",
        "ep_wasm_no_adapter": "WASM (CPU): WebGPU found no GPU adapter.",
        "ep_wasm_fallback": "WASM (CPU): the only WebGPU adapter is a software fallback "
        "({adapter}), far slower than WASM.",
        "ep_forced": "{ep}: chosen by the page address (?ep=).",
        "downloading": "Downloading the model: {loaded} of {total}",
        "starting": "Starting the model…",
        "ready_cache": "Model ready, loaded from this browser's cache in {seconds} s.",
        "ready_network": "Model ready, downloaded in {seconds} s and kept in this browser's "
        "cache for the next visit.",
        "ready_http_cache": "Model ready in {seconds} s (this address is not a secure context, "
        "so only the browser's HTTP cache keeps it).",
        "placeholder": "Ask the model in this tab…",
        "send": "Send",
        "stop": "Stop",
        "new_chat": "New chat",
        "you": "You",
        "assistant": "Model (in this tab)",
        "speed": "first token {first} s · {rate} tok/s · {tokens} tokens · {ep}",
        "stopped": "Stopped.",
        "failed": "The model in this tab failed: {error}",
        "digits_title": "Digits, classified in this tab",
        "digits_help": "Draw one digit (0–9), large, filling the box.",
        "classify": "Classify",
        "clear": "Clear",
        "digit_result": "It is a {digit} ({confidence} %).",
        "missing_libraries": "This page's libraries are not installed. Install Node.js 18 or "
        "newer with npm (Debian/Ubuntu: apt-get install nodejs npm), then run `make web` "
        "(`make run` does it too). The server chat works without them.",
        "missing_browser_model": "The browser copy of the model is not built: run `make model`.",
        "limits_title": "What this model can do",
        "limits": "SmolLM2-135M is a small model (135 million parameters) built for offline "
        "demos. It answers short, concrete questions, in English only, in at most {tokens} "
        "tokens, and it can get things wrong or repeat itself (an answer that loops is stopped). "
        "Here it runs on this computer's CPU (WASM), or on its GPU where the browser offers a "
        "real one (WebGPU): slower than the server chat.",
        "loop_stopped": WORDS[ENGLISH].loop_stopped,
        "loop_stopped_no_korean": "✋ The answer was stopped here: the model had begun to repeat "
        "itself. It does not read or write Korean: ask in English.",
    },
    KOREAN: {
        "title": "브라우저 탭 안의 모델",
        "intro": "내장 모델이 이 탭 안에서 실행됩니다. 여기에 입력한 내용은 브라우저 밖으로 "
        "나가지 않으며, 답변에 네트워크가 필요 없습니다.",
        "back": "← 서버 채팅",
        "ep_webgpu": "WebGPU: 실제 GPU 어댑터({adapter})를 사용합니다.",
        "ep_wasm_no_webgpu": "WASM(CPU): 이 브라우저는 WebGPU를 지원하지 않습니다.",
        "ep_wasm_no_adapter": "WASM(CPU): WebGPU가 GPU 어댑터를 찾지 못했습니다.",
        "ep_wasm_fallback": "WASM(CPU): WebGPU 어댑터가 소프트웨어 대체 어댑터({adapter})뿐이라 "
        "WASM보다 훨씬 느립니다.",
        "ep_forced": "{ep}: 페이지 주소(?ep=)로 선택했습니다.",
        "downloading": "모델 내려받는 중: {total} 중 {loaded}",
        "starting": "모델을 시작하는 중…",
        "ready_cache": "모델 준비 완료: 이 브라우저의 캐시에서 {seconds}초 만에 불러왔습니다.",
        "ready_network": "모델 준비 완료: {seconds}초 만에 내려받았고, 다음 방문을 위해 이 "
        "브라우저의 캐시에 보관했습니다.",
        "ready_http_cache": "모델 준비 완료({seconds}초). 이 주소는 보안 컨텍스트가 아니어서 "
        "브라우저의 HTTP 캐시에만 보관됩니다.",
        "placeholder": "이 탭의 모델에게 물어보세요…",
        "send": "보내기",
        "stop": "중지",
        "new_chat": "새 채팅",
        "you": "나",
        "assistant": "모델(이 탭 안)",
        "speed": "첫 토큰 {first}초 · 초당 {rate}토큰 · {tokens}토큰 · {ep}",
        "stopped": "중지했습니다.",
        "failed": "이 탭의 모델이 실패했습니다: {error}",
        "digits_title": "손글씨 숫자 인식(이 탭에서 실행)",
        "digits_help": "숫자 하나(0–9)를 칸을 채우도록 크게 그리세요.",
        "classify": "분류",
        "clear": "지우기",
        "digit_result": "{digit}입니다({confidence}%).",
        "missing_libraries": "이 페이지의 라이브러리가 설치되지 않았습니다. Node.js 18 이상과 "
        "npm을 설치한 뒤(Debian/Ubuntu: apt-get install nodejs npm) `make web`을 실행하세요"
        "(`make run`도 실행합니다). 서버 채팅은 이것 없이도 동작합니다.",
        "missing_browser_model": "브라우저용 모델이 빌드되지 않았습니다: `make model`을 "
        "실행하세요.",
        "limits_title": "이 모델이 할 수 있는 일",
        "limits": "SmolLM2-135M은 오프라인 데모용 작은 모델입니다(매개변수 1억 3,500만 개). "
        "짧고 구체적인 질문에 영어로만, 최대 {tokens}토큰으로 답하며, 틀리거나 같은 말을 "
        "되풀이할 수 있습니다(되풀이하는 답변은 중지됩니다). 이 탭에서는 이 컴퓨터의 "
        "CPU(WASM)에서, 브라우저가 실제 GPU를 제공하면 GPU(WebGPU)에서 실행되며, 서버 채팅보다 "
        "느립니다.",
        "loop_stopped": WORDS[KOREAN].loop_stopped,
        "loop_stopped_no_korean": "✋ 모델이 같은 말을 되풀이하기 시작해서 답변을 여기서 "
        "멈췄습니다. 이 모델은 한국어를 읽고 쓰지 못합니다. 영어로 질문하세요.",
    },
}


# Chainlit's page (public/chat_care.js puts them in; ui/page_texts.py serves them). "replace": text
# of Chainlit's own that its translations do not reach (hard-coded English, or the header link
# of .chainlit/config.toml), as it appears on the page → what the page shows instead.
PAGE_TEXTS = {
    ENGLISH: {
        "edit_keeps_later": "Saving this edit answers it again. The {count} later messages stay "
        "with the question's earlier version: ‹ › under the question switches back.",
        "edit_keeps_one": "Saving this edit answers it again. The later message stays with the "
        "question's earlier version: ‹ › under the question switches back.",
        "header_menu": "More",
        "export_markdown": "Export as Markdown",
        "export_json": "Export as JSON",
        "import_chat": "Import a chat…",
        "import_title": "Import a chat",
        "importing": "Importing {file}…",
        "import_too_large": "The chat was not imported: the file is larger than {limit} MB.",
        "import_no_answer": "The chat was not imported: the server did not answer ({status}).",
        "ok": "OK",
        "import_max_bytes": MAX_IMPORT_BYTES,
        # the chat's documents, above the composer
        "documents": "Documents in this chat",
        "document_pages": "{pages} pages",
        "document_page": "1 page",
        "document_chars": "{chars} characters",
        "remove_document": "Remove {name} from this chat",
        "remove_failed": "{name} could not be removed; try again.",
        "replace": {
            "Unauthorized: credentialssignin": "Wrong user name or password.",
            "credentialssignin": "Wrong user name or password.",
        },
        "patterns": [],
    },
    KOREAN: {
        "edit_keeps_later": "수정을 저장하면 이 메시지에 다시 답합니다. 그 뒤의 메시지 {count}개는 "
        "질문의 이전 버전에 남고, 질문 아래의 ‹ ›로 돌아갈 수 있습니다.",
        "edit_keeps_one": "수정을 저장하면 이 메시지에 다시 답합니다. 그 뒤의 메시지 1개는 질문의 "
        "이전 버전에 남고, 질문 아래의 ‹ ›로 돌아갈 수 있습니다.",
        "header_menu": "더 보기",
        "export_markdown": "마크다운으로 내보내기",
        "export_json": "JSON으로 내보내기",
        "import_chat": "채팅 가져오기…",
        "import_title": "채팅 가져오기",
        "importing": "{file} 가져오는 중…",
        "import_too_large": "채팅을 가져오지 못했습니다: 파일이 {limit}MB보다 큽니다.",
        "import_no_answer": "채팅을 가져오지 못했습니다: 서버가 응답하지 않았습니다({status}).",
        "ok": "확인",
        "import_max_bytes": MAX_IMPORT_BYTES,
        "documents": "이 채팅의 문서",
        "document_pages": "{pages}쪽",
        "document_page": "1쪽",
        "document_chars": "{chars}자",
        "remove_document": "이 채팅에서 {name} 빼기",
        "remove_failed": "{name}: 빼지 못했습니다. 다시 시도하세요.",
        "replace": {
            "Unauthorized: credentialssignin": "사용자 이름 또는 비밀번호가 틀렸습니다.",
            "credentialssignin": "사용자 이름 또는 비밀번호가 틀렸습니다.",
            "Model in your browser": "브라우저에서 실행하는 모델",
            "In this browser": "이 브라우저에서",
            "Toggle theme": "테마 전환",
            "Close": "닫기",
            "Toggle Sidebar": "사이드바 열기/닫기",
            "Notifications alt+T": "알림 (Alt+T)",
            "Image": "그림",
            "logo": "로고",
        },
        # (regular expression, replacement with $1…) for labels that name something
        "patterns": [["^Avatar for (.+)$", "$1 아바타"]],
    },
}


QUOTE_CHARS = 60
_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~])")


def quote(value: object, limit: int = QUOTE_CHARS) -> str:
    """Something a client sent, as a chat line may show it: on one line, at most `limit`
    characters (a 3 MB "model name" is not echoed back), and inert as Markdown."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        # repr() refuses ints of more than 4300 digits; the magnitude says enough.
        text = f"{'-' if value < 0 else ''}≈10^{int(math.log10(abs(value)))}"
    else:
        try:
            text = repr(value)
        except ValueError:  # such an int inside a list or a dict
            text = f"<{type(value).__name__}>"
    return _MARKDOWN.sub(r"\\\1", shortened(text, limit))


# Bidirectional controls (embeddings, overrides, isolates, marks): "cod\u202etxt.exe" would read
# as "codexe.txt". Shown as U+FFFD where a client's name had one.
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def without_bidi_controls(text: str) -> str:
    return BIDI_CONTROLS.sub("\ufffd", text)


def shown_name(name: str, limit: int = QUOTE_CHARS) -> str:
    """A name a client chose (a file's), as a chat line shows it: shortened, inert as Markdown,
    its bidirectional controls neutralised."""
    return _MARKDOWN.sub(r"\\\1", shortened(without_bidi_controls(name), limit))
