import { describe, expect, it } from 'vitest';
import { NUMERIC_LIMITS, checkedSetting, validateLeaseTtlMs, validateLeaseTtlSeconds, type NumericSetting } from '../../../src/config/limits.js';
import { UsageError } from '../../../src/errors.js';

function usageMessage(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('expected a usage error');
}

describe('checkedSetting', () => {
  it('refuses what is not one whole number in range, naming the flag and the range on one line', () => {
    for (const setting of Object.keys(NUMERIC_LIMITS) as NumericSetting[]) {
      const { flag, min, max } = NUMERIC_LIMITS[setting];
      for (const bad of [1e300, -1, 0, 0.5, Number.NaN, Number.POSITIVE_INFINITY, max + 1, min - 1, [1, 2], '12abc', '', '1e3', null, true, {}]) {
        if (bad === 0 && min === 0) continue;
        const message = usageMessage(() => checkedSetting(setting, bad));
        // eslint-disable-next-line @typescript-eslint/no-base-to-string -- only the assertion's label: [object Object] names {} well enough
        expect(message, `${setting} ${String(bad)}`).toContain(`--${flag}`);
        expect(message).toContain(min.toLocaleString('en-US'));
        expect(message).toContain(max.toLocaleString('en-US'));
        expect(message).not.toMatch(/\n/);
      }
      expect(checkedSetting(setting, min)).toBe(min);
      expect(checkedSetting(setting, max)).toBe(max);
      expect(checkedSetting(setting, String(max))).toBe(max); // config files may quote numbers
    }
  });

  it('says how a flag given twice went wrong', () => {
    expect(usageMessage(() => checkedSetting('batchSize', [1, 2]))).toMatch(/2 values: 1, 2; give it once/);
  });

  it('keeps every timer and date computed from a valid lease lifetime in range', () => {
    const { max } = NUMERIC_LIMITS.leaseTtlSeconds;
    // setInterval's limit (2^31 - 1 ms) for the renewal at a third of the lifetime, and a real date.
    expect((validateLeaseTtlSeconds(max) * 1000) / 3).toBeLessThan(2 ** 31 - 1);
    expect(new Date(Date.now() + validateLeaseTtlSeconds(max) * 1000).getTime()).toBeGreaterThan(Date.now());
    expect(() => validateLeaseTtlSeconds(10_000_000)).toThrow(/5 to 86,400 seconds/);
    expect(() => validateLeaseTtlSeconds(1e300)).toThrow(UsageError);
    expect(() => validateLeaseTtlSeconds(4)).toThrow(UsageError);
  });

  it('checks the API lifetime in milliseconds with the same range', () => {
    expect(validateLeaseTtlMs(5_000)).toBe(5_000);
    expect(validateLeaseTtlMs(86_400_000)).toBe(86_400_000);
    for (const bad of [4_999, 86_400_001, 1e300, Number.NaN, 6_000.5, '60000']) expect(() => validateLeaseTtlMs(bad)).toThrow(/leaseTtlMs must be one whole number from 5,000 to 86,400,000/);
  });

  it('keeps the retention within what MongoDB stores as expireAfterSeconds (32-bit)', () => {
    expect(NUMERIC_LIMITS.logsRetentionDays.max * 86_400).toBeLessThanOrEqual(2 ** 31 - 1);
    expect((NUMERIC_LIMITS.logsRetentionDays.max + 1) * 86_400).toBeGreaterThan(2 ** 31 - 1);
  });
});
