// The secrets tree: paths /{environment}/{service}/{name} grouped into environment and service
// folders that open and close. Every row is a button (Tab reaches it); the arrow keys move between
// visible rows, Right opens a folder and Left closes it, as in a file browser.
import { type KeyboardEvent, useState } from "react";

interface Folder {
  name: string;
  /** `/prod/` or `/prod/api/`: unique, and what the folder's toggle is named by. */
  prefix: string;
  children: Folder[];
  secrets: string[];
}

/** Groups full paths into environment folders holding service folders holding secrets. */
export function treeOf(paths: readonly string[]): Folder[] {
  const envs = new Map<string, Folder>();
  for (const path of [...paths].sort()) {
    const [, env = "", service = ""] = path.split("/");
    let e = envs.get(env);
    if (!e) {
      e = { name: env, prefix: `/${env}/`, children: [], secrets: [] };
      envs.set(env, e);
    }
    let s = e.children.find((c) => c.name === service);
    if (!s) {
      s = { name: service, prefix: `/${env}/${service}/`, children: [], secrets: [] };
      e.children.push(s);
    }
    s.secrets.push(path);
  }
  return [...envs.values()];
}

const leaf = (path: string) => path.slice(path.lastIndexOf("/") + 1);

export function SecretsTree({
  paths,
  selected,
  onSelect,
}: {
  paths: readonly string[];
  selected: string | undefined;
  onSelect: (path: string) => void;
}) {
  // Folders start open along the selected path, and all open when there are few secrets.
  const [open, setOpen] = useState<Set<string>>(() => {
    const start = new Set<string>();
    for (const p of paths) {
      if (paths.length <= 20 || p === selected) {
        const [, env, service] = p.split("/");
        start.add(`/${env}/`);
        start.add(`/${env}/${service}/`);
      }
    }
    return start;
  });
  const toggle = (prefix: string, to?: boolean) =>
    setOpen((o) => {
      const next = new Set(o);
      if (to ?? !next.has(prefix)) next.add(prefix);
      else next.delete(prefix);
      return next;
    });

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const rows = [...e.currentTarget.querySelectorAll<HTMLButtonElement>("button[data-row]")];
    const at = rows.indexOf(document.activeElement as HTMLButtonElement);
    if (at < 0) return;
    const row = rows[at] as HTMLButtonElement;
    const move = (i: number) => rows[Math.max(0, Math.min(rows.length - 1, i))]?.focus();
    if (e.key === "ArrowDown") move(at + 1);
    else if (e.key === "ArrowUp") move(at - 1);
    else if (e.key === "Home") move(0);
    else if (e.key === "End") move(rows.length - 1);
    else if ((e.key === "ArrowRight" || e.key === "ArrowLeft") && row.dataset.prefix)
      toggle(row.dataset.prefix, e.key === "ArrowRight");
    else return;
    e.preventDefault();
  };

  const folder = (f: Folder, depth: number) => {
    const isOpen = open.has(f.prefix);
    const count = f.secrets.length + f.children.reduce((n, c) => n + c.secrets.length, 0);
    return (
      <li key={f.prefix}>
        <button
          type="button"
          className="tree-row tree-folder"
          data-row=""
          data-prefix={f.prefix}
          aria-expanded={isOpen}
          style={{ paddingLeft: `${0.4 + depth * 1.1}rem` }}
          onClick={() => toggle(f.prefix)}
        >
          <span aria-hidden="true" className="tree-mark">
            {isOpen ? "▾" : "▸"}
          </span>
          <span className="tree-name">{f.name}</span>
          <span className="muted small">
            {count} <span className="sr-only">secrets</span>
          </span>
        </button>
        {isOpen && (
          <ul>
            {f.children.map((c) => folder(c, depth + 1))}
            {f.secrets.map((p) => (
              <li key={p}>
                <button
                  type="button"
                  className="tree-row tree-secret"
                  data-row=""
                  aria-current={p === selected ? "true" : undefined}
                  aria-label={`Secret ${p}`}
                  style={{ paddingLeft: `${1.5 + (depth + 1) * 1.1}rem` }}
                  onClick={() => onSelect(p)}
                >
                  <span className="tree-name mono">{leaf(p)}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </li>
    );
  };

  if (paths.length === 0) return <p className="muted">No secrets you may list.</p>;
  return (
    <div className="secrets-tree" onKeyDown={onKeyDown}>
      <p className="sr-only">Arrow keys move between rows; Right opens a folder, Left closes it.</p>
      <ul>{treeOf(paths).map((f) => folder(f, 0))}</ul>
    </div>
  );
}
