/**
 * Masks the user-info part (user and password) of every URL in a text, whatever the URL's shape:
 * a malformed port, an unencoded `@` or `/` in the password, or no `//` at all. Over-masking a
 * weird URL is fine; showing a password never is.
 */
export function maskUrlCredentials(text: string): string {
  // scheme://anything-up-to-the-last-@-of-the-token@host..., where a list (`a://..,b://..`) is several tokens.
  const withSlashes = text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)(?:(?!,[a-z][a-z0-9+.-]*:\/\/)[^\s"'<>])*@/gi, '$1***@');
  // scheme:user:password@host (no slashes), as a token of its own: everything between the scheme and the last @.
  return withSlashes.replace(
    /(^|[\s"'(=])([a-z][a-z0-9+.-]*:)(?!\/\/)([^\s"'<>]*)@/gi,
    (whole, before, scheme, info) => (String(info).includes('://') ? String(whole) : `${before}${scheme}***@`),
  );
}
