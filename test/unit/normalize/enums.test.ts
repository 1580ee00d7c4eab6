import { describe, expect, it } from 'vitest';
import { ENUM_STYLES, ENUM_TABLES, formatEnum, parseEnum, type EnumName } from '../../../src/normalize/enums.js';
import { InvalidRecord } from '../../../src/normalize/invalid-record.js';

function rejection(produce: () => unknown): InvalidRecord {
  try {
    produce();
  } catch (error) {
    if (error instanceof InvalidRecord) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('parseEnum', () => {
  it('reads names in any case', () => {
    for (const text of ['GateApproval', 'gateApproval', 'gateapproval', 'GATEAPPROVAL', ' GateApproval ']) {
      expect(parseEnum('stepKind', text, 'kind'), text).toBe(2);
    }
    expect(parseEnum('stepStatus', 'failed', 'status')).toBe(3);
    expect(parseEnum('stepStatus', 'SUCCEEDED', 'status')).toBe(2);
    expect(parseEnum('approvalStatus', 'APPROVED', 'status')).toBe(1);
  });

  it('reads numbers in declaration order, and digit strings', () => {
    const tables: Record<EnumName, string[]> = {
      stepStatus: ['Pending', 'Running', 'Succeeded', 'Failed', 'Skipped'],
      stepKind: ['Unknown', 'Run', 'GateApproval', 'GatePolicy', 'Parallel', 'Map', 'Loop', 'Conditional'],
      approvalStatus: ['Pending', 'Approved', 'Rejected', 'Expired'],
    };
    expect(ENUM_TABLES).toEqual(tables);
    for (const [table, names] of Object.entries(tables) as Array<[EnumName, string[]]>) {
      names.forEach((name, ordinal) => {
        expect(parseEnum(table, ordinal, 'f')).toBe(ordinal);
        expect(parseEnum(table, String(ordinal), 'f')).toBe(ordinal);
        expect(parseEnum(table, name, 'f')).toBe(ordinal);
      });
    }
  });

  it('rejects an unknown number or name as unknown-enum, quoting the value', () => {
    const number = rejection(() => parseEnum('stepStatus', 9, 'steps[1].status'));
    expect(number.reason).toBe('unknown-enum');
    expect(number.message).toContain('"steps[1].status"');
    expect(number.message).toContain('9');
    expect(number.message).toContain('succeeded (2)');

    const name = rejection(() => parseEnum('approvalStatus', 'Escalated', 'status'));
    expect(name.reason).toBe('unknown-enum');
    expect(name.message).toContain('"Escalated"');

    for (const value of [-1, 8, 2.5, Number.NaN, '8', '', 'Gate Approval', true, {}, []]) {
      expect(rejection(() => parseEnum('stepKind', value, 'kind')).reason, JSON.stringify(value)).toBe('unknown-enum');
    }
  });

  it('treats a missing or null value as a missing field', () => {
    expect(rejection(() => parseEnum('stepKind', undefined, 'kind')).reason).toBe('missing-field');
    expect(rejection(() => parseEnum('stepKind', null, 'kind')).reason).toBe('missing-field');
  });
});

describe('formatEnum', () => {
  it('writes the three output styles', () => {
    expect(ENUM_STYLES).toEqual(['camel', 'pascal', 'number']);
    expect(formatEnum('stepKind', 2, 'camel')).toBe('gateApproval');
    expect(formatEnum('stepKind', 2, 'pascal')).toBe('GateApproval');
    expect(formatEnum('stepKind', 2, 'number')).toBe(2);
    expect(formatEnum('stepStatus', 2, 'camel')).toBe('succeeded');
    expect(formatEnum('approvalStatus', 1, 'camel')).toBe('approved');
    expect(formatEnum('stepKind', 3, 'camel')).toBe('gatePolicy');
  });

  it('round-trips every name through every style', () => {
    for (const table of Object.keys(ENUM_TABLES) as EnumName[]) {
      ENUM_TABLES[table].forEach((_name, ordinal) => {
        for (const style of ENUM_STYLES) {
          expect(parseEnum(table, formatEnum(table, ordinal, style), 'f')).toBe(ordinal);
        }
      });
    }
  });

  it('refuses an ordinal outside the table (a bug, not a record problem)', () => {
    expect(() => formatEnum('approvalStatus', 4, 'camel')).toThrow(RangeError);
  });
});
