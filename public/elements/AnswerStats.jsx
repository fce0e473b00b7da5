// The speed line under each answer, and, when the answer was given again, "< n/m >" to switch
// between its versions (the app keeps them; ui/answer_versions.py). `props` and `callAction` are
// given by Chainlit (cl.CustomElement props).
export default function AnswerStats() {
  const versions = props.versions || 1;
  const shown = props.shown || 0;
  const show = (index) =>
    callAction({ name: "show_version", payload: { answer: props.answer, index } });
  return (
    <div className="flex flex-wrap items-center gap-2">
      {versions > 1 ? (
        <span data-testid="answer-versions" className="inline-flex items-center gap-1 text-xs">
          <button
            type="button"
            className="px-1 disabled:opacity-40"
            aria-label={props.previous}
            title={props.previous}
            disabled={shown <= 0}
            onClick={() => show(shown - 1)}
          >
            ‹
          </button>
          <span data-testid="answer-version">{`${shown + 1}/${versions}`}</span>
          <button
            type="button"
            className="px-1 disabled:opacity-40"
            aria-label={props.next}
            title={props.next}
            disabled={shown >= versions - 1}
            onClick={() => show(shown + 1)}
          >
            ›
          </button>
        </span>
      ) : null}
      <div
        data-testid="answer-stats"
        className="text-xs text-muted-foreground"
        title={props.title || `Answered by ${props.backend}`}
      >
        {props.summary}
      </div>
    </div>
  );
}
