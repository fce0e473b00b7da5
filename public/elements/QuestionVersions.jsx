// Under an edited question: "< n/m >" switches between its versions, each with the turns that
// followed it (the app keeps them; ui/question_versions.py). `props` and `callAction` are given
// by Chainlit (cl.CustomElement props).
export default function QuestionVersions() {
  const versions = props.versions || 1;
  const shown = props.shown || 0;
  const show = (index) =>
    callAction({ name: "show_question_version", payload: { question: props.question, index } });
  return (
    <span
      data-testid="question-versions"
      className="inline-flex items-center gap-1 text-xs text-muted-foreground"
    >
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
      <span data-testid="question-version">{`${shown + 1}/${versions}`}</span>
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
  );
}
