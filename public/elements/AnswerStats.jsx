// The speed line under each answer. `props` is given by Chainlit (cl.CustomElement props).
export default function AnswerStats() {
  return (
    <div
      data-testid="answer-stats"
      className="text-xs text-muted-foreground"
      title={props.title || `Answered by ${props.backend}`}
    >
      {props.summary}
    </div>
  );
}
