// Placeholder while the Gates page is being built (replaced in this change).
export function Gates(_props: { sub?: string | undefined }) {
  return <h1 tabIndex={-1}>Gates</h1>;
}
