// Placeholder while the Edge page is being built (replaced in this change).
export function Edge(_props: { sub?: string | undefined }) {
  return <h1 tabIndex={-1}>Edge</h1>;
}
