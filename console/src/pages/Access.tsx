// Placeholder while the Access page is being built (replaced in this change).
export function Access(_props: { sub?: string | undefined }) {
  return <h1 tabIndex={-1}>Access</h1>;
}
