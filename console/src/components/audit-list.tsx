// The audit search's result list, virtualised by hand: a tall spacer as high as every row together
// and one absolutely positioned window holding only the visible rows plus a small overscan, so ten
// thousand entries scroll as lightly as fifty. Rows have a fixed height; arrow keys move between them.
import { type KeyboardEvent, useEffect, useLayoutEffect, useRef, useState } from "react";

// Entries come many a minute: the list shows seconds.
const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const formatDateTime = (iso: string) => when.format(new Date(iso));

/** One audit log entry as GET /api/v1/audit/entries returns it. */
export interface AuditEntry {
  v: 1;
  log: string;
  seq: number;
  id: string;
  time: string;
  type: string;
  severity: string;
  actor: string;
  target?: string;
  outcome: string;
  data: Record<string, unknown>;
  hashed?: Record<string, string>;
  personal?: Record<string, string>;
  source?: string;
}

/** Pixels per row; the CSS keeps every row exactly this high. */
export const ROW_HEIGHT = 36;
const OVERSCAN = 10;

export function AuditList({
  entries,
  total,
  onOpen,
  onNearEnd,
}: {
  entries: readonly AuditEntry[];
  /** Rows the table says it has (the loaded ones, plus one while more may come). */
  total: number;
  onOpen: (entry: AuditEntry) => void;
  /** Called when the window comes within a page of the last loaded row. */
  onNearEnd: () => void;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const focusNext = useRef<number | null>(null);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    setHeight(el.clientHeight);
    const observer = new window.ResizeObserver(() => setHeight(el.clientHeight));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const start = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const end = Math.min(entries.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);

  useEffect(() => {
    if (end >= entries.length - OVERSCAN * 2) onNearEnd();
  }, [end, entries.length, onNearEnd]);

  // Focus asked for by the arrow keys lands once the row is rendered.
  useEffect(() => {
    const want = focusNext.current;
    if (want === null) return;
    const button = scroller.current?.querySelector<HTMLElement>(`[data-index="${want}"] button`);
    if (button) {
      focusNext.current = null;
      button.focus({ preventScroll: true });
    }
  });

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const keys: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: 10, PageUp: -10 };
    const step = keys[e.key];
    const el = scroller.current;
    const row = (e.target as HTMLElement).closest<HTMLElement>("[data-index]");
    if (step === undefined || !el || !row) return;
    e.preventDefault();
    const to = Math.min(entries.length - 1, Math.max(0, Number(row.dataset.index) + step));
    const top = to * ROW_HEIGHT;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight)
      el.scrollTop = top + ROW_HEIGHT - el.clientHeight;
    focusNext.current = to;
    setScrollTop(el.scrollTop);
  };

  return (
    <div className="audit-table" role="table" aria-label="Audit entries" aria-rowcount={total + 1}>
      <div role="rowgroup" className="audit-head">
        <div role="row" aria-rowindex={1} className="audit-row">
          <span role="columnheader">Time</span>
          <span role="columnheader">Type</span>
          <span role="columnheader">Actor</span>
          <span role="columnheader">Target</span>
          <span role="columnheader">Outcome</span>
        </div>
      </div>
      <div
        ref={scroller}
        className="audit-scroll"
        role="rowgroup"
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
        onKeyDown={onKeyDown}
      >
        <div className="audit-spacer" style={{ height: entries.length * ROW_HEIGHT }}>
          <div className="audit-window" style={{ transform: `translateY(${start * ROW_HEIGHT}px)` }}>
            {entries.slice(start, end).map((e, i) => (
              <div
                key={`${e.log}/${e.seq}`}
                role="row"
                aria-rowindex={start + i + 2}
                data-index={start + i}
                className={`audit-row outcome-${e.outcome}`}
                onClick={() => onOpen(e)}
              >
                <span role="cell">
                  <button
                    type="button"
                    className="audit-open"
                    onClick={(ev) => {
                      ev.stopPropagation();
                      onOpen(e);
                    }}
                    aria-label={`${formatDateTime(e.time)}, ${e.type}: show details`}
                  >
                    <time dateTime={e.time}>{formatDateTime(e.time)}</time>
                  </button>
                </span>
                <span role="cell" className="mono audit-type">
                  {e.type}
                </span>
                <span role="cell" className="mono" title={e.actor}>
                  {e.actor}
                </span>
                <span role="cell" className="mono" title={e.target}>
                  {e.target ?? "—"}
                </span>
                <span role="cell" className="audit-outcome">
                  {e.outcome}
                </span>
              </div>
            ))}
          </div>
        </div>
      </div>
    </div>
  );
}
