// Placeholder while the Privacy page is being built (replaced in this change).
export function Privacy(_props: { sub?: string | undefined }) {
  return <h1 tabIndex={-1}>Privacy</h1>;
}
