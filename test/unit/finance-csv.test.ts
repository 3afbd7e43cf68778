/** Money as people read it: exact decimals both ways, RFC 4180 fields, formula guard. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { csvField, csvLine, microsToDecimal, Money } from '../../src/http/csv.ts';
import { decimalToMillionths } from '../../src/http/admin/statement.ts';

describe('money decimals', () => {
  it('micro-USD → decimal → micro-USD is the identity, never with an exponent', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger().filter((n) => n >= -Number.MAX_SAFE_INTEGER), (m) => {
        const text = microsToDecimal(m);
        expect(text).toMatch(/^-?\d+(\.\d{1,6})?$/);
        expect(decimalToMillionths(text)).toBe(BigInt(m));
      }),
    );
    expect([microsToDecimal(1), microsToDecimal(-630_000), microsToDecimal(1_000_000), microsToDecimal(0)]).toEqual(['0.000001', '-0.63', '1', '0']);
  });

  it('reads plain decimals only, rounding past the sixth place half away from zero', () => {
    expect(decimalToMillionths('0.0000005')).toBe(1n);
    expect(decimalToMillionths('-0.0000005')).toBe(-1n);
    expect(decimalToMillionths('12.3456784')).toBe(12_345_678n);
    expect(decimalToMillionths('+7')).toBe(7_000_000n);
    for (const bad of ['1e-3', '1,000.00', '$5', '', '.5', '5.', 'NaN', '0x10']) expect(decimalToMillionths(bad), bad).toBeNull();
  });
});

describe('CSV fields', () => {
  it('guards text that a spreadsheet would run, never money', () => {
    expect(csvField('=SUM(A1)')).toBe("'=SUM(A1)");
    expect(csvField('@cmd')).toBe("'@cmd");
    expect(csvField('-2+3')).toBe("'-2+3");
    expect(csvField(new Money(-500_000))).toBe('-0.5');
    expect(csvField(-3)).toBe('-3');
  });

  it('round-trips any text through a standard CSV parser', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 5 }), (fields) => {
        const [row] = parse(csvLine(fields)) as string[][];
        expect(row).toEqual(fields.map((f) => (/^[=+\-@\t\r]/.test(f) ? `'${f}` : f)));
      }),
    );
  });
});
