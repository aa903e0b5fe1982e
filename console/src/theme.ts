// Light and dark: follows the system until the operator picks one, then remembers the choice.
import { useCallback, useEffect, useState } from "react";

export type Theme = "light" | "dark";
const KEY = "rampart.console.theme";
const dark = () => window.matchMedia("(prefers-color-scheme: dark)");

function chosen(): Theme | null {
  const v = localStorage.getItem(KEY);
  return v === "light" || v === "dark" ? v : null;
}

/** The theme in force and a toggle that switches and remembers it. */
export function useTheme(): [Theme, () => void] {
  const [theme, setTheme] = useState<Theme>(() => chosen() ?? (dark().matches ? "dark" : "light"));

  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);

  useEffect(() => {
    const mq = dark();
    const follow = () => {
      if (!chosen()) setTheme(mq.matches ? "dark" : "light");
    };
    mq.addEventListener("change", follow);
    return () => mq.removeEventListener("change", follow);
  }, []);

  const toggle = useCallback(() => {
    setTheme((t) => {
      const next = t === "dark" ? "light" : "dark";
      localStorage.setItem(KEY, next);
      return next;
    });
  }, []);

  return [theme, toggle];
}
