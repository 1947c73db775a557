/**
 * One spelling per decimal number, so SQLite's and PostgreSQL's texts of the same value compare
 * equal: no exponent, no leading or trailing zeros ("1e+21", "1000000000000000000000.0" ->
 * "1000000000000000000000"; "1.5e-12" -> "0.0000000000015"). Exact: works on the digits.
 */
export function canonicalDecimal(text: string): string {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!match) return text.trim(); // NaN, Infinity: compared as they are
  const [, sign = '', whole = '', fraction = '', exponentText = '0'] = match;
  const digits = `${whole}${fraction}`;
  const point = whole.length + Number(exponentText);
  const padded =
    point < 0
      ? '0'.repeat(-point) + digits
      : point > digits.length
        ? digits + '0'.repeat(point - digits.length)
        : digits;
  const at = Math.max(point, 0);
  const intPart = padded.slice(0, at).replace(/^0+/, '') || '0';
  const fracPart = padded.slice(at).replace(/0+$/, '');
  const body = fracPart ? `${intPart}.${fracPart}` : intPart;
  return sign === '-' && body !== '0' ? `-${body}` : body;
}
