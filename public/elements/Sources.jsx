// The sources an answer was given, under it: one button per source; a click opens that source,
// and only it, in a side sheet. Nothing opens by itself (Chainlit's own side elements open, all
// stacked, whenever an answer with sources arrives). `props` is given by Chainlit.
import { useState } from "react";
import { Button } from "@/components/ui/button";
import {
  Sheet,
  SheetContent,
  SheetDescription,
  SheetHeader,
  SheetTitle,
} from "@/components/ui/sheet";

export default function Sources() {
  const [open, setOpen] = useState(null);
  const sources = props.sources || [];
  const shown = open === null ? null : sources[open];
  return (
    <div data-testid="sources" className="flex flex-wrap items-center gap-1 text-sm">
      <span className="text-muted-foreground">{props.heading}</span>
      {sources.map((source, index) => (
        <Button
          key={index}
          variant="outline"
          size="sm"
          className="h-7 px-2 normal-case"
          data-testid="source-button"
          onClick={() => setOpen(index)}
        >
          {source.label}
        </Button>
      ))}
      <Sheet open={shown !== null} onOpenChange={(isOpen) => !isOpen && setOpen(null)}>
        {shown ? (
          <SheetContent side="right" className="flex flex-col w-full sm:max-w-lg" data-testid="source-panel">
            <SheetHeader>
              <SheetTitle data-testid="source-title">{shown.label}</SheetTitle>
              <SheetDescription>{props.description}</SheetDescription>
            </SheetHeader>
            <div data-testid="source-text" className="overflow-auto flex-grow whitespace-pre-wrap text-sm">
              {shown.text}
            </div>
          </SheetContent>
        ) : null}
      </Sheet>
    </div>
  );
}
