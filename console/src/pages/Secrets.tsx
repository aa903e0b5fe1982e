// Placeholder while the Secrets page is being built (replaced in this change).
export function Secrets(_props: { sub?: string | undefined }) {
  return <h1 tabIndex={-1}>Secrets</h1>;
}
